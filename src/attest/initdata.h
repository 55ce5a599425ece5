/* CoCo's init-data (Trustee kbs/docs/initdata.md, Kata's kata-types
 * initdata.rs): a TOML document
 *
 *     version = "0.1.0"
 *     algorithm = "sha256" | "sha384" | "sha512"
 *     [data]
 *     "aa.toml" = '''...'''
 *
 * whose digest is the chosen hash over the document's exact bytes, bound into
 * the evidence as SNP HOST_DATA (32 bytes) or TDX MRCONFIGID (48 bytes):
 * truncated when longer, zero-padded when shorter. Kata carries it in the
 * annotation io.katacontainers.config.hypervisor.cc_init_data as base64 of
 * gzip of the TOML. */
#ifndef VEIL_ATTEST_INITDATA_H
#define VEIL_ATTEST_INITDATA_H

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

#define VEIL_INITDATA_ANNOTATION "io.katacontainers.config.hypervisor.cc_init_data"
#define VEIL_INITDATA_VERSION "0.1.0"
#define VEIL_INITDATA_MAX (256u << 10)      /* bytes of TOML */
#define VEIL_INITDATA_MAX_DIGEST 64
#define VEIL_SNP_HOST_DATA_SIZE 32
#define VEIL_TDX_MRCONFIGID_SIZE 48

struct toml_table;

struct veil_initdata {
	char *text;          /* the TOML as received: the digest covers exactly these bytes */
	size_t len;
	const char *algorithm; /* "sha256", "sha384" or "sha512" */
	uint8_t digest[VEIL_INITDATA_MAX_DIGEST];
	size_t digest_len;
	struct toml_table *doc;
	const struct toml_table *data;
};

/* Parses and checks init-data: version 0.1.0, a supported algorithm, a
 * [data] table of strings, nothing else; computes the digest. */
int veil_initdata_parse(const char *toml, size_t len, struct veil_initdata *out, veil_err_t *err);
void veil_initdata_free(struct veil_initdata *d);
/* The [data] entry `name`, or NULL. */
const char *veil_initdata_get(const struct veil_initdata *d, const char *name);

/* The digest as a TEE field of field_len bytes (truncated or zero-padded). */
void veil_initdata_tee_field(const struct veil_initdata *d, uint8_t *field, size_t field_len);

/* Decodes Kata's annotation value (whitespace ignored, standard base64, one
 * gzip member, at most VEIL_INITDATA_MAX bytes inflated) into malloc'd TOML. */
int veil_initdata_from_annotation(const char *value, size_t len, char **toml, size_t *toml_len, veil_err_t *err);
/* Encodes TOML as that annotation value (gzip, then base64): malloc'd. */
char *veil_initdata_to_annotation(const char *toml, size_t len, veil_err_t *err);

#endif
