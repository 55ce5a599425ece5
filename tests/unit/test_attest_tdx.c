/* The TDX verifier against a real v4 quote (go-tdx-guest's SPR E4 fixture)
 * and the Intel SGX root CA: it verifies, and any change to a signed byte,
 * to the signature data or to a certificate of the PCK chain fails. */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "attest/evidence.h"
#include "attest/tdx.h"
#include "attest_fixtures.h"
#include "tap.h"

static struct fixture quote, root, milan_ark;

static int verify(const uint8_t *q, size_t len, const uint8_t *r, size_t r_len, struct veil_evidence_claims *claims,
		  char *why, size_t why_size)
{
	veil_err_t err = NULL;
	int rc = veil_tdx_verify(q, len, r, r_len, claims, &err);
	if (why != NULL)
		snprintf(why, why_size, "%s", err != NULL ? err->msg : "(verified)");
	if ((rc < 0) != (err != NULL))
		rc = 1;
	veil_error_free(&err);
	return rc;
}

static void expect_refusal(const uint8_t *q, size_t len, const uint8_t *r, size_t r_len, const char *want,
			   const char *what)
{
	struct veil_evidence_claims c;
	char why[1024];
	int rc = verify(q, len, r, r_len, &c, why, sizeof(why));
	if (!CHECK(rc == -1 && strstr(why, want) != NULL, "%s is refused: \"%s\"", what, want))
		printf("#   got rc %d: %s\n", rc, why);
}

static void test_real_quote_verifies(void)
{
	struct veil_evidence_claims c;
	char why[1024];
	int rc = verify(quote.data, quote.len, root.data, root.len, &c, why, sizeof(why));
	if (!CHECK(rc == 0, "the SPR E4 quote verifies to the Intel SGX root CA"))
		printf("#   %s\n", why);
	const uint8_t *body = quote.data + VEIL_TDX_HEADER_SIZE;
	CHECK(c.tee == VEIL_TEE_TDX && strcmp(veil_tee_name(c.tee), "tdx") == 0, "claims say tdx");
	CHECK(memcmp(c.measurement, body + 136, 48) == 0, "claims carry MRTD");
	CHECK(c.init_data_len == 48 && memcmp(c.init_data, body + 184, 48) == 0, "claims carry MRCONFIGID");
	CHECK(memcmp(c.rtmr, body + 328, 4 * 48) == 0, "claims carry RTMR0-3");
	CHECK(memcmp(c.report_data, body + 520, 64) == 0, "claims carry REPORTDATA");
	CHECK(!c.debug && c.svn == 0 && c.reported_tcb == 0 && c.snp_policy == 0, "not debuggable; SNP-only claims zero");

	struct veil_tdx_quote q;
	CHECK(veil_tdx_quote_parse(quote.data, quote.len, &q, NULL) == 0 && q.quote_len == 4935 && q.qe_auth_len == 32,
	      "the quote fills 4935 of the fixture's %zu bytes, with 32 bytes of QE auth data", quote.len);
	CHECK(verify(quote.data, q.quote_len, root.data, root.len, &c, NULL, 0) == 0,
	      "the quote without the trailing bytes verifies too");
	uint8_t *copy = malloc(quote.len);
	memcpy(copy, quote.data, quote.len);
	for (size_t i = q.quote_len; i < quote.len; i++)
		copy[i] ^= 0xff;
	CHECK(verify(copy, quote.len, root.data, root.len, &c, NULL, 0) == 0,
	      "bytes after the quote's end are not part of it");
	free(copy);
}

static void test_malformed(void)
{
	uint8_t *copy = malloc(quote.len);
	struct { size_t offset; uint8_t value; const char *want, *what; } cases[] = {
		{ 0, 3, "version: expected 4, got 3", "a version 3 quote" },
		{ 2, 3, "attestation key type: expected 2", "another attestation key type" },
		{ 4, 0, "TEE type: expected 0x81 (TDX), got 0x0", "an SGX quote" },
		{ 12, 0, "QE vendor ID: expected Intel's 939a7233", "another QE vendor" },
		{ 636 + 128, 5, "certification data type: expected 6, got 5", "certification data of type 5 at the top" },
		{ 632, 0xcc, "after the certification data", "signature data longer than its content" },
		{ 633, 0x20, "overruns the quote", "signature data longer than the quote" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(copy, quote.data, quote.len);
		copy[cases[i].offset] = cases[i].value;
		expect_refusal(copy, quote.len, root.data, root.len, cases[i].want, cases[i].what);
	}
	expect_refusal(quote.data, 600, root.data, root.len, "shorter than header and TD report", "a truncated quote");
	expect_refusal(quote.data, 4000, root.data, root.len, "overruns the quote", "a quote cut in its signature data");
	free(copy);
}

static void test_wrong_root(void)
{
	expect_refusal(quote.data, quote.len, milan_ark.data, milan_ark.len,
		       "TDX PCK chain does not verify to the configured root \"/OU=Engineering/C=US/L=Santa Clara/ST=CA/O=Advanced Micro Devices/CN=ARK-Milan\"",
		       "the quote against AMD's ARK as root");
	expect_refusal(quote.data, quote.len, root.data, 0, "TDX root: no certificate", "the quote with no root");
	expect_refusal(quote.data, quote.len, root.data, root.len - 1, "TDX root: not a DER",
		       "the quote with a truncated root");
}

/* Flips one bit in each byte of [from, to) of buf and counts accepted verifications. */
static size_t flips_accepted(uint8_t *buf, size_t from, size_t to, size_t *first)
{
	size_t accepted = 0;
	struct veil_evidence_claims c;
	for (size_t i = from; i < to; i++) {
		buf[i] ^= 0x01;
		if (verify(quote.data, quote.len, root.data, root.len, &c, NULL, 0) != -1 && accepted++ == 0)
			*first = i;
		buf[i] ^= 0x01;
	}
	return accepted;
}

/* The PCK chain's certificates as DER, and their PEM re-encoding. */
static int chain_der(const struct veil_tdx_quote *q, unsigned char *der[3], int len[3])
{
	BIO *bio = BIO_new_mem_buf(q->pck_chain, (int)q->pck_chain_len);
	int n = 0;
	X509 *cert;
	while (n < 3 && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		der[n] = NULL;
		len[n] = i2d_X509(cert, &der[n]);
		X509_free(cert);
		n++;
	}
	BIO_free(bio);
	return n;
}

/* Writes the PEM of the certificates over the chain in the quote; false if
 * the encoding differs in length (then the quote is not canonical PEM). */
static int splice_chain(const struct veil_tdx_quote *q, unsigned char *der[3], int len[3])
{
	BIO *out = BIO_new(BIO_s_mem());
	for (int i = 0; i < 3; i++)
		PEM_write_bio(out, "CERTIFICATE", "", der[i], len[i]);
	char *pem;
	long pem_len = BIO_get_mem_data(out, &pem);
	int ok = (size_t)pem_len == q->pck_chain_len;
	if (ok)
		memcpy((uint8_t *)q->pck_chain, pem, (size_t)pem_len);
	BIO_free(out);
	return ok;
}

static void test_every_byte(void)
{
	struct veil_tdx_quote q;
	veil_tdx_quote_parse(quote.data, quote.len, &q, NULL);
	size_t chain_start = (size_t)(q.pck_chain - quote.data), first = 0;
	size_t n = flips_accepted(quote.data, 0, chain_start, &first);
	if (!CHECK(n == 0, "flipping any of the %zu bytes before the PCK chain fails (header, TD report, signature, "
			   "attestation key, QE report, its signature, QE auth data, lengths)", chain_start))
		printf("#   %zu flips accepted, the first at offset %zu\n", n, first);

	unsigned char *der[3];
	int len[3];
	if (!CHECK(chain_der(&q, der, len) == 3 && splice_chain(&q, der, len), "the PCK chain is three canonical PEM certificates"))
		return;
	static const char *names[] = { "PCK certificate", "PCK Platform CA", "root CA (the quote's copy)" };
	struct veil_evidence_claims c;
	for (int i = 0; i < 3; i++) {
		size_t accepted = 0;
		for (int j = 0; j < len[i]; j++) {
			der[i][j] ^= 0x01;
			splice_chain(&q, der, len);
			if (verify(quote.data, quote.len, root.data, root.len, &c, NULL, 0) != -1 && accepted++ == 0)
				first = (size_t)j;
			der[i][j] ^= 0x01;
		}
		splice_chain(&q, der, len);
		if (!CHECK(accepted == 0, "flipping any byte of the %s's DER (%d bytes) fails", names[i], len[i]))
			printf("#   %s: %zu flips accepted, the first at %zu\n", names[i], accepted, first);
	}
	der[2][len[2] - 1] ^= 0x01; /* in the signature: the copy still parses */
	splice_chain(&q, der, len);
	expect_refusal(quote.data, quote.len, root.data, root.len,
		       "certificate 3 (\"/CN=Intel SGX Root CA/O=Intel Corporation/L=Santa Clara/ST=CA/C=US\") is not on the verified path",
		       "a quote whose copy of the root is not the configured root");
	der[2][len[2] - 1] ^= 0x01;
	splice_chain(&q, der, len);
	for (int i = 0; i < 3; i++)
		OPENSSL_free(der[i]);
	CHECK(verify(quote.data, quote.len, root.data, root.len, &c, NULL, 0) == 0, "restored, the quote verifies again");
}

int main(void)
{
	quote = fixture_load("tdx_quote_spr_e4.dat");
	root = fixture_load_pem_cert("tdx_intel_sgx_root_ca.pem");
	milan_ark = fixture_load_pem_cert("snp_ark_milan.pem");

	test_real_quote_verifies();
	test_malformed();
	test_wrong_root();
	test_every_byte();

	fixture_free(&quote);
	fixture_free(&root);
	fixture_free(&milan_ark);
	return tap_done();
}
