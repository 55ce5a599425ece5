/* The messages of Trustee's KBS attestation protocol (kbs/docs/
 * kbs_attestation_protocol.md), version 0.1.1 as issue 11 pins it, and
 * version 0.4.0 that Trustee's KBS speaks today (see below):
 *
 *   POST /kbs/v0/auth    Request   {"version","tee","extra-params"}
 *                        Challenge {"nonce","extra-params"}  + cookie kbs-session-id
 *   POST /kbs/v0/attest  Attestation {"runtime-data":{"nonce","tee-pubkey"},
 *                                     "tee-evidence", "init-data"?:{"format","body"}}
 *                        -> {"token"}
 *   GET  /kbs/v0/resource/<repo>/<type>/<tag>  -> flattened JWE (jose.h)
 *   errors: {"type": ".../errors/<Kind>", "detail"} with 401, 403 or 404
 *
 * REPORT_DATA is SHA-384 of the canonical JSON of runtime-data, zero-padded
 * to 64 bytes (guest-components' kbs_protocol and Trustee's verifiers).
 *
 * 0.4.0 differs only in "tee-evidence", a composite {"primary_evidence": the
 * TEE's evidence, "additional_evidence": a JSON string of device evidence},
 * and in what REPORT_DATA hashes: runtime-data plus "additional-evidence"
 * (that string). veil sends and accepts no device evidence (""). 
 * Every parser here takes untrusted bytes: members, types and sizes are
 * checked, unknown members refused. */
#ifndef VEIL_ATTEST_KBS_PROTO_H
#define VEIL_ATTEST_KBS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "attest/evidence.h"
#include "attest/jose.h"
#include "lib/error.h"

/* Protocol versions: zero is 0.1.1, the default. */
enum veil_kbs_version { VEIL_KBS_V0_1_1 = 0, VEIL_KBS_V0_4_0 };
const char *veil_kbs_version_name(enum veil_kbs_version v); /* "0.1.1", "0.4.0" */
#define VEIL_KBS_ERROR_TYPE_PREFIX "https://github.com/confidential-containers/kbs/errors/"
#define VEIL_KBS_COOKIE "kbs-session-id"
#define VEIL_KBS_NONCE_BYTES 32
#define VEIL_KBS_NONCE_MAX 128          /* characters of a nonce we accept */
#define VEIL_KBS_MAX_REQUEST 4096       /* bytes of a Request or Challenge */
#define VEIL_KBS_MAX_ATTESTATION (1u << 20)
#define VEIL_KBS_MAX_TOKEN (64u << 10)
#define VEIL_SNP_EVIDENCE_MAX_CERT (16u << 10)
#define VEIL_TDX_QUOTE_MAX (64u << 10)

/* The "tee" of a Request. Emulated evidence travels as "snp": the KBS tells
 * it apart by the root its certificate chain ends in. */
enum veil_kbs_tee { VEIL_KBS_TEE_SNP = 1, VEIL_KBS_TEE_TDX };
const char *veil_kbs_tee_name(enum veil_kbs_tee tee); /* "snp", "tdx" */

char *veil_kbs_request_build(enum veil_kbs_tee tee, enum veil_kbs_version version);
/* Checks version (exactly 0.1.1 or 0.4.0) and tee. */
int veil_kbs_request_parse(const char *body, size_t len, enum veil_kbs_tee *tee, enum veil_kbs_version *version,
			   veil_err_t *err);

/* A VM's tenancy history (docs/confidential.md, "Cache, templates and
 * reset"): veil's guest binds it into REPORT_DATA as the runtime-data member
 * "tenancy" when the Challenge's extra-params is VEIL_KBS_TENANCY_PARAM, as
 * veil-kbs's is. Trustee's KBS never asks and gets runtime-data as its
 * protocol defines it; a host that strips the request gets a guest that
 * sends no tenancy, which a policy demanding one refuses. */
#define VEIL_KBS_TENANCY_PARAM "veil-tenancy-v1"
#define VEIL_TENANCY_MAX 1000000u

struct veil_tenancy {
	uint32_t tenants;     /* tenancies the VM served before this one, each ended by a Scrub */
	uint32_t scrubbed;    /* of those, how many a complete scrub ended (nothing left) */
	uint32_t containers;  /* containers created in this tenancy before the one attesting */
	uint8_t history[48];  /* SHA-384 chain over the VM's tenancy events since its boot */
};

/* extra-params is VEIL_KBS_TENANCY_PARAM: veil-kbs wants the tenancy. */
char *veil_kbs_challenge_build(const char *nonce);
/* *wants_tenancy (may be NULL): the Challenge asks for it. */
int veil_kbs_challenge_parse(const char *body, size_t len, char nonce[VEIL_KBS_NONCE_MAX + 1], bool *wants_tenancy,
			     veil_err_t *err);

/* REPORT_DATA for runtime-data {nonce, tee-pubkey} (0.4.0: and
 * "additional-evidence": ""), and "tenancy" if tenancy is not NULL. */
int veil_kbs_report_data(enum veil_kbs_version version, const char *nonce, json_object *tee_pubkey,
			 const struct veil_tenancy *tenancy, uint8_t report_data[64], veil_err_t *err);

struct veil_kbs_attestation {
	json_object *doc;                /* owns everything below but key */
	const char *nonce;
	json_object *tee_pubkey;
	EVP_PKEY *key;                   /* parsed tee-pubkey */
	enum veil_jwe_alg alg;
	uint8_t report_data[64];         /* what the evidence must carry */
	json_object *evidence;           /* 0.4.0: the primary evidence */
	const char *init_data;           /* TOML, or NULL when absent */
	size_t init_data_len;
	bool has_tenancy;                /* runtime-data carried "tenancy" */
	struct veil_tenancy tenancy;
};
int veil_kbs_attestation_parse(enum veil_kbs_version version, const char *body, size_t len,
			       struct veil_kbs_attestation *att, veil_err_t *err);
void veil_kbs_attestation_free(struct veil_kbs_attestation *att);
/* init_data and tenancy may be NULL. Takes a reference to neither json argument. */
char *veil_kbs_attestation_build(enum veil_kbs_version version, const char *nonce, json_object *tee_pubkey,
				 const struct veil_tenancy *tenancy, json_object *evidence, const char *init_data,
				 size_t init_data_len, veil_err_t *err);

/* SNP (and emulated) evidence as Trustee's SNP verifier reads it:
 * {"attestation_report": the report in virtee/sev's serde form (snp_json.h),
 *  "cert_chain": [{"cert_type": "VCEK", "data": [DER bytes]}]} (sev's
 * CertTableEntry list; ARK and ASK entries are allowed and ignored: the KBS
 * uses its configured anchors). */
json_object *veil_kbs_snp_evidence_build(const uint8_t *report, size_t report_len, const uint8_t *vcek, size_t vcek_len,
					 veil_err_t *err);
int veil_kbs_snp_evidence_parse(json_object *ev, uint8_t report[VEIL_SNP_REPORT_SIZE], uint8_t **vcek,
				size_t *vcek_len, veil_err_t *err);
/* TDX evidence: {"quote": base64 of the quote} ("cc_eventlog" and
 * "aa_eventlog" may be present as strings or null and are ignored). */
json_object *veil_kbs_tdx_evidence_build(const uint8_t *quote, size_t len);
int veil_kbs_tdx_evidence_parse(json_object *ev, uint8_t **quote, size_t *len, veil_err_t *err);

/* A resource path, "repo/type/tag": three segments of [A-Za-z0-9._-], 1 to
 * 64 characters each, none "." or "..", none ending in ".tmp" (veil-kbs
 * stores resources under these names). */
int veil_kbs_resource_path_check(const char *path, veil_err_t *err);

char *veil_kbs_token_build(const char *token);
int veil_kbs_token_parse(const char *body, size_t len, char **token, veil_err_t *err);

/* Problem details: kind is the last path segment of "type". */
char *veil_kbs_error_build(const char *kind, const char *detail);
int veil_kbs_error_parse(const char *body, size_t len, char **kind, char **detail, veil_err_t *err);

#endif
