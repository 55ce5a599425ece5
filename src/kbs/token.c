#include "kbs/kbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>

#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/hex.h"
#include "lib/json.h"

/* ES256 over "header.claims": the raw r || s form JWS wants (RFC 7518 3.4). */
static char *sign_es256(EVP_PKEY *key, const char *input, veil_err_t *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t der[128];
	size_t der_len = sizeof(der);
	int ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		 EVP_DigestSign(md, der, &der_len, (const uint8_t *)input, strlen(input)) == 1;
	EVP_MD_CTX_free(md);
	const uint8_t *p = der;
	ECDSA_SIG *sig = ok ? d2i_ECDSA_SIG(NULL, &p, (long)der_len) : NULL;
	uint8_t raw[64];
	if (sig == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32) {
		ECDSA_SIG_free(sig);
		veil_fail(err, 0, "signing the attestation token failed");
		return NULL;
	}
	ECDSA_SIG_free(sig);
	return veil_b64_encode(VEIL_B64_URL, raw, sizeof(raw));
}

static char *b64_json(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return veil_b64_encode(VEIL_B64_URL, (const uint8_t *)s, strlen(s));
}

static void add_hex(json_object *o, const char *key, const uint8_t *b, size_t n)
{
	char hex[129];
	veil_hex_encode(b, n, hex);
	json_object_object_add(o, key, json_object_new_string(hex));
}

char *kbs_token_issue(EVP_PKEY *key, const struct kbs_claims *c, json_object *tee_pubkey, unsigned ttl_s,
		      veil_err_t *err)
{
	cleanup_json json_object *header = json_object_new_object();
	cleanup_json json_object *claims = json_object_new_object();
	json_object_object_add(header, "alg", json_object_new_string("ES256"));
	json_object_object_add(header, "typ", json_object_new_string("JWT"));
	time_t now = time(NULL);
	json_object_object_add(claims, "iss", json_object_new_string("veil-kbs"));
	json_object_object_add(claims, "iat", json_object_new_int64((int64_t)now));
	json_object_object_add(claims, "exp", json_object_new_int64((int64_t)now + ttl_s));
	json_object_object_add(claims, "tee", json_object_new_string(veil_tee_name(c->tee)));
	add_hex(claims, "measurement", c->measurement, sizeof(c->measurement));
	add_hex(claims, "init_data", c->init_data, c->init_data_len);
	json_object_object_add(claims, "debug", json_object_new_boolean(c->debug));
	json_object_object_add(claims, "tee-pubkey", json_object_get(tee_pubkey));
	if (c->has_tenancy) {
		json_object *t = json_object_new_object();
		json_object_object_add(t, "tenants", json_object_new_int64(c->tenancy.tenants));
		json_object_object_add(t, "scrubbed", json_object_new_int64(c->tenancy.scrubbed));
		json_object_object_add(t, "containers", json_object_new_int64(c->tenancy.containers));
		add_hex(t, "history", c->tenancy.history, sizeof(c->tenancy.history));
		json_object_object_add(claims, "tenancy", t);
	}
	cleanup_free char *h = b64_json(header);
	cleanup_free char *b = b64_json(claims);
	if (h == NULL || b == NULL) {
		veil_fail(err, ENOMEM, "attestation token");
		return NULL;
	}
	size_t n = strlen(h) + 1 + strlen(b);
	cleanup_free char *input = malloc(n + 1);
	if (input == NULL) {
		veil_fail(err, ENOMEM, "attestation token");
		return NULL;
	}
	snprintf(input, n + 1, "%s.%s", h, b);
	cleanup_free char *sig = sign_es256(key, input, err);
	if (sig == NULL)
		return NULL;
	char *token = malloc(n + 1 + strlen(sig) + 1);
	if (token == NULL) {
		veil_fail(err, ENOMEM, "attestation token");
		return NULL;
	}
	sprintf(token, "%s.%s", input, sig);
	return token;
}
