#include "attest/tdx.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "attest/evidence.h"
#include "attest/pki.h"

const uint8_t veil_tdx_intel_qe_vendor_id[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
						  0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };

#define P256_BYTES 32
#define QE_REPORT_DATA_OFFSET 320
#define MAX_PCK_CERTS 8

/* A bounds-checked reader over the quote. */
struct cursor {
	const uint8_t *p;
	size_t left;
};

static const uint8_t *take(struct cursor *c, size_t n)
{
	if (c->left < n)
		return NULL;
	const uint8_t *p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void parse_body(const uint8_t *p, struct veil_tdx_body *b)
{
	uint8_t *fields[] = { b->tee_tcb_svn, b->mrseam, b->mrsignerseam, b->seam_attributes, b->td_attributes,
			      b->xfam, b->mrtd, b->mrconfigid, b->mrowner, b->mrownerconfig, b->rtmr[0], b->rtmr[1],
			      b->rtmr[2], b->rtmr[3], b->report_data };
	static const size_t sizes[] = { 16, 48, 48, 8, 8, 8, 48, 48, 48, 48, 48, 48, 48, 48, 64 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memcpy(fields[i], p, sizes[i]);
		p += sizes[i];
	}
}

/* A certification data block: u16 type, u32 size, data. */
static int take_cert_data(struct cursor *c, uint16_t want_type, const char *what, struct cursor *data,
			  veil_err_t *err)
{
	const uint8_t *head = take(c, 6);
	if (head == NULL)
		return veil_fail(err, EINVAL, "TDX quote: %s header truncated", what);
	uint16_t type = le16(head);
	uint32_t size = le32(head + 2);
	if (type != want_type)
		return veil_fail(err, EINVAL, "TDX quote: %s type: expected %u, got %u", what, want_type, type);
	const uint8_t *p = take(c, size);
	if (p == NULL)
		return veil_fail(err, EINVAL, "TDX quote: %s of %u bytes overruns its container (%zu left)", what, size,
				 c->left);
	*data = (struct cursor){ p, size };
	return 0;
}

int veil_tdx_quote_parse(const uint8_t *buf, size_t len, struct veil_tdx_quote *q, veil_err_t *err)
{
	memset(q, 0, sizeof(*q));
	if (len > VEIL_TDX_MAX_QUOTE)
		return veil_fail(err, EINVAL, "TDX quote: %zu bytes, more than %d", len, VEIL_TDX_MAX_QUOTE);
	struct cursor c = { buf, len };
	const uint8_t *header = take(&c, VEIL_TDX_SIGNED_SIZE + 4);
	if (header == NULL)
		return veil_fail(err, EINVAL, "TDX quote: %zu bytes, shorter than header and TD report (%d)", len,
				 VEIL_TDX_SIGNED_SIZE + 4);
	q->version = le16(header);
	q->att_key_type = le16(header + 2);
	q->tee_type = le32(header + 4);
	memcpy(q->qe_vendor_id, header + 12, sizeof(q->qe_vendor_id));
	if (q->version != VEIL_TDX_QUOTE_VERSION)
		return veil_fail(err, EINVAL, "TDX quote version: expected %d, got %u", VEIL_TDX_QUOTE_VERSION, q->version);
	if (q->att_key_type != VEIL_TDX_ATT_KEY_ECDSA_P256)
		return veil_fail(err, EINVAL, "TDX quote attestation key type: expected %d (ECDSA P-256), got %u",
				 VEIL_TDX_ATT_KEY_ECDSA_P256, q->att_key_type);
	if (q->tee_type != VEIL_TDX_TEE_TYPE)
		return veil_fail(err, EINVAL, "TDX quote TEE type: expected 0x%x (TDX), got 0x%x", VEIL_TDX_TEE_TYPE,
				 q->tee_type);
	q->signed_part = header;
	parse_body(header + VEIL_TDX_HEADER_SIZE, &q->body);

	struct cursor sig = { NULL, 0 };
	uint32_t sig_size = le32(header + VEIL_TDX_SIGNED_SIZE);
	sig.p = take(&c, sig_size);
	if (sig.p == NULL)
		return veil_fail(err, EINVAL, "TDX quote: signature data of %u bytes overruns the quote (%zu left)",
				 sig_size, c.left);
	sig.left = sig_size;
	q->quote_len = len - c.left;
	q->signature = take(&sig, 2 * P256_BYTES);
	q->attest_key = take(&sig, 2 * P256_BYTES);
	if (q->attest_key == NULL)
		return veil_fail(err, EINVAL, "TDX quote: signature data truncated");
	struct cursor qe;
	if (take_cert_data(&sig, VEIL_TDX_CERT_QE_REPORT, "certification data", &qe, err) < 0)
		return -1;
	if (sig.left != 0)
		return veil_fail(err, EINVAL, "TDX quote: %zu bytes after the certification data", sig.left);
	q->qe_report = take(&qe, VEIL_TDX_QE_REPORT_SIZE);
	q->qe_report_signature = take(&qe, 2 * P256_BYTES);
	const uint8_t *auth_len = take(&qe, 2);
	if (auth_len == NULL)
		return veil_fail(err, EINVAL, "TDX quote: QE report certification data truncated");
	q->qe_auth_len = le16(auth_len);
	q->qe_auth_data = take(&qe, q->qe_auth_len);
	if (q->qe_auth_data == NULL)
		return veil_fail(err, EINVAL, "TDX quote: QE authentication data of %zu bytes overruns its container",
				 q->qe_auth_len);
	struct cursor chain;
	if (take_cert_data(&qe, VEIL_TDX_CERT_PCK_CHAIN, "QE certification data", &chain, err) < 0)
		return -1;
	if (qe.left != 0)
		return veil_fail(err, EINVAL, "TDX quote: %zu bytes after the PCK certificate chain", qe.left);
	q->pck_chain = chain.p;
	q->pck_chain_len = chain.left;
	return 0;
}

/* ---- verification ---- */

static EVP_PKEY *p256_key(const uint8_t xy[64])
{
	uint8_t point[65] = { 0x04 };
	memcpy(point + 1, xy, 64);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	/* fromdata does not check that the point is on the curve; public_check does. */
	EVP_PKEY_CTX *check = key != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL) : NULL;
	if (check == NULL || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	EVP_PKEY_CTX_free(check);
	ERR_clear_error();
	return key;
}

static int check_qe_binding(const struct veil_tdx_quote *q, veil_err_t *err)
{
	uint8_t want[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, q->attest_key, 2 * P256_BYTES) == 1 &&
		 EVP_DigestUpdate(ctx, q->qe_auth_data, q->qe_auth_len) == 1 && EVP_DigestFinal_ex(ctx, want, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return veil_fail(err, EIO, "TDX QE report binding: hashing failed");
	}
	const uint8_t *got = q->qe_report + QE_REPORT_DATA_OFFSET;
	static const uint8_t zeros[32];
	if (!veil_bytes_equal(want, got, 32) || !veil_bytes_equal(got + 32, zeros, 32)) {
		char want_s[80], got_s[80];
		return veil_fail(err, EBADMSG,
				 "TDX QE report binding: REPORTDATA should be SHA-256(attestation key || QE auth data) "
				 "and 32 zero bytes: expected %s, got %s",
				 veil_hex_brief(want, 32, 32, want_s, sizeof(want_s)),
				 veil_hex_brief(got, 64, 32, got_s, sizeof(got_s)));
	}
	return 0;
}

/* Reads the PEM chain; the leaf comes first. */
static STACK_OF(X509) *read_chain(const struct veil_tdx_quote *q, veil_err_t *err)
{
	BIO *bio = BIO_new_mem_buf(q->pck_chain, (int)q->pck_chain_len);
	STACK_OF(X509) *certs = sk_X509_new_null();
	if (bio == NULL || certs == NULL) {
		BIO_free(bio);
		sk_X509_free(certs);
		veil_fail(err, ENOMEM, "TDX PCK chain");
		return NULL;
	}
	X509 *cert;
	while (sk_X509_num(certs) <= MAX_PCK_CERTS && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(certs, cert);
	unsigned long e = ERR_peek_last_error();
	bool clean_end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
	ERR_clear_error();
	BIO_free(bio);
	int n = sk_X509_num(certs);
	const char *wrong = n > MAX_PCK_CERTS ? "more than 8 certificates"
			    : !clean_end      ? "a PEM certificate does not parse"
			    : n < 2           ? "expected the PCK certificate and its issuers, leaf first"
					      : NULL;
	if (wrong != NULL) {
		sk_X509_pop_free(certs, X509_free);
		veil_fail(err, EBADMSG, "TDX PCK chain: %s", wrong);
		return NULL;
	}
	return certs;
}

static int check_pck_chain(STACK_OF(X509) *certs, const uint8_t *root_der, size_t root_len, veil_err_t *err)
{
	X509 *root = veil_x509_from_der(root_der, root_len, "TDX root", err);
	if (root == NULL)
		return -1;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;
	if (store == NULL || ctx == NULL || X509_STORE_add_cert(store, root) != 1 ||
	    X509_STORE_CTX_init(ctx, store, sk_X509_value(certs, 0), certs) != 1) {
		veil_fail(err, ENOMEM, "TDX PCK chain");
		goto out;
	}
	/* Validity periods are not checked: without Intel's collateral (CRLs,
	 * TCB info) the verifier appraises signatures, not revocation or time. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME);
	if (X509_verify_cert(ctx) != 1) {
		char root_name[256];
		veil_x509_subject(root, root_name, sizeof(root_name));
		veil_fail(err, EBADMSG, "TDX PCK chain does not verify to the configured root \"%s\": %s (at depth %d)",
			  root_name, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)),
			  X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	/* Every certificate the quote carries must be on the verified path, so
	 * that none rides along unchecked (a copy of the root must be the root). */
	STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (i >= sk_X509_num(path) || X509_cmp(sk_X509_value(certs, i), sk_X509_value(path, i)) != 0) {
			char name[256];
			veil_x509_subject(sk_X509_value(certs, i), name, sizeof(name));
			veil_fail(err, EBADMSG, "TDX PCK chain: certificate %d (\"%s\") is not on the verified path to the configured root",
				  i + 1, name);
			goto out;
		}
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(root);
	return rc;
}

static void fill_claims(const struct veil_tdx_quote *q, struct veil_evidence_claims *c)
{
	memset(c, 0, sizeof(*c));
	c->tee = VEIL_TEE_TDX;
	memcpy(c->report_data, q->body.report_data, sizeof(c->report_data));
	memcpy(c->measurement, q->body.mrtd, sizeof(c->measurement));
	memcpy(c->init_data, q->body.mrconfigid, sizeof(q->body.mrconfigid));
	c->init_data_len = sizeof(q->body.mrconfigid);
	memcpy(c->rtmr, q->body.rtmr, sizeof(c->rtmr));
	c->debug = (q->body.td_attributes[0] & VEIL_TDX_ATTR_DEBUG) != 0;
}

int veil_tdx_verify(const uint8_t *quote, size_t quote_len, const uint8_t *root_der, size_t root_len,
		    struct veil_evidence_claims *claims, veil_err_t *err)
{
	struct veil_tdx_quote q;
	if (veil_tdx_quote_parse(quote, quote_len, &q, err) < 0)
		return -1;
	if (memcmp(q.qe_vendor_id, veil_tdx_intel_qe_vendor_id, 16) != 0) {
		char want_s[40], got_s[40];
		return veil_fail(err, EBADMSG, "TDX quote QE vendor ID: expected Intel's %s, got %s",
				 veil_hex_brief(veil_tdx_intel_qe_vendor_id, 16, 16, want_s, sizeof(want_s)),
				 veil_hex_brief(q.qe_vendor_id, 16, 16, got_s, sizeof(got_s)));
	}
	EVP_PKEY *attest_key = p256_key(q.attest_key);
	if (attest_key == NULL)
		return veil_fail(err, EBADMSG, "TDX quote attestation key is not a P-256 point");
	int rc = veil_ecdsa_verify_raw(attest_key, EVP_sha256(), q.signed_part, VEIL_TDX_SIGNED_SIZE, q.signature,
				       q.signature + P256_BYTES, P256_BYTES,
				       "TDX quote signature (ECDSA P-256 over header and TD report) with the attestation key",
				       err);
	EVP_PKEY_free(attest_key);
	if (rc < 0 || check_qe_binding(&q, err) < 0)
		return -1;
	STACK_OF(X509) *certs = read_chain(&q, err);
	if (certs == NULL)
		return -1;
	X509 *pck = sk_X509_value(certs, 0);
	rc = -1;
	if (!veil_pkey_is_ec_curve(X509_get0_pubkey(pck), "prime256v1"))
		veil_fail(err, EBADMSG, "TDX PCK certificate key: expected ECDSA P-256");
	else if (check_pck_chain(certs, root_der, root_len, err) == 0 &&
		 veil_ecdsa_verify_raw(X509_get0_pubkey(pck), EVP_sha256(), q.qe_report, VEIL_TDX_QE_REPORT_SIZE,
				       q.qe_report_signature, q.qe_report_signature + P256_BYTES, P256_BYTES,
				       "TDX QE report signature with the PCK key", err) == 0)
		rc = 0;
	sk_X509_pop_free(certs, X509_free);
	if (rc == 0)
		fill_claims(&q, claims);
	return rc;
}
