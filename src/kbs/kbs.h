/* veil-kbs: a key broker speaking Trustee's KBS protocol (attest/kbs_proto.h).
 *
 * The pieces, each in its own file:
 *   config.c   the daemon's configuration file (listen address, data
 *              directory, trust anchors, limits)
 *   policy.c   reference values and the resource policy (TOML, default deny)
 *   store.c    resources on disk: 0600 files, atomic writes
 *   session.c  the bounded, expiring table of RCAR sessions
 *   verify.c   evidence verification: verifier dispatch and every check
 *              that turns evidence into trusted claims, with its reason
 *   token.c    the attestation token (an ES256 JWT)
 *   handlers.c auth, attest and resource as pure functions of their input
 *   http.c     libmicrohttpd glue: limits, timeouts, cookies
 *   admin.c    the administration socket (0600, SO_PEERCRED) and its client
 *   main.c     the command line */
#ifndef VEIL_KBS_KBS_H
#define VEIL_KBS_KBS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "attest/evidence.h"
#include "attest/jose.h"
#include "attest/kbs_proto.h"
#include "lib/error.h"

#define KBS_DEFAULT_CONFIG "/etc/veil/kbs.toml"
#define KBS_MAX_RESOURCE (1u << 20)      /* bytes of one secret */
#define KBS_MAX_POLICY (256u << 10)      /* bytes of a policy or reference-values file */
#define KBS_MAX_ANCHORS 8

/* ---- configuration (config.c) ---- */

struct kbs_anchor_file {
	char *product;
	uint8_t *ark, *ask;
	size_t ark_len, ask_len;
};

struct kbs_config {
	char *listen_host;               /* numeric IPv4/IPv6 address */
	uint16_t port;
	char *data_dir;
	char *admin_socket;
	unsigned session_timeout;        /* seconds a session (and its token) lives */
	unsigned max_sessions;
	unsigned max_connections;
	unsigned connection_timeout;     /* seconds of client silence before a connection is dropped */
	struct kbs_anchor_file snp[KBS_MAX_ANCHORS]; /* real AMD roots, by product */
	size_t n_snp;
	struct kbs_anchor_file emulated; /* ark == NULL: emulated evidence is refused */
	uint8_t *tdx_root;
	size_t tdx_root_len;
};

int kbs_config_load(const char *path, struct kbs_config *cfg, veil_err_t *err);
void kbs_config_free(struct kbs_config *cfg);

/* ---- reference values and resource policy (policy.c) ---- */

struct kbs_digest_list {
	uint8_t (*items)[64];
	size_t *lens;
	size_t n;
	bool present;                    /* the key was in the file (an empty list denies all) */
};

/* Reference values for one kind of TEE ("snp", "tdx", "emulated"). */
struct kbs_reference {
	bool present;
	struct kbs_digest_list measurements;
	struct kbs_digest_list init_data;
	struct kbs_digest_list rtmr[4];  /* TDX only: runtime measurement registers */
	bool allow_debug;
};

/* What a rule demands of the VM's tenancy history (kbs_proto.h). */
enum kbs_vm_demand {
	KBS_VM_ANY,       /* no demand */
	KBS_VM_SCRUBBED,  /* every earlier tenant was followed by a complete scrub */
	KBS_VM_FRESH,     /* the VM never served another tenant */
};

struct kbs_rule {
	char *resource;                  /* "repo/type/tag", or "repo/type/" then "*" for any tag */
	bool tee[VEIL_TEE_EMULATED + 1]; /* indexed by enum veil_tee */
	struct kbs_digest_list measurements;
	struct kbs_digest_list init_data;
	enum kbs_vm_demand vm;
};

struct kbs_policy {
	struct kbs_reference reference[VEIL_TEE_EMULATED + 1];
	struct kbs_rule *rules;
	size_t n_rules;
};

/* What an attested guest is: the facts reference values and policy judge. */
struct kbs_claims {
	enum veil_tee tee;
	uint8_t measurement[48];
	uint8_t init_data[48];           /* HOST_DATA (32) or MRCONFIGID (48) */
	size_t init_data_len;
	uint8_t rtmr[4][48];             /* TDX RTMR0-3; zero for SNP */
	bool debug;
	bool has_tenancy;                /* runtime-data carried the VM's tenancy history */
	struct veil_tenancy tenancy;
};

int kbs_reference_parse(const char *text, size_t len, struct kbs_policy *policy, veil_err_t *err);
int kbs_rules_parse(const char *text, size_t len, struct kbs_policy *policy, veil_err_t *err);
void kbs_policy_free(struct kbs_policy *policy);
/* Attestation time: do the claims match the reference values? */
int kbs_reference_check(const struct kbs_policy *policy, const struct kbs_claims *claims, veil_err_t *err);
/* Resource time: may these claims read resource? Default deny. */
int kbs_policy_check(const struct kbs_policy *policy, const struct kbs_claims *claims, const char *resource,
		     veil_err_t *err);

/* ---- resources (store.c) ---- */

int kbs_store_init(const char *data_dir, veil_err_t *err);
int kbs_store_put(const char *data_dir, const char *name, const uint8_t *data, size_t len, veil_err_t *err);
/* Returns 1 with *data (malloc'd, to be cleansed), 0 if there is no such resource. */
int kbs_store_get(const char *data_dir, const char *name, uint8_t **data, size_t *len, veil_err_t *err);
int kbs_store_delete(const char *data_dir, const char *name, veil_err_t *err);
/* The policy files in data_dir: "reference-values.toml", "policy.toml". */
int kbs_store_put_file(const char *data_dir, const char *file, const char *text, size_t len, veil_err_t *err);
char *kbs_store_get_file(const char *data_dir, const char *file, size_t *len, veil_err_t *err);

/* ---- sessions (session.c) ---- */

#define KBS_SESSION_ID_LEN 32 /* hex characters */

struct kbs_session {
	char id[KBS_SESSION_ID_LEN + 1];
	enum veil_kbs_tee tee;
	enum veil_kbs_version version;
	char nonce[64];
	long long expires_ms;            /* CLOCK_MONOTONIC */
	bool attested;
	struct kbs_claims claims;
	EVP_PKEY *tee_key;               /* set once attested */
	enum veil_jwe_alg alg;
	char *token;
};

struct kbs_sessions {
	pthread_mutex_t lock;
	struct kbs_session *slots;
	size_t cap;
	unsigned ttl_ms;
};

int kbs_sessions_init(struct kbs_sessions *s, size_t cap, unsigned ttl_s, veil_err_t *err);
void kbs_sessions_free(struct kbs_sessions *s);
/* A new session with a fresh id and nonce: copies it out. Fails when full. */
int kbs_session_new(struct kbs_sessions *s, enum veil_kbs_tee tee, enum veil_kbs_version version,
		    struct kbs_session *out, veil_err_t *err);
/* Copies the live session `id` out (tee_key up-referenced, token duplicated):
 * 1 found, 0 absent or expired. Free the copy with kbs_session_release. */
int kbs_session_get(struct kbs_sessions *s, const char *id, struct kbs_session *out);
/* Marks `id` attested with these claims, key (reference taken) and token;
 * the nonce is spent. 0, or -1 if the session is gone or already attested. */
int kbs_session_attest(struct kbs_sessions *s, const char *id, const char *nonce, const struct kbs_claims *claims,
		       EVP_PKEY *key, enum veil_jwe_alg alg, const char *token, veil_err_t *err);
void kbs_session_release(struct kbs_session *copy);

/* ---- the broker ---- */

struct kbs {
	struct kbs_config cfg;
	struct veil_snp_anchor anchors[KBS_MAX_ANCHORS + 1];
	size_t n_anchors;
	pthread_rwlock_t policy_lock;
	struct kbs_policy policy;
	struct kbs_sessions sessions;
	EVP_PKEY *token_key;             /* ephemeral ES256 key for attestation tokens */
};

int kbs_init(struct kbs *kbs, const struct kbs_config *cfg, veil_err_t *err);
void kbs_free(struct kbs *kbs);
/* Re-reads reference values and policy from the data directory. */
int kbs_reload_policy(struct kbs *kbs, veil_err_t *err);

/* ---- verification (verify.c) ---- */

/* Verifies the Attestation's evidence for the session's TEE and every
 * binding: REPORT_DATA to nonce and tee-pubkey, init-data to HOST_DATA /
 * MRCONFIGID, reference values, debug. On failure the error names the
 * check with expected and actual values. */
int kbs_verify(struct kbs *kbs, enum veil_kbs_tee session_tee, const struct veil_kbs_attestation *att, struct kbs_claims *claims,
	       veil_err_t *err);

/* ---- token (token.c) ---- */

char *kbs_token_issue(EVP_PKEY *key, const struct kbs_claims *claims, json_object *tee_pubkey, unsigned ttl_s,
		      veil_err_t *err);

/* ---- handlers (handlers.c) ---- */

struct kbs_response {
	unsigned status;
	char *body;                      /* JSON, malloc'd */
	char set_cookie[KBS_SESSION_ID_LEN + 1]; /* "" for none */
};

void kbs_handle_auth(struct kbs *kbs, const char *body, size_t len, struct kbs_response *r);
void kbs_handle_attest(struct kbs *kbs, const char *cookie, const char *body, size_t len, struct kbs_response *r);
/* path is what follows "/kbs/v0/resource/". */
void kbs_handle_resource(struct kbs *kbs, const char *cookie, const char *path, struct kbs_response *r);
/* Any refusal: status with a problem-details body. */
void kbs_respond_error(struct kbs_response *r, unsigned status, const char *kind, const char *detail);
void kbs_response_free(struct kbs_response *r);

/* ---- HTTP (http.c) and administration (admin.c) ---- */

struct MHD_Daemon;
struct MHD_Daemon *kbs_http_start(struct kbs *kbs, veil_err_t *err);
void kbs_http_stop(struct MHD_Daemon *d);

int kbs_admin_listen(const char *path, veil_err_t *err);
/* Serves one admin connection on fd (peer already accepted). */
void kbs_admin_serve(struct kbs *kbs, int fd);
/* Client side: sends op with optional name and data, prints the answer's
 * data to stdout. */
int kbs_admin_call(const char *socket_path, const char *op, const char *name, const uint8_t *data, size_t len,
		   veil_err_t *err);

#endif
