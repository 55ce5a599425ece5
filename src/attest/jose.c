#include "attest/jose.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/json.h"

#define P256_COORD 32
#define CEK_LEN 32
#define WRAPPED_CEK_LEN (CEK_LEN + 8)
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16
#define ENC_A256GCM "A256GCM"

static void pkey_freep(EVP_PKEY **k)
{
	EVP_PKEY_free(*k);
}
static void pkey_ctx_freep(EVP_PKEY_CTX **c)
{
	EVP_PKEY_CTX_free(*c);
}
static void cipher_ctx_freep(EVP_CIPHER_CTX **c)
{
	EVP_CIPHER_CTX_free(*c);
}
static void bn_freep(BIGNUM **b)
{
	BN_free(*b);
}
#define cleanup_pkey __attribute__((cleanup(pkey_freep)))
#define cleanup_pkey_ctx __attribute__((cleanup(pkey_ctx_freep)))
#define cleanup_cipher_ctx __attribute__((cleanup(cipher_ctx_freep)))
#define cleanup_bn __attribute__((cleanup(bn_freep)))

/* Fails with the reason OpenSSL queued, if any. */
static int fail_ssl(veil_err_t *err, const char *what)
{
	unsigned long e = ERR_get_error();
	ERR_clear_error();
	if (e == 0)
		return veil_fail(err, 0, "%s failed", what);
	char buf[256];
	ERR_error_string_n(e, buf, sizeof(buf));
	return veil_fail(err, 0, "%s failed: %s", what, buf);
}

const char *veil_jwe_alg_name(enum veil_jwe_alg alg)
{
	return alg == VEIL_JWE_RSA_OAEP_256 ? "RSA-OAEP-256" : "ECDH-ES+A256KW";
}

EVP_PKEY *veil_jose_generate_key(enum veil_jwe_alg alg, veil_err_t *err)
{
	EVP_PKEY *k = alg == VEIL_JWE_RSA_OAEP_256 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072)
						   : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k == NULL)
		fail_ssl(err, "TEE key generation");
	return k;
}

/* ---- JWK ---- */

static int add_b64url(json_object *o, const char *key, const uint8_t *data, size_t len, veil_err_t *err)
{
	char *s = veil_b64_encode(VEIL_B64_URL, data, len);
	if (s == NULL)
		return veil_fail(err, ENOMEM, "JWK");
	json_object_object_add(o, key, json_object_new_string(s));
	free(s);
	return 0;
}

static bool is_p256(EVP_PKEY *key)
{
	char group[32];
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

/* The EC members of a P-256 public key, into o. */
static int add_ec_point(json_object *o, EVP_PKEY *key, veil_err_t *err)
{
	uint8_t pt[1 + 2 * P256_COORD];
	size_t len = 0;
	if (!is_p256(key))
		return veil_fail(err, 0, "JWK: the key is not on P-256");
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &len) != 1 ||
	    len != sizeof(pt) || pt[0] != 0x04)
		return fail_ssl(err, "JWK: exporting the EC point");
	json_object_object_add(o, "kty", json_object_new_string("EC"));
	json_object_object_add(o, "crv", json_object_new_string("P-256"));
	if (add_b64url(o, "x", pt + 1, P256_COORD, err) < 0 || add_b64url(o, "y", pt + 1 + P256_COORD, P256_COORD, err) < 0)
		return -1;
	return 0;
}

static int add_bn(json_object *o, const char *key, EVP_PKEY *pkey, const char *param, veil_err_t *err)
{
	cleanup_bn BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return fail_ssl(err, "JWK: exporting the RSA key");
	int n = BN_num_bytes(bn);
	uint8_t *buf = malloc((size_t)n + 1);
	if (buf == NULL)
		return veil_fail(err, ENOMEM, "JWK");
	BN_bn2bin(bn, buf);
	int rc = add_b64url(o, key, buf, (size_t)n, err);
	free(buf);
	return rc;
}

json_object *veil_jwk_from_key(EVP_PKEY *key, enum veil_jwe_alg alg, veil_err_t *err)
{
	json_object *o = json_object_new_object();
	if (o == NULL) {
		veil_fail(err, ENOMEM, "JWK");
		return NULL;
	}
	int rc;
	if (alg == VEIL_JWE_ECDH_ES_A256KW) {
		rc = add_ec_point(o, key, err);
	} else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		rc = veil_fail(err, 0, "JWK: RSA-OAEP-256 needs an RSA key");
	} else {
		json_object_object_add(o, "kty", json_object_new_string("RSA"));
		rc = add_bn(o, "n", key, OSSL_PKEY_PARAM_RSA_N, err);
		if (rc == 0)
			rc = add_bn(o, "e", key, OSSL_PKEY_PARAM_RSA_E, err);
	}
	if (rc < 0) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "alg", json_object_new_string(veil_jwe_alg_name(alg)));
	return o;
}

/* The string member `key`, required. */
static int get_str(json_object *o, const char *what, const char *key, const char **out, size_t *len, veil_err_t *err)
{
	json_object *v = json_object_object_get(o, key);
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return veil_fail(err, 0, "%s: missing \"%s\"", what, key);
	*out = json_object_get_string(v);
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return 0;
}

/* Decodes the base64url member `key` into buf, which must come out exactly
 * want bytes long (want == 0: any length up to max, then *got). */
static int get_b64(json_object *o, const char *what, const char *key, uint8_t **out, size_t *out_len, size_t want,
		   size_t max, veil_err_t *err)
{
	const char *s;
	size_t len;
	if (get_str(o, what, key, &s, &len, err) < 0)
		return -1;
	if (len > max / 3 * 4 + 4)
		return veil_fail(err, 0, "%s: \"%s\" longer than %zu bytes", what, key, max);
	char name[96];
	snprintf(name, sizeof(name), "%s: \"%s\"", what, key);
	if (veil_b64_decode(VEIL_B64_URL, s, len, name, out, out_len, err) < 0)
		return -1;
	if ((want != 0 && *out_len != want) || *out_len > max) {
		size_t got = *out_len;
		free(*out);
		*out = NULL;
		if (want != 0)
			return veil_fail(err, 0, "%s: \"%s\" is %zu bytes, expected %zu", what, key, got, want);
		return veil_fail(err, 0, "%s: \"%s\" longer than %zu bytes", what, key, max);
	}
	return 0;
}

static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *bld, const char *what, veil_err_t *err)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	cleanup_pkey_ctx EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		OSSL_PARAM_free(params);
		fail_ssl(err, what);
		return NULL;
	}
	OSSL_PARAM_free(params);
	cleanup_pkey_ctx EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (check == NULL || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(key);
		fail_ssl(err, what);
		return NULL;
	}
	return key;
}

static int parse_ec(json_object *jwk, const char *what, EVP_PKEY **key, veil_err_t *err)
{
	const char *crv;
	if (get_str(jwk, what, "crv", &crv, NULL, err) < 0)
		return -1;
	if (strcmp(crv, "P-256") != 0)
		return veil_fail(err, 0, "%s: curve \"%.32s\" is not supported (only P-256)", what, crv);
	cleanup_free uint8_t *x = NULL, *y = NULL;
	size_t xl, yl;
	if (get_b64(jwk, what, "x", &x, &xl, P256_COORD, P256_COORD, err) < 0 ||
	    get_b64(jwk, what, "y", &y, &yl, P256_COORD, P256_COORD, err) < 0)
		return -1;
	uint8_t pt[1 + 2 * P256_COORD] = { 0x04 };
	memcpy(pt + 1, x, P256_COORD);
	memcpy(pt + 1 + P256_COORD, y, P256_COORD);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)) != 1) {
		OSSL_PARAM_BLD_free(bld);
		return veil_fail(err, ENOMEM, "%s", what);
	}
	char check_what[96];
	snprintf(check_what, sizeof(check_what), "%s: the point is not on P-256: validation", what);
	*key = key_from_params("EC", bld, check_what, err);
	OSSL_PARAM_BLD_free(bld);
	return *key != NULL ? 0 : -1;
}

static int parse_rsa(json_object *jwk, const char *what, EVP_PKEY **key, veil_err_t *err)
{
	cleanup_free uint8_t *n = NULL, *e = NULL;
	size_t nl, el;
	if (get_b64(jwk, what, "n", &n, &nl, 0, VEIL_RSA_MAX_BITS / 8, err) < 0 ||
	    get_b64(jwk, what, "e", &e, &el, 0, 8, err) < 0)
		return -1;
	if (nl == 0 || n[0] == 0 || el == 0 || e[0] == 0)
		return veil_fail(err, 0, "%s: RSA \"n\" and \"e\" must be minimal big-endian integers (no leading zero)", what);
	size_t bits = nl * 8;
	for (uint8_t top = n[0]; !(top & 0x80); top <<= 1)
		bits--;
	if (bits < VEIL_RSA_MIN_BITS)
		return veil_fail(err, 0, "%s: RSA modulus of %zu bits, expected at least %d", what, bits, VEIL_RSA_MIN_BITS);
	if (!(n[nl - 1] & 1) || !(e[el - 1] & 1) || (el == 1 && e[0] == 1))
		return veil_fail(err, 0, "%s: RSA modulus and exponent must be odd, the exponent greater than 1", what);
	cleanup_bn BIGNUM *bn_n = BN_bin2bn(n, (int)nl, NULL);
	cleanup_bn BIGNUM *bn_e = BN_bin2bn(e, (int)el, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
		OSSL_PARAM_BLD_free(bld);
		return veil_fail(err, ENOMEM, "%s", what);
	}
	char check_what[96];
	snprintf(check_what, sizeof(check_what), "%s: RSA key validation", what);
	*key = key_from_params("RSA", bld, check_what, err);
	OSSL_PARAM_BLD_free(bld);
	return *key != NULL ? 0 : -1;
}

int veil_jwk_parse(json_object *jwk, EVP_PKEY **key, enum veil_jwe_alg *alg, veil_err_t *err)
{
	const struct veil_json_member *ec_members =
		VEIL_JSON_MEMBERS({ "kty", json_type_string, true }, { "crv", json_type_string, true },
				  { "alg", json_type_string, true }, { "x", json_type_string, true },
				  { "y", json_type_string, true });
	const struct veil_json_member *rsa_members =
		VEIL_JSON_MEMBERS({ "kty", json_type_string, true }, { "alg", json_type_string, true },
				  { "n", json_type_string, true }, { "e", json_type_string, true });
	const char *what = "tee-pubkey JWK";
	*key = NULL;
	const char *kty, *alg_name;
	if (!json_object_is_type(jwk, json_type_object))
		return veil_fail(err, 0, "%s: expected a JSON object", what);
	if (get_str(jwk, what, "kty", &kty, NULL, err) < 0 || get_str(jwk, what, "alg", &alg_name, NULL, err) < 0)
		return -1;
	if (strcmp(kty, "EC") == 0) {
		if (strcmp(alg_name, "ECDH-ES+A256KW") != 0)
			return veil_fail(err, 0, "%s: alg \"%.32s\" with an EC key, expected \"ECDH-ES+A256KW\"", what, alg_name);
		*alg = VEIL_JWE_ECDH_ES_A256KW;
		return veil_json_check_members(jwk, what, ec_members, err) < 0 ? -1 : parse_ec(jwk, what, key, err);
	}
	if (strcmp(kty, "RSA") == 0) {
		if (strcmp(alg_name, "RSA-OAEP-256") != 0)
			return veil_fail(err, 0, "%s: alg \"%.32s\" with an RSA key, expected \"RSA-OAEP-256\"", what, alg_name);
		*alg = VEIL_JWE_RSA_OAEP_256;
		return veil_json_check_members(jwk, what, rsa_members, err) < 0 ? -1 : parse_rsa(jwk, what, key, err);
	}
	return veil_fail(err, 0, "%s: kty \"%.32s\" is not supported (EC or RSA)", what, kty);
}

/* ---- key management ---- */

/* NIST SP 800-56A Concat KDF as RFC 7518 4.6.2 uses it for ECDH-ES+A256KW:
 * SHA-256(counter 1 || Z || AlgorithmID || PartyUInfo "" || PartyVInfo "" ||
 * SuppPubInfo 256), one round for a 256-bit key. */
static int concat_kdf(const uint8_t *z, size_t z_len, uint8_t kek[32], veil_err_t *err)
{
	static const char alg[] = "ECDH-ES+A256KW";
	uint8_t buf[4 + 32 + 4 + sizeof(alg) - 1 + 4 + 4 + 4];
	size_t o = 0;
	if (z_len != 32)
		return veil_fail(err, 0, "ECDH: shared secret of %zu bytes", z_len);
	const uint8_t counter[4] = { 0, 0, 0, 1 };
	const uint8_t alg_len[4] = { 0, 0, 0, sizeof(alg) - 1 };
	const uint8_t empty[4] = { 0 };
	const uint8_t bits[4] = { 0, 0, 1, 0 };
	memcpy(buf + o, counter, 4), o += 4;
	memcpy(buf + o, z, z_len), o += z_len;
	memcpy(buf + o, alg_len, 4), o += 4;
	memcpy(buf + o, alg, sizeof(alg) - 1), o += sizeof(alg) - 1;
	memcpy(buf + o, empty, 4), o += 4;
	memcpy(buf + o, empty, 4), o += 4;
	memcpy(buf + o, bits, 4), o += 4;
	unsigned int len = 0;
	int ok = EVP_Digest(buf, o, kek, &len, EVP_sha256(), NULL);
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok == 1 && len == 32 ? 0 : fail_ssl(err, "Concat KDF");
}

static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t kek[32], veil_err_t *err)
{
	uint8_t z[64];
	size_t z_len = sizeof(z);
	cleanup_pkey_ctx EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, z, &z_len) != 1)
		return fail_ssl(err, "ECDH");
	int rc = concat_kdf(z, z_len, kek, err);
	OPENSSL_cleanse(z, sizeof(z));
	return rc;
}

/* AES-256 key wrap (RFC 3394) of the CEK, or its unwrap with the integrity check. */
static int aes_kw(bool wrap, const uint8_t kek[32], const uint8_t *in, size_t in_len, uint8_t *out, veil_err_t *err)
{
	cleanup_cipher_ctx EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	if (c == NULL)
		return veil_fail(err, ENOMEM, "AES key wrap");
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(c, EVP_aes_256_wrap(), NULL, kek, NULL, wrap) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)in_len) != 1 || EVP_CipherFinal_ex(c, out + n, &fin) != 1) {
		ERR_clear_error();
		return veil_fail(err, 0, wrap ? "AES key wrap failed" : "encrypted_key does not unwrap: wrong TEE key or tampered JWE");
	}
	if ((size_t)(n + fin) != (wrap ? in_len + 8 : in_len - 8))
		return veil_fail(err, 0, "AES key wrap: unexpected output length");
	return 0;
}

static int rsa_oaep(bool encrypt, EVP_PKEY *key, const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len,
		    veil_err_t *err)
{
	cleanup_pkey_ctx EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || (encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1)
		return fail_ssl(err, "RSA-OAEP-256 set-up");
	int ok = encrypt ? EVP_PKEY_encrypt(ctx, out, out_len, in, in_len) : EVP_PKEY_decrypt(ctx, out, out_len, in, in_len);
	if (ok != 1) {
		ERR_clear_error();
		return veil_fail(err, 0, encrypt ? "RSA-OAEP-256 encryption failed"
						 : "encrypted_key does not decrypt: wrong TEE key or tampered JWE");
	}
	return 0;
}

/* ---- content encryption ---- */

static int gcm(bool encrypt, const uint8_t cek[CEK_LEN], const uint8_t iv[GCM_IV_LEN], const char *aad, size_t aad_len,
	       const uint8_t *in, size_t in_len, uint8_t *out, uint8_t tag[GCM_TAG_LEN], veil_err_t *err)
{
	cleanup_cipher_ctx EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	if (c == NULL || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, cek, iv, encrypt) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad, (int)aad_len) != 1 ||
	    (in_len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)in_len) != 1))
		return fail_ssl(err, "A256GCM");
	if (!encrypt && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) != 1)
		return fail_ssl(err, "A256GCM");
	if (EVP_CipherFinal_ex(c, out + (in_len > 0 ? n : 0), &fin) != 1) {
		ERR_clear_error();
		return veil_fail(err, 0, "A256GCM: authentication tag mismatch: the JWE was altered");
	}
	if (encrypt && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
		return fail_ssl(err, "A256GCM");
	return 0;
}

/* ---- JWE ---- */

static char *to_text(json_object *o, veil_err_t *err)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = s != NULL ? strdup(s) : NULL;
	if (copy == NULL)
		veil_fail(err, ENOMEM, "JWE");
	return copy;
}

/* Protects the CEK for the recipient: fills ek and, for ECDH-ES, the
 * ephemeral key "epk" of the header. */
static int protect_cek(EVP_PKEY *recipient, enum veil_jwe_alg alg, const uint8_t cek[CEK_LEN], json_object *header,
		       uint8_t *ek, size_t *ek_len, veil_err_t *err)
{
	if (alg == VEIL_JWE_RSA_OAEP_256) {
		if (EVP_PKEY_get_base_id(recipient) != EVP_PKEY_RSA || EVP_PKEY_get_bits(recipient) > VEIL_RSA_MAX_BITS)
			return veil_fail(err, 0, "JWE: RSA-OAEP-256 needs an RSA recipient key of at most %d bits",
					 VEIL_RSA_MAX_BITS);
		return rsa_oaep(true, recipient, cek, CEK_LEN, ek, ek_len, err);
	}
	if (!is_p256(recipient))
		return veil_fail(err, 0, "JWE: ECDH-ES+A256KW needs a P-256 recipient key");
	cleanup_pkey EVP_PKEY *eph = veil_jose_generate_key(VEIL_JWE_ECDH_ES_A256KW, err);
	json_object *epk = json_object_new_object();
	if (epk == NULL)
		return veil_fail(err, ENOMEM, "JWE");
	json_object_object_add(header, "epk", epk);
	uint8_t kek[32];
	if (eph == NULL || add_ec_point(epk, eph, err) < 0 || ecdh(eph, recipient, kek, err) < 0)
		return -1;
	int rc = aes_kw(true, kek, cek, CEK_LEN, ek, err);
	OPENSSL_cleanse(kek, sizeof(kek));
	*ek_len = WRAPPED_CEK_LEN;
	return rc;
}

static char *encrypt_with(EVP_PKEY *recipient, enum veil_jwe_alg alg, const uint8_t cek[CEK_LEN], const uint8_t *plain,
			  size_t len, uint8_t *ct, veil_err_t *err)
{
	uint8_t iv[GCM_IV_LEN], tag[GCM_TAG_LEN], ek[VEIL_RSA_MAX_BITS / 8];
	size_t ek_len = sizeof(ek);
	cleanup_json json_object *header = json_object_new_object();
	cleanup_json json_object *jwe = json_object_new_object();
	if (header == NULL || jwe == NULL) {
		veil_fail(err, ENOMEM, "JWE");
		return NULL;
	}
	if (RAND_bytes(iv, sizeof(iv)) != 1) {
		fail_ssl(err, "JWE: random bytes");
		return NULL;
	}
	json_object_object_add(header, "alg", json_object_new_string(veil_jwe_alg_name(alg)));
	json_object_object_add(header, "enc", json_object_new_string(ENC_A256GCM));
	if (protect_cek(recipient, alg, cek, header, ek, &ek_len, err) < 0)
		return NULL;
	/* Serialised as serde_json would (keys sorted, compact): guest-components
	 * re-serialises the header it parsed to compute the AAD. */
	cleanup_free char *header_text = veil_json_canonical(header, err);
	cleanup_free char *protected_b64 =
		header_text != NULL ? veil_b64_encode(VEIL_B64_URL, (const uint8_t *)header_text, strlen(header_text)) : NULL;
	if (protected_b64 == NULL) {
		veil_fail(err, ENOMEM, "JWE");
		return NULL;
	}
	if (gcm(true, cek, iv, protected_b64, strlen(protected_b64), plain, len, ct, tag, err) < 0)
		return NULL;
	json_object_object_add(jwe, "protected", json_object_new_string(protected_b64));
	if (add_b64url(jwe, "encrypted_key", ek, ek_len, err) < 0 || add_b64url(jwe, "iv", iv, sizeof(iv), err) < 0 ||
	    add_b64url(jwe, "ciphertext", ct, len, err) < 0 || add_b64url(jwe, "tag", tag, sizeof(tag), err) < 0)
		return NULL;
	return to_text(jwe, err);
}

char *veil_jwe_encrypt(EVP_PKEY *recipient, enum veil_jwe_alg alg, const uint8_t *plain, size_t len, veil_err_t *err)
{
	if (len > VEIL_JWE_MAX_PLAINTEXT) {
		veil_fail(err, 0, "JWE: plaintext of %zu bytes, at most %u", len, VEIL_JWE_MAX_PLAINTEXT);
		return NULL;
	}
	uint8_t cek[CEK_LEN];
	cleanup_free uint8_t *ct = malloc(len + 1);
	if (ct == NULL) {
		veil_fail(err, ENOMEM, "JWE");
		return NULL;
	}
	if (RAND_bytes(cek, sizeof(cek)) != 1) {
		fail_ssl(err, "JWE: random bytes");
		return NULL;
	}
	char *jwe = encrypt_with(recipient, alg, cek, plain, len, ct, err);
	OPENSSL_cleanse(cek, sizeof(cek));
	return jwe;
}

static int parse_epk(json_object *e, EVP_PKEY **epk, veil_err_t *err)
{
	const struct veil_json_member *epk_members =
		VEIL_JSON_MEMBERS({ "kty", json_type_string, true }, { "crv", json_type_string, true },
				  { "x", json_type_string, true }, { "y", json_type_string, true });
	const char *kty;
	if (veil_json_check_members(e, "JWE epk", epk_members, err) < 0 || get_str(e, "JWE epk", "kty", &kty, NULL, err) < 0)
		return -1;
	if (strcmp(kty, "EC") != 0)
		return veil_fail(err, 0, "JWE epk: kty \"%.32s\", expected \"EC\"", kty);
	return parse_ec(e, "JWE epk", epk, err);
}

/* The JOSE header: the protected {"alg","enc"[,"epk"]}, and for ECDH-ES the
 * ephemeral key "epk" either there or alone in the unprotected "header" (as
 * latchset's jose writes it; a tampered epk only makes the unwrap fail). */
static int parse_header(const char *b64, size_t b64_len, json_object *unprotected, enum veil_jwe_alg want,
			EVP_PKEY **epk, veil_err_t *err)
{
	cleanup_free uint8_t *text = NULL;
	size_t len;
	if (b64_len > 4096)
		return veil_fail(err, 0, "JWE: protected header longer than 4096 characters");
	if (veil_b64_decode(VEIL_B64_URL, b64, b64_len, "JWE: \"protected\"", &text, &len, err) < 0)
		return -1;
	cleanup_json json_object *h = NULL;
	if (veil_json_parse((const char *)text, len, "JWE protected header", &h, err) < 0)
		return -1;
	if (!json_object_is_type(h, json_type_object))
		return veil_fail(err, 0, "JWE protected header: expected a JSON object");
	json_object_object_foreach(h, key, val) {
		(void)val;
		if (strcmp(key, "alg") != 0 && strcmp(key, "enc") != 0 &&
		    !(strcmp(key, "epk") == 0 && want == VEIL_JWE_ECDH_ES_A256KW))
			return veil_fail(err, 0, "JWE protected header: parameter \"%.64s\" is not supported", key);
	}
	const char *alg, *enc;
	if (get_str(h, "JWE protected header", "alg", &alg, NULL, err) < 0 ||
	    get_str(h, "JWE protected header", "enc", &enc, NULL, err) < 0)
		return -1;
	if (strcmp(alg, veil_jwe_alg_name(want)) != 0)
		return veil_fail(err, 0, "JWE protected header: alg \"%.32s\", expected \"%s\" for this TEE key", alg,
				 veil_jwe_alg_name(want));
	if (strcmp(enc, ENC_A256GCM) != 0)
		return veil_fail(err, 0, "JWE protected header: enc \"%.32s\", expected \"%s\"", enc, ENC_A256GCM);
	json_object *e = json_object_object_get(h, "epk");
	if (unprotected != NULL) {
		if (want != VEIL_JWE_ECDH_ES_A256KW || e != NULL)
			return veil_fail(err, 0, "JWE: an unprotected \"header\" may only carry the ECDH-ES \"epk\"");
		if (veil_json_check_members(unprotected, "JWE header", VEIL_JSON_MEMBERS({ "epk", json_type_object, true }), err) < 0)
			return -1;
		e = json_object_object_get(unprotected, "epk");
	}
	if (want != VEIL_JWE_ECDH_ES_A256KW)
		return 0;
	if (e == NULL)
		return veil_fail(err, 0, "JWE: missing \"epk\" for ECDH-ES+A256KW");
	return parse_epk(e, epk, err);
}

int veil_jwe_decrypt(EVP_PKEY *key, const char *jwe, size_t jwe_len, uint8_t **plain, size_t *plain_len,
		     veil_err_t *err)
{
	const struct veil_json_member *members = VEIL_JSON_MEMBERS(
		{ "protected", json_type_string, true }, { "header", json_type_object, false },
		{ "encrypted_key", json_type_string, true }, { "iv", json_type_string, true },
		{ "ciphertext", json_type_string, true }, { "tag", json_type_string, true }, { "aad", json_type_string, false });
	enum veil_jwe_alg alg;
	*plain = NULL;
	if (is_p256(key))
		alg = VEIL_JWE_ECDH_ES_A256KW;
	else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
		alg = VEIL_JWE_RSA_OAEP_256;
	else
		return veil_fail(err, 0, "JWE: the TEE key is neither P-256 nor RSA");
	if (jwe_len > VEIL_JWE_MAX_PLAINTEXT / 3 * 4 + 64 * 1024)
		return veil_fail(err, 0, "JWE: %zu bytes is too long", jwe_len);
	cleanup_json json_object *doc = NULL;
	if (veil_json_parse(jwe, jwe_len, "JWE", &doc, err) < 0 || veil_json_check_members(doc, "JWE", members, err) < 0)
		return -1;
	const char *protected_b64, *aad_b64 = NULL;
	size_t protected_len, aad_len = 0;
	cleanup_pkey EVP_PKEY *epk = NULL;
	if (get_str(doc, "JWE", "protected", &protected_b64, &protected_len, err) < 0 ||
	    parse_header(protected_b64, protected_len, json_object_object_get(doc, "header"), alg, &epk, err) < 0)
		return -1;
	if (json_object_object_get(doc, "aad") != NULL && get_str(doc, "JWE", "aad", &aad_b64, &aad_len, err) < 0)
		return -1;
	cleanup_free uint8_t *ek = NULL, *iv = NULL, *ct = NULL, *tag = NULL, *aad_bytes = NULL;
	size_t ek_len, iv_len, ct_len, tag_len, aad_bytes_len;
	if (get_b64(doc, "JWE", "encrypted_key", &ek, &ek_len,
		    alg == VEIL_JWE_ECDH_ES_A256KW ? WRAPPED_CEK_LEN : (size_t)EVP_PKEY_get_size(key), VEIL_RSA_MAX_BITS / 8,
		    err) < 0 ||
	    get_b64(doc, "JWE", "iv", &iv, &iv_len, GCM_IV_LEN, GCM_IV_LEN, err) < 0 ||
	    get_b64(doc, "JWE", "tag", &tag, &tag_len, GCM_TAG_LEN, GCM_TAG_LEN, err) < 0 ||
	    get_b64(doc, "JWE", "ciphertext", &ct, &ct_len, 0, VEIL_JWE_MAX_PLAINTEXT, err) < 0)
		return -1;
	/* RFC 7516 5.2: AAD = ASCII(protected) || '.' || ASCII(aad) when aad is present. */
	cleanup_free char *aad = malloc(protected_len + 1 + aad_len + 1);
	if (aad == NULL)
		return veil_fail(err, ENOMEM, "JWE");
	memcpy(aad, protected_b64, protected_len);
	size_t full_aad_len = protected_len;
	if (aad_b64 != NULL) {
		if (veil_b64_decode(VEIL_B64_URL, aad_b64, aad_len, "JWE: \"aad\"", &aad_bytes, &aad_bytes_len, err) < 0)
			return -1;
		aad[full_aad_len++] = '.';
		memcpy(aad + full_aad_len, aad_b64, aad_len);
		full_aad_len += aad_len;
	}
	uint8_t cek[CEK_LEN + VEIL_RSA_MAX_BITS / 8];
	size_t cek_len = sizeof(cek);
	int rc;
	if (alg == VEIL_JWE_ECDH_ES_A256KW) {
		uint8_t kek[32];
		rc = ecdh(key, epk, kek, err);
		if (rc == 0)
			rc = aes_kw(false, kek, ek, ek_len, cek, err);
		OPENSSL_cleanse(kek, sizeof(kek));
		cek_len = CEK_LEN;
	} else {
		rc = rsa_oaep(false, key, ek, ek_len, cek, &cek_len, err);
		if (rc == 0 && cek_len != CEK_LEN)
			rc = veil_fail(err, 0, "JWE: content key of %zu bytes, expected %d", cek_len, CEK_LEN);
	}
	uint8_t *out = rc == 0 ? malloc(ct_len + 1) : NULL;
	if (rc == 0 && out == NULL)
		rc = veil_fail(err, ENOMEM, "JWE");
	if (rc == 0)
		rc = gcm(false, cek, iv, aad, full_aad_len, ct, ct_len, out, tag, err);
	OPENSSL_cleanse(cek, sizeof(cek));
	if (rc < 0) {
		if (out != NULL)
			OPENSSL_cleanse(out, ct_len);
		free(out);
		return -1;
	}
	out[ct_len] = 0;
	*plain = out;
	*plain_len = ct_len;
	return 0;
}
