/* A KBS client for the guest: Trustee's RCAR protocol (kbs_proto.h) over
 * any byte stream (a transport: a connected socket, or the guest's TEE port
 * whose host relays to the KBS), with a minimal, bounded HTTP/1.1 of its own
 * (no libcurl: the agent is a static binary). The TEE key pair is made here and
 * never leaves the process; evidence comes from a callback, so that the guest
 * can ask /dev/sev-guest, configfs-tsm or the emulated port, and tests the
 * emulated chip directly. */
#ifndef VEIL_ATTEST_KBS_CLIENT_H
#define VEIL_ATTEST_KBS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "attest/jose.h"
#include "attest/kbs_proto.h"
#include "lib/error.h"

#define VEIL_KBS_HTTP_MAX_RESPONSE (2u << 20)
#define VEIL_KBS_HTTP_MAX_HEADERS (16u << 10)

/* The byte stream to the KBS. */
struct veil_kbs_transport {
	void *ctx;
	/* Sends all len bytes; fails after timeout_ms without progress. */
	int (*send)(void *ctx, const void *buf, size_t len, int timeout_ms, veil_err_t *err);
	/* Receives 1 to len bytes within timeout_ms; 0 when the peer has closed. */
	ssize_t (*recv)(void *ctx, void *buf, size_t len, int timeout_ms, veil_err_t *err);
};

/* A transport over a connected fd (TCP, a socketpair); fd must outlive it. */
struct veil_kbs_transport veil_kbs_fd_transport(int *fd);

/* Fills *evidence (a new reference) with evidence whose REPORT_DATA is
 * report_data, in the JSON form for the TEE (kbs_proto.h). */
typedef int (*veil_kbs_evidence_fn)(void *ctx, const uint8_t report_data[64], json_object **evidence, veil_err_t *err);

struct veil_kbs_client_opts {
	enum veil_kbs_tee tee;
	enum veil_kbs_version version; /* 0.1.1 unless set; Trustee's KBS today wants 0.4.0 */
	enum veil_jwe_alg alg;        /* of the TEE key; 0 means ECDH-ES+A256KW */
	const char *host;             /* for the Host header, e.g. "kbs.example:8080" */
	const char *init_data;        /* TOML sent as init-data, or NULL */
	size_t init_data_len;
	veil_kbs_evidence_fn evidence;
	void *evidence_ctx;
	/* The VM's tenancy history, bound into REPORT_DATA when the KBS asks
	 * for it (VEIL_KBS_TENANCY_PARAM), or NULL to send none. */
	const struct veil_tenancy *tenancy;
	/* Resources (repo/type/tag) to request right behind the attestation, in
	 * the same round trip (HTTP/1.1 pipelining); veil_kbs_client_get_resource
	 * then takes their answers. The strings must outlive the client. */
	const char *const *prefetch;
	size_t n_prefetch;
	int timeout_ms;               /* per read or write; 0 means 30 s */
};

struct veil_kbs_client;

/* Runs auth and attest over t (which must outlive the client). On a
 * refusal the error carries the KBS's reason: "KBS refused attest (401
 * AttestationError): DETAIL". */
int veil_kbs_client_attest(const struct veil_kbs_transport *t, const struct veil_kbs_client_opts *opts,
			   struct veil_kbs_client **client, veil_err_t *err);
/* GETs /kbs/v0/resource/PATH and decrypts it with the TEE key: *data is
 * malloc'd (NUL-terminated), to be cleansed by the caller. */
int veil_kbs_client_get_resource(struct veil_kbs_client *c, const char *path, uint8_t **data, size_t *len,
				 veil_err_t *err);
/* The attestation token the KBS issued. */
const char *veil_kbs_client_token(const struct veil_kbs_client *c);
void veil_kbs_client_free(struct veil_kbs_client *c);

/* One HTTP/1.1 exchange over t (keep-alive): body may be NULL for none.
 * cookie (or NULL) is sent as kbs-session-id; a Set-Cookie of it in the
 * answer is copied to set_cookie (if not NULL, up to 128 bytes). */
struct veil_kbs_http_reply {
	unsigned status;
	char *body;                   /* NUL-terminated, malloc'd */
	size_t len;
	char set_cookie[129];
};
int veil_kbs_http(const struct veil_kbs_transport *t, const char *method, const char *host, const char *path, const char *cookie, const char *body,
		  size_t body_len, int timeout_ms, struct veil_kbs_http_reply *reply, veil_err_t *err);
void veil_kbs_http_reply_free(struct veil_kbs_http_reply *reply);

#endif
