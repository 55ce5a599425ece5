/* The messages of Trustee's KBS attestation protocol (kbs/docs/
 * kbs_attestation_protocol.md), version 0.1.1 as issue 11 pins it:
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
 * Every parser here takes untrusted bytes: members, types and sizes are
 * checked, unknown members refused. */
#ifndef VEIL_ATTEST_KBS_PROTO_H
#define VEIL_ATTEST_KBS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "attest/jose.h"
#include "lib/error.h"

#define VEIL_KBS_PROTOCOL_VERSION "0.1.1"
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

char *veil_kbs_request_build(enum veil_kbs_tee tee);
/* Checks version (exactly VEIL_KBS_PROTOCOL_VERSION) and tee. */
int veil_kbs_request_parse(const char *body, size_t len, enum veil_kbs_tee *tee, veil_err_t *err);

char *veil_kbs_challenge_build(const char *nonce);
int veil_kbs_challenge_parse(const char *body, size_t len, char nonce[VEIL_KBS_NONCE_MAX + 1], veil_err_t *err);

/* REPORT_DATA for runtime-data {nonce, tee-pubkey}. */
int veil_kbs_report_data(const char *nonce, json_object *tee_pubkey, uint8_t report_data[64], veil_err_t *err);

struct veil_kbs_attestation {
	json_object *doc;                /* owns everything below but key */
	const char *nonce;
	json_object *tee_pubkey;
	EVP_PKEY *key;                   /* parsed tee-pubkey */
	enum veil_jwe_alg alg;
	uint8_t report_data[64];         /* what the evidence must carry */
	json_object *evidence;
	const char *init_data;           /* TOML, or NULL when absent */
	size_t init_data_len;
};
int veil_kbs_attestation_parse(const char *body, size_t len, struct veil_kbs_attestation *att, veil_err_t *err);
void veil_kbs_attestation_free(struct veil_kbs_attestation *att);
/* init_data may be NULL. Takes a reference to neither json argument. */
char *veil_kbs_attestation_build(const char *nonce, json_object *tee_pubkey, json_object *evidence,
				 const char *init_data, size_t init_data_len, veil_err_t *err);

/* SNP (and emulated) evidence: {"attestation_report": base64 of the 1184
 * report bytes, "cert_chain": [{"cert_type": "VCEK", "data": [DER bytes]}]}
 * (cert_chain as Trustee's sev CertTableEntry list; ARK/ASK entries are
 * allowed and ignored: the KBS uses its configured anchors). */
json_object *veil_kbs_snp_evidence_build(const uint8_t *report, size_t report_len, const uint8_t *vcek, size_t vcek_len);
int veil_kbs_snp_evidence_parse(json_object *ev, uint8_t **report, size_t *report_len, uint8_t **vcek,
				size_t *vcek_len, veil_err_t *err);
/* TDX evidence: {"quote": base64 of the quote} ("cc_eventlog" and
 * "aa_eventlog" may be present as strings or null and are ignored). */
json_object *veil_kbs_tdx_evidence_build(const uint8_t *quote, size_t len);
int veil_kbs_tdx_evidence_parse(json_object *ev, uint8_t **quote, size_t *len, veil_err_t *err);

char *veil_kbs_token_build(const char *token);
int veil_kbs_token_parse(const char *body, size_t len, char **token, veil_err_t *err);

/* Problem details: kind is the last path segment of "type". */
char *veil_kbs_error_build(const char *kind, const char *detail);
int veil_kbs_error_parse(const char *body, size_t len, char **kind, char **detail, veil_err_t *err);

#endif
