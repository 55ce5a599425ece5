/* libFuzzer target for the SEV-SNP report parser and the verifier's handling
 * of untrusted VCEK certificates. Input: a report (1184 bytes) followed by a
 * VCEK in DER. Seeds: tests/fuzz/attest-seeds.sh. Any input must parse into
 * fields that encode back to the same fields, or fail with a one-line reason;
 * verification against AMD's Milan anchor must fail with a reason unless the
 * input is AMD's real report. */
#include <stdlib.h>
#include <string.h>

#include "attest/evidence.h"
#include "attest/snp.h"
#include "attest_fixture.h"

static struct veil_snp_anchor milan;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	milan.product = "Milan";
	milan.ark_der = fuzz_fixture_cert("snp_ark_milan.pem", &milan.ark_len);
	milan.ask_der = fuzz_fixture_cert("snp_ask_milan.pem", &milan.ask_len);
	return 0;
}

static void check_reason(veil_err_t *err)
{
	if (*err == NULL || (*err)->msg[0] == '\0' || strchr((*err)->msg, '\n') != NULL)
		abort();
	veil_error_free(err);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	veil_err_t err = NULL;
	struct veil_snp_report r, again;
	size_t report_len = size < VEIL_SNP_REPORT_SIZE ? size : VEIL_SNP_REPORT_SIZE;
	if (veil_snp_report_parse(data, report_len, &r, &err) == 0) {
		uint8_t encoded[VEIL_SNP_REPORT_SIZE];
		veil_snp_report_encode(&r, encoded);
		if (veil_snp_report_parse(encoded, sizeof(encoded), &again, NULL) != 0 || memcmp(&r, &again, sizeof(r)) != 0)
			abort();
	} else {
		check_reason(&err);
	}
	struct veil_evidence_claims claims;
	if (veil_snp_verify(data, report_len, data + report_len, size - report_len, &milan, 1, &claims, &err) == 0) {
		if (claims.tee != VEIL_TEE_SNP || err != NULL)
			abort();
	} else {
		check_reason(&err);
	}
	return 0;
}
