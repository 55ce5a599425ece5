#include "attest/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "lib/cleanup.h"
#include "lib/hex.h"

X509 *veil_x509_from_der(const uint8_t *der, size_t len, const char *what, veil_err_t *err)
{
	if (der == NULL || len == 0 || len > 64 * 1024) {
		veil_fail(err, EINVAL, "%s: no certificate (%zu bytes)", what, len);
		return NULL;
	}
	const unsigned char *p = der;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL) {
		ERR_clear_error();
		veil_fail(err, EINVAL, "%s: not a DER X.509 certificate", what);
		return NULL;
	}
	if ((size_t)(p - der) != len) {
		X509_free(cert);
		veil_fail(err, EINVAL, "%s: %zu bytes after the DER certificate", what, len - (size_t)(p - der));
		return NULL;
	}
	return cert;
}

void veil_x509_subject(X509 *cert, char *out, size_t size)
{
	if (X509_NAME_oneline(X509_get_subject_name(cert), out, (int)size) == NULL)
		snprintf(out, size, "(unprintable name)");
}

int veil_x509_check_issued(X509 *child, const char *child_name, X509 *parent, const char *parent_name,
			   bool pss_sha384, veil_err_t *err)
{
	if (X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) != 0) {
		char issuer[256], subject[256];
		if (X509_NAME_oneline(X509_get_issuer_name(child), issuer, sizeof(issuer)) == NULL)
			snprintf(issuer, sizeof(issuer), "(unprintable name)");
		veil_x509_subject(parent, subject, sizeof(subject));
		return veil_fail(err, EBADMSG, "%s is issued by \"%s\", not by the %s \"%s\"", child_name, issuer,
				 parent_name, subject);
	}
	if (pss_sha384) {
		int md_nid = NID_undef, pk_nid = NID_undef;
		if (X509_get_signature_info(child, &md_nid, &pk_nid, NULL, NULL) != 1 || pk_nid != EVP_PKEY_RSA_PSS ||
		    md_nid != NID_sha384) {
			ERR_clear_error();
			return veil_fail(err, EBADMSG, "%s signature algorithm: expected RSASSA-PSS with SHA-384, found %s",
					 child_name, OBJ_nid2ln(X509_get_signature_nid(child)));
		}
	}
	EVP_PKEY *key = X509_get0_pubkey(parent);
	if (key == NULL || X509_verify(child, key) != 1) {
		ERR_clear_error();
		return veil_fail(err, EBADMSG, "%s signature does not verify with the %s key", child_name, parent_name);
	}
	return 0;
}

static unsigned char *ecdsa_der(const uint8_t *r, const uint8_t *s, size_t n, int *der_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(r, (int)n, NULL), *bs = BN_bin2bn(s, (int)n, NULL);
	unsigned char *der = NULL;
	if (sig == NULL || br == NULL || bs == NULL || ECDSA_SIG_set0(sig, br, bs) != 1) {
		BN_free(br);
		BN_free(bs);
		ECDSA_SIG_free(sig);
		return NULL;
	}
	*der_len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	return *der_len > 0 ? der : NULL;
}

int veil_ecdsa_verify_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msg_len, const uint8_t *r,
			  const uint8_t *s, size_t n, const char *what, veil_err_t *err)
{
	int der_len = 0;
	unsigned char *der = ecdsa_der(r, s, n, &der_len);
	if (der == NULL) {
		ERR_clear_error();
		return veil_fail(err, ENOMEM, "%s: cannot encode the signature", what);
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
		 EVP_DigestVerify(ctx, der, (size_t)der_len, msg, msg_len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	if (!ok) {
		ERR_clear_error();
		return veil_fail(err, EBADMSG, "%s does not verify", what);
	}
	return 0;
}

int veil_ecdsa_sign_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msg_len, uint8_t *r, uint8_t *s,
			size_t n, veil_err_t *err)
{
	unsigned char der[256];
	size_t der_len = sizeof(der);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, md, NULL, key) == 1 &&
		 EVP_DigestSign(ctx, der, &der_len, msg, msg_len) == 1;
	EVP_MD_CTX_free(ctx);
	ECDSA_SIG *sig = NULL;
	if (ok) {
		const unsigned char *p = der;
		sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	}
	ok = sig != NULL && BN_bn2binpad(ECDSA_SIG_get0_r(sig), r, (int)n) == (int)n &&
	     BN_bn2binpad(ECDSA_SIG_get0_s(sig), s, (int)n) == (int)n;
	ECDSA_SIG_free(sig);
	if (!ok) {
		ERR_clear_error();
		return veil_fail(err, EIO, "ECDSA signing failed");
	}
	return 0;
}

int veil_digest_file(const char *path, const EVP_MD *md, uint8_t *out, veil_err_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "%s", path);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		return veil_fail(err, ENOMEM, "hashing %s", path);
	}
	static const size_t chunk = 1 << 16;
	cleanup_free uint8_t *buf = malloc(chunk);
	int rc = buf != NULL ? 0 : veil_fail(err, ENOMEM, "hashing %s", path);
	while (rc == 0) {
		ssize_t n = read(fd, buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = veil_fail(err, errno, "reading %s", path);
		else if (n == 0)
			break;
		else if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			rc = veil_fail(err, EIO, "hashing %s", path);
	}
	if (rc == 0 && EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		rc = veil_fail(err, EIO, "hashing %s", path);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

bool veil_pkey_is_ec_curve(EVP_PKEY *key, const char *curve)
{
	char name[64];
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), NULL) != 1) {
		ERR_clear_error();
		return false;
	}
	return strcmp(name, curve) == 0;
}

void veil_reverse_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

bool veil_bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

const char *veil_hex_brief(const uint8_t *bytes, size_t n, size_t max_bytes, char *out, size_t size)
{
	size_t shown = n < max_bytes ? n : max_bytes;
	if (size < 2 * shown + 4)
		shown = size >= 4 ? (size - 4) / 2 : 0;
	veil_hex_encode(bytes, shown, out);
	if (shown < n)
		strcpy(out + 2 * shown, "...");
	return out;
}
