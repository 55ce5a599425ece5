/* libFuzzer target for the TDX quote parser and verifier. Input: a quote.
 * Seeds: tests/fuzz/attest-seeds.sh (the real SPR quote, whose PEM chain and
 * lengths the fuzzer can mutate behind valid signatures). Any input must
 * parse into pointers inside the input, or fail with a one-line reason;
 * verification against the Intel SGX root CA must give claims that match
 * the parsed body, or a reason. */
#include <stdlib.h>
#include <string.h>

#include "attest/evidence.h"
#include "attest/tdx.h"
#include "attest_fixture.h"

static uint8_t *root;
static size_t root_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	root = fuzz_fixture_cert("tdx_intel_sgx_root_ca.pem", &root_len);
	return 0;
}

static void check_reason(veil_err_t *err)
{
	if (*err == NULL || (*err)->msg[0] == '\0' || strchr((*err)->msg, '\n') != NULL)
		abort();
	veil_error_free(err);
}

static void check_inside(const uint8_t *p, size_t n, const uint8_t *data, size_t quote_len)
{
	if (p < data || n > quote_len || p + n > data + quote_len)
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	veil_err_t err = NULL;
	struct veil_tdx_quote q;
	int parsed = veil_tdx_quote_parse(data, size, &q, &err);
	if (parsed == 0) {
		if (err != NULL || q.quote_len > size)
			abort();
		check_inside(q.signed_part, VEIL_TDX_SIGNED_SIZE, data, q.quote_len);
		check_inside(q.signature, 64, data, q.quote_len);
		check_inside(q.attest_key, 64, data, q.quote_len);
		check_inside(q.qe_report, VEIL_TDX_QE_REPORT_SIZE, data, q.quote_len);
		check_inside(q.qe_report_signature, 64, data, q.quote_len);
		check_inside(q.qe_auth_data, q.qe_auth_len, data, q.quote_len);
		check_inside(q.pck_chain, q.pck_chain_len, data, q.quote_len);
	} else {
		check_reason(&err);
	}
	struct veil_evidence_claims claims;
	if (veil_tdx_verify(data, size, root, root_len, &claims, &err) == 0) {
		if (parsed != 0 || err != NULL || claims.tee != VEIL_TEE_TDX ||
		    memcmp(claims.measurement, q.body.mrtd, 48) != 0 || memcmp(claims.init_data, q.body.mrconfigid, 48) != 0)
			abort();
	} else {
		check_reason(&err);
	}
	return 0;
}
