/* The SEV-SNP verifier against AMD's real evidence (a Milan report, its VCEK,
 * AMD's ARK and ASK): it verifies, and any change to a signed byte or to a
 * certificate fails. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "attest/evidence.h"
#include "attest/snp.h"
#include "attest_fixtures.h"
#include "tap.h"

static struct fixture report, vcek, milan_ark, milan_ask, genoa_ark, genoa_ask;

static int verify(const uint8_t *rep, size_t rep_len, const uint8_t *cert, size_t cert_len,
		  const struct veil_snp_anchor *anchors, size_t n, struct veil_evidence_claims *claims, char *why,
		  size_t why_size)
{
	veil_err_t err = NULL;
	int rc = veil_snp_verify(rep, rep_len, cert, cert_len, anchors, n, claims, &err);
	if (why != NULL)
		snprintf(why, why_size, "%s", err != NULL ? err->msg : "(verified)");
	if ((rc < 0) != (err != NULL))
		rc = 1; /* a failure without a reason, or a reason without failure: both wrong */
	veil_error_free(&err);
	return rc;
}

static struct veil_snp_anchor milan(void)
{
	return (struct veil_snp_anchor){ "Milan", milan_ark.data, milan_ark.len, milan_ask.data, milan_ask.len };
}

static struct veil_snp_anchor genoa(void)
{
	return (struct veil_snp_anchor){ "Genoa", genoa_ark.data, genoa_ark.len, genoa_ask.data, genoa_ask.len };
}

static void expect_refusal(const uint8_t *rep, size_t rep_len, const uint8_t *cert, size_t cert_len,
			   const struct veil_snp_anchor *anchors, size_t n, const char *want, const char *what)
{
	struct veil_evidence_claims claims;
	char why[1024];
	int rc = verify(rep, rep_len, cert, cert_len, anchors, n, &claims, why, sizeof(why));
	if (!CHECK(rc == -1 && strstr(why, want) != NULL, "%s is refused: \"%s\"", what, want))
		printf("#   got rc %d: %s\n", rc, why);
}

static void test_real_report_verifies(void)
{
	struct veil_snp_anchor anchors[] = { milan() };
	struct veil_evidence_claims c;
	char why[1024];
	int rc = verify(report.data, report.len, vcek.data, vcek.len, anchors, 1, &c, why, sizeof(why));
	if (!CHECK(rc == 0, "the Milan report verifies against AMD's Milan ARK/ASK"))
		printf("#   %s\n", why);
	CHECK(c.tee == VEIL_TEE_SNP && strcmp(veil_tee_name(c.tee), "snp") == 0, "claims say snp");
	CHECK(memcmp(c.measurement, report.data + 0x90, 48) == 0, "claims carry MEASUREMENT");
	CHECK(memcmp(c.report_data, report.data + 0x50, 64) == 0, "claims carry REPORT_DATA");
	CHECK(c.init_data_len == 32 && memcmp(c.init_data, report.data + 0xc0, 32) == 0, "claims carry HOST_DATA");
	CHECK(c.reported_tcb == 0x7308000000000003ULL, "REPORTED_TCB is bootloader 3, tee 0, snp 8, microcode 115");
	CHECK(c.snp_policy == 0x30000 && !c.debug && c.vmpl == 0 && c.svn == 0,
	      "policy 0x30000 (no debug), VMPL 0, guest SVN 0");
	CHECK(memcmp(c.chip_id, report.data + 0x1a0, 64) == 0, "claims carry CHIP_ID");

	struct veil_snp_anchor both[] = { genoa(), milan() };
	CHECK(verify(report.data, report.len, vcek.data, vcek.len, both, 2, &c, NULL, 0) == 0,
	      "the right anchor is found among several");
}

static void test_parse(void)
{
	struct veil_snp_report r;
	veil_err_t err = NULL;
	CHECK(veil_snp_report_parse(report.data, report.len, &r, &err) == 0 && r.version == 2 && r.vmpl == 0,
	      "the report parses: version 2, VMPL 0");
	uint8_t again[VEIL_SNP_REPORT_SIZE];
	veil_snp_report_encode(&r, again);
	CHECK(memcmp(again, report.data, VEIL_SNP_REPORT_SIZE) == 0, "encoding the parsed report gives it back");
	struct veil_snp_tcb t = veil_snp_tcb_decode(r.reported_tcb, VEIL_SNP_TCB_MILAN);
	CHECK(veil_snp_tcb_encode(t, VEIL_SNP_TCB_MILAN) == r.reported_tcb && t.microcode == 0x73,
	      "Milan TCB layout round-trips");
	struct veil_snp_tcb turin = { .fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 5 };
	CHECK(veil_snp_tcb_encode(turin, VEIL_SNP_TCB_TURIN) == 0x0500000004030201ULL,
	      "Turin TCB layout puts FMC first");
	veil_error_free(&err);
}

static void test_malformed(void)
{
	struct veil_snp_anchor anchors[] = { milan() };
	expect_refusal(report.data, report.len - 1, vcek.data, vcek.len, anchors, 1, "expected 1184 bytes, got 1183",
		       "a short report");
	uint8_t copy[VEIL_SNP_REPORT_SIZE];
	memcpy(copy, report.data, sizeof(copy));
	copy[0] = 9;
	expect_refusal(copy, sizeof(copy), vcek.data, vcek.len, anchors, 1, "version: expected 2 to 5, got 9",
		       "an unknown version");
	memcpy(copy, report.data, sizeof(copy));
	copy[0x34] = 2;
	expect_refusal(copy, sizeof(copy), vcek.data, vcek.len, anchors, 1, "signature algorithm: expected 1",
		       "another signature algorithm");
	memcpy(copy, report.data, sizeof(copy));
	copy[0x48] = 1 << 2;
	expect_refusal(copy, sizeof(copy), vcek.data, vcek.len, anchors, 1, "got 1 (VLEK, not supported)",
		       "a VLEK-signed report");
	expect_refusal(report.data, report.len, vcek.data, vcek.len - 1, anchors, 1, "VCEK: not a DER",
		       "a truncated VCEK");
}

/* Flips one bit in every byte of [from, to) and counts the verifications that still pass. */
static size_t flips_accepted(uint8_t *buf, size_t from, size_t to, const uint8_t *rep, size_t rep_len,
			     const uint8_t *cert, size_t cert_len, const struct veil_snp_anchor *anchors, size_t n,
			     size_t *first)
{
	size_t accepted = 0;
	struct veil_evidence_claims c;
	for (size_t i = from; i < to; i++) {
		buf[i] ^= 0x01;
		if (verify(rep, rep_len, cert, cert_len, anchors, n, &c, NULL, 0) != -1 && accepted++ == 0)
			*first = i;
		buf[i] ^= 0x01;
	}
	return accepted;
}

static void test_every_signed_byte(void)
{
	struct veil_snp_anchor anchors[] = { milan() };
	size_t first = 0;
	size_t n = flips_accepted(report.data, 0, 0x2a0 + 2 * VEIL_SNP_SIG_COMPONENT_SIZE, report.data, report.len,
				  vcek.data, vcek.len, anchors, 1, &first);
	if (!CHECK(n == 0, "flipping any byte of 0x000-0x29F or of the signature's r and s fails"))
		printf("#   %zu flips accepted, the first at offset 0x%zx\n", n, first);
	n = flips_accepted(vcek.data, 0, vcek.len, report.data, report.len, vcek.data, vcek.len, anchors, 1, &first);
	if (!CHECK(n == 0, "flipping any byte of the VCEK (%zu bytes) fails", vcek.len))
		printf("#   %zu flips accepted, the first at offset %zu\n", n, first);
	n = flips_accepted(milan_ask.data, 0, milan_ask.len, report.data, report.len, vcek.data, vcek.len, anchors, 1,
			   &first);
	if (!CHECK(n == 0, "flipping any byte of the ASK (%zu bytes) fails", milan_ask.len))
		printf("#   %zu flips accepted, the first at offset %zu\n", n, first);
	n = flips_accepted(milan_ark.data, 0, milan_ark.len, report.data, report.len, vcek.data, vcek.len, anchors, 1,
			   &first);
	if (!CHECK(n == 0, "flipping any byte of the ARK (%zu bytes) fails", milan_ark.len))
		printf("#   %zu flips accepted, the first at offset %zu\n", n, first);
}

static void test_field_checks(void)
{
	struct veil_snp_anchor anchors[] = { milan() };
	uint8_t copy[VEIL_SNP_REPORT_SIZE];
	memcpy(copy, report.data, sizeof(copy));
	copy[0x90] ^= 0x80;
	expect_refusal(copy, sizeof(copy), vcek.data, vcek.len, anchors, 1,
		       "SNP report signature (ECDSA P-384 over 0x000-0x29F) with the VCEK key does not verify",
		       "a changed MEASUREMENT");
	memcpy(copy, report.data, sizeof(copy));
	copy[0x2a0 + 60] = 1;
	expect_refusal(copy, sizeof(copy), vcek.data, vcek.len, anchors, 1, "non-zero bytes above bit 384",
		       "padding in the signature");
}

static void test_wrong_anchors(void)
{
	struct veil_snp_anchor g[] = { genoa() };
	expect_refusal(report.data, report.len, vcek.data, vcek.len, g, 1,
		       "is none of the configured anchors' ASKs (Genoa)", "a Milan report against the Genoa anchor");
	expect_refusal(report.data, report.len, vcek.data, vcek.len, NULL, 0, "(none configured)",
		       "a report with no anchors");
	struct veil_snp_anchor mixed[] = { { "Milan", genoa_ark.data, genoa_ark.len, milan_ask.data, milan_ask.len } };
	expect_refusal(report.data, report.len, vcek.data, vcek.len, mixed, 1,
		       "trust anchor: Milan ASK is issued by", "an anchor whose ASK the ARK did not sign");
	struct veil_snp_anchor ask_as_ark[] = { { "Milan", milan_ask.data, milan_ask.len, milan_ask.data,
						  milan_ask.len } };
	expect_refusal(report.data, report.len, vcek.data, vcek.len, ask_as_ark, 1, "trust anchor: Milan ARK",
		       "an ARK that is not self-signed");
	/* A VCEK in the ASK's place: signed by the ARK? no, and not PSS either. */
	struct veil_snp_anchor vcek_as_ask[] = { { "Milan", milan_ark.data, milan_ark.len, vcek.data, vcek.len } };
	expect_refusal(report.data, report.len, vcek.data, vcek.len, vcek_as_ask, 1, "trust anchor: Milan ASK",
		       "the VCEK configured as the ASK");
	expect_refusal(report.data, report.len, milan_ask.data, milan_ask.len, (struct veil_snp_anchor[]){ milan() },
		       1, "VCEK key: expected ECDSA P-384", "the ASK presented as the VCEK");
}

int main(void)
{
	report = fixture_load_hex("snp_report_milan.hex");
	vcek = fixture_load("snp_vcek_milan.der");
	milan_ark = fixture_load_pem_cert("snp_ark_milan.pem");
	milan_ask = fixture_load_pem_cert("snp_ask_milan.pem");
	genoa_ark = fixture_load_pem_cert("snp_ark_genoa.pem");
	genoa_ask = fixture_load_pem_cert("snp_ask_genoa.pem");
	CHECK(report.len == VEIL_SNP_REPORT_SIZE, "the fixture report has 1184 bytes");

	test_real_report_verifies();
	test_parse();
	test_malformed();
	test_field_checks();
	test_wrong_anchors();
	test_every_signed_byte();

	struct fixture *all[] = { &report, &vcek, &milan_ark, &milan_ask, &genoa_ark, &genoa_ask };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		fixture_free(all[i]);
	return tap_done();
}
