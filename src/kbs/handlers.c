#include "kbs/kbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/utf8.h"

void kbs_respond_error(struct kbs_response *r, unsigned status, const char *kind, const char *detail)
{
	free(r->body);
	r->status = status;
	r->body = veil_kbs_error_build(kind, detail);
	r->set_cookie[0] = '\0';
}

void kbs_response_free(struct kbs_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Logs and answers a refusal; the error's message is the detail. */
static void refuse(struct kbs_response *r, unsigned status, const char *kind, const char *what, const char *session,
		   veil_err_t *err)
{
	if (err != NULL && *err != NULL)
		veil_utf8_sanitize((*err)->msg);
	const char *detail = err != NULL && *err != NULL ? (*err)->msg : "refused";
	log_warn("%s%s%.8s: refused (%u %s): %s", what, session ? " session " : "", session ? session : "", status, kind,
		 detail);
	kbs_respond_error(r, status, kind, detail);
	veil_error_free(err);
}

void kbs_handle_auth(struct kbs *kbs, const char *body, size_t len, struct kbs_response *r)
{
	veil_err_t err = NULL;
	enum veil_kbs_tee tee;
	enum veil_kbs_version version;
	struct kbs_session s;
	long long start = veil_now_us();
	memset(r, 0, sizeof(*r));
	if (veil_kbs_request_parse(body, len, &tee, &version, &err) < 0)
		return refuse(r, 401, "AttestationError", "auth", NULL, &err);
	if (kbs_session_new(&kbs->sessions, tee, version, &s, &err) < 0)
		return refuse(r, 503, "TooManySessions", "auth", NULL, &err);
	r->status = 200;
	r->body = veil_kbs_challenge_build(s.nonce);
	memcpy(r->set_cookie, s.id, sizeof(r->set_cookie));
	log_info("auth session %.8s: %s challenge issued, protocol %s (%lld us)", s.id, veil_kbs_tee_name(tee),
		 veil_kbs_version_name(version), veil_now_us() - start);
}

static int attest_session(struct kbs *kbs, const struct kbs_session *s, const char *body, size_t len, char **token,
			  struct kbs_claims *claims, veil_err_t *err)
{
	struct veil_kbs_attestation att;
	if (veil_kbs_attestation_parse(s->version, body, len, &att, err) < 0)
		return -1;
	int rc = 0;
	if (strcmp(att.nonce, s->nonce) != 0)
		rc = veil_fail_tagged(err, EPERM,
			       "runtime-data nonce \"%.64s\" is not this session's challenge \"%s\" (replayed or stale evidence)",
			       att.nonce, s->nonce);
	if (rc == 0)
		rc = kbs_verify(kbs, s->tee, &att, claims, err);
	if (rc == 0)
		*token = kbs_token_issue(kbs->token_key, claims, att.tee_pubkey, kbs->cfg.session_timeout, err);
	if (rc == 0 && *token == NULL)
		rc = -1;
	if (rc == 0)
		rc = kbs_session_attest(&kbs->sessions, s->id, s->nonce, claims, att.key, att.alg, *token, err);
	veil_kbs_attestation_free(&att);
	return rc;
}

void kbs_handle_attest(struct kbs *kbs, const char *cookie, const char *body, size_t len, struct kbs_response *r)
{
	veil_err_t err = NULL;
	memset(r, 0, sizeof(*r));
	__attribute__((cleanup(kbs_session_release))) struct kbs_session s = { 0 };
	if (cookie == NULL) {
		veil_fail(&err, 0, "no %s cookie: POST /kbs/v0/auth first", VEIL_KBS_COOKIE);
		return refuse(r, 401, "AttestationError", "attest", NULL, &err);
	}
	if (!kbs_session_get(&kbs->sessions, cookie, &s)) {
		veil_fail(&err, 0, "session not found or expired: POST /kbs/v0/auth again");
		return refuse(r, 401, "AttestationError", "attest", NULL, &err);
	}
	cleanup_free char *token = NULL;
	if (s.attested) {
		/* As Trustee: an attested session answers with its token again. */
		token = veil_steal_ptr(s.token);
	} else {
		struct kbs_claims claims;
		long long start = veil_now_us();
		if (attest_session(kbs, &s, body, len, &token, &claims, &err) < 0)
			return refuse(r, 401, "AttestationError", "attest", s.id, &err);
		char m[97], tenancy[128] = "no tenancy history";
		veil_hex_encode(claims.measurement, sizeof(claims.measurement), m);
		if (claims.has_tenancy)
			snprintf(tenancy, sizeof(tenancy), "tenancy: %u earlier tenant(s), %u scrubbed, %u container(s) since",
				 claims.tenancy.tenants, claims.tenancy.scrubbed, claims.tenancy.containers);
		log_info("attest session %.8s: %s guest attested, measurement %s, %s (%lld us)", s.id,
			 veil_tee_name(claims.tee), m, tenancy, veil_now_us() - start);
	}
	r->status = 200;
	r->body = veil_kbs_token_build(token);
	memcpy(r->set_cookie, s.id, sizeof(r->set_cookie));
}

void kbs_handle_resource(struct kbs *kbs, const char *cookie, const char *path, struct kbs_response *r)
{
	veil_err_t err = NULL;
	memset(r, 0, sizeof(*r));
	__attribute__((cleanup(kbs_session_release))) struct kbs_session s = { 0 };
	if (cookie == NULL || !kbs_session_get(&kbs->sessions, cookie, &s) || !s.attested) {
		veil_fail(&err, 0, "no attested session (%s): POST /kbs/v0/auth and /kbs/v0/attest first",
			  cookie == NULL ? "no kbs-session-id cookie" : "unknown, expired or unattested session");
		return refuse(r, 401, "TokenNotFound", "resource", NULL, &err);
	}
	if (veil_kbs_resource_path_check(path, &err) < 0)
		return refuse(r, 404, "InvalidRequestPath", "resource", s.id, &err);
	pthread_rwlock_rdlock(&kbs->policy_lock);
	int rc = kbs_policy_check(&kbs->policy, &s.claims, path, &err);
	pthread_rwlock_unlock(&kbs->policy_lock);
	if (rc < 0)
		return refuse(r, 403, "PolicyDeny", "resource", s.id, &err);
	long long start = veil_now_us();
	uint8_t *data = NULL;
	size_t len = 0;
	rc = kbs_store_get(kbs->cfg.data_dir, path, &data, &len, &err);
	if (rc == 0)
		veil_fail(&err, 0, "resource %s does not exist", path);
	if (rc <= 0)
		return refuse(r, rc == 0 ? 404 : 500, rc == 0 ? "ResourceNotFound" : "InternalError", "resource", s.id, &err);
	char *jwe = veil_jwe_encrypt(s.tee_key, s.alg, data, len, &err);
	OPENSSL_cleanse(data, len);
	free(data);
	if (jwe == NULL)
		return refuse(r, 500, "JweError", "resource", s.id, &err);
	log_info("resource session %.8s: %s released (%zu bytes, %s, %lld us)", s.id, path, len, veil_jwe_alg_name(s.alg),
		 veil_now_us() - start);
	r->status = 200;
	r->body = jwe;
	memcpy(r->set_cookie, s.id, sizeof(r->set_cookie));
}
