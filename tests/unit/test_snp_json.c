/* The SNP report in virtee/sev's serde form (attest/snp_json.h), checked
 * against Trustee's own SNP evidence: the bytes rebuilt from its JSON carry
 * AMD's signature, and the JSON written from those bytes is Trustee's. */
#include <stdlib.h>
#include <string.h>

#include "attest/evidence.h"
#include "attest/kbs_proto.h"
#include "attest/snp_json.h"
#include "attest_fixtures.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "tap.h"

static json_object *load_trustee_evidence(void)
{
	char path[4096];
	fixture_path("../kbs/trustee_snp_evidence_genoa.json", path, sizeof(path));
	veil_err_t err = NULL;
	size_t len = 0;
	cleanup_free char *text = veil_read_file(path, 1 << 20, &len, &err);
	json_object *o = NULL;
	if (text == NULL || veil_json_parse(text, len, path, &o, &err) < 0) {
		printf("Bail out! %s\n", err->msg);
		exit(1);
	}
	return o;
}

static bool same_json(json_object *a, json_object *b)
{
	cleanup_free char *ca = veil_json_canonical(a, NULL);
	cleanup_free char *cb = veil_json_canonical(b, NULL);
	return ca != NULL && cb != NULL && strcmp(ca, cb) == 0;
}

static void test_trustee_evidence(void)
{
	cleanup_json json_object *ev = load_trustee_evidence();
	struct fixture ark = fixture_load_pem_cert("snp_ark_genoa.pem"), ask = fixture_load_pem_cert("snp_ask_genoa.pem");
	struct veil_snp_anchor genoa = { "Genoa", ark.data, ark.len, ask.data, ask.len };
	uint8_t report[VEIL_SNP_REPORT_SIZE];
	cleanup_free uint8_t *vcek = NULL;
	size_t vcek_len = 0;
	veil_err_t err = NULL;
	CHECK(veil_kbs_snp_evidence_parse(ev, report, &vcek, &vcek_len, &err) == 0, "Trustee's SNP evidence parses");
	struct veil_evidence_claims claims;
	int rc = veil_snp_verify(report, sizeof(report), vcek, vcek_len, &genoa, 1, &claims, &err);
	if (!CHECK(rc == 0 && claims.tee == VEIL_TEE_SNP, "the rebuilt version 3 report verifies against AMD's Genoa root"))
		printf("#   %s\n", err ? err->msg : "");
	veil_error_free(&err);
	cleanup_json json_object *again = veil_snp_report_to_json(report, &err);
	CHECK(again != NULL && same_json(again, json_object_object_get(ev, "attestation_report")),
	      "the report's bytes written back are Trustee's JSON, member for member");
	cleanup_json json_object *built = veil_kbs_snp_evidence_build(report, sizeof(report), vcek, vcek_len, &err);
	CHECK(built != NULL && same_json(built, ev), "the whole evidence, built from bytes, is Trustee's");

	/* Any signed field changed in the JSON breaks AMD's signature. */
	json_object *measurement = json_object_object_get(json_object_object_get(ev, "attestation_report"), "measurement");
	json_object_array_put_idx(measurement, 0, json_object_new_int(json_object_get_int(json_object_array_get_idx(measurement, 0)) ^ 1));
	cleanup_free uint8_t *vcek2 = NULL;
	CHECK(veil_kbs_snp_evidence_parse(ev, report, &vcek2, &vcek_len, &err) == 0 &&
		      veil_snp_verify(report, sizeof(report), vcek2, vcek_len, &genoa, 1, &claims, &err) < 0,
	      "a measurement altered in the JSON fails the signature");
	veil_error_free(&err);
	fixture_free(&ark);
	fixture_free(&ask);
}

static void test_round_trip_v2(void)
{
	struct fixture milan = fixture_load_hex("snp_report_milan.hex");
	veil_err_t err = NULL;
	cleanup_json json_object *o = veil_snp_report_to_json(milan.data, &err);
	uint8_t back[VEIL_SNP_REPORT_SIZE];
	CHECK(o != NULL && json_object_get_type(json_object_object_get(o, "cpuid_fam_id")) == json_type_null &&
		      json_object_get_type(json_object_object_get(json_object_object_get(o, "reported_tcb"), "fmc")) == json_type_null,
	      "a version 2 report: no CPUID bytes, Milan's TCB layout (fmc null)");
	CHECK(o != NULL && veil_snp_report_from_json(o, back, &err) == 0 && memcmp(back, milan.data, sizeof(back)) == 0,
	      "AMD's real Milan report survives bytes -> JSON -> bytes");
	fixture_free(&milan);

	static const struct {
		const char *member, *value, *msg;
	} bad[] = {
		{ "vmpl", "\"0\"", "SNP attestation_report: \"vmpl\" must be an integer" },
		{ "measurement", "[1,2,3]", "SNP attestation_report: \"measurement\" must be an array of 48 bytes" },
		{ "cpuid_fam_id", "25", "SNP attestation_report: cpuid_fam_id, cpuid_mod_id and cpuid_step are set in version 3 "
					"reports and later, and only there (version 2)" },
		{ "extra", "1", "SNP attestation_report: unexpected member \"extra\"" },
		{ "version", "-1", "SNP attestation_report: \"version\" must be an integer 0..4294967295" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *copy = NULL;
		json_object_deep_copy(o, &copy, NULL);
		json_object *v = NULL;
		veil_json_parse(bad[i].value, strlen(bad[i].value), "v", &v, NULL);
		json_object_object_add(copy, bad[i].member, v);
		int rc = veil_snp_report_from_json(copy, back, &err);
		if (!CHECK(rc < 0 && strncmp(err->msg, bad[i].msg, strlen(bad[i].msg)) == 0, "refused: %s", bad[i].msg))
			printf("#   got %s\n", err ? err->msg : "(accepted)");
		veil_error_free(&err);
		json_object_put(copy);
	}
	json_object *copy = NULL;
	json_object_deep_copy(o, &copy, NULL);
	json_object_object_add(json_object_object_get(copy, "launch_tcb"), "fmc", json_object_new_int(1));
	CHECK(veil_snp_report_from_json(copy, back, &err) < 0 &&
		      strcmp(err->msg, "SNP attestation_report: \"fmc\" is null in some TCB versions and not in others") == 0,
	      "one TCB layout per report");
	veil_error_free(&err);
	json_object_put(copy);
}

int main(void)
{
	test_trustee_evidence();
	test_round_trip_v2();
	return tap_done();
}
