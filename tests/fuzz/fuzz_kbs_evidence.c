/* libFuzzer target for the evidence JSON the KBS reads before any
 * signature check: SNP (the report in sev's serde form, the VCEK in a
 * cert_chain) and TDX (a base64 quote). A report that parses must come
 * back to the same JSON. */
#include <stdlib.h>
#include <string.h>

#include "attest/kbs_proto.h"
#include "attest/snp_json.h"
#include "lib/json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	json_object *doc = NULL;
	if (veil_json_parse((const char *)data, size, "fuzz", &doc, NULL) < 0)
		return 0;
	uint8_t report[VEIL_SNP_REPORT_SIZE];
	uint8_t *vcek = NULL, *quote = NULL;
	size_t len = 0;
	veil_err_t err = NULL;
	if (veil_kbs_snp_evidence_parse(doc, report, &vcek, &len, &err) == 0) {
		json_object *again = veil_snp_report_to_json(report, NULL);
		uint8_t twice[VEIL_SNP_REPORT_SIZE];
		if (again != NULL && (veil_snp_report_from_json(again, twice, NULL) < 0 || memcmp(report, twice, sizeof(twice)) != 0))
			abort();
		json_object_put(again);
		free(vcek);
	} else if (err == NULL) {
		abort();
	}
	veil_error_free(&err);
	if (veil_kbs_tdx_evidence_parse(doc, &quote, &len, &err) == 0)
		free(quote);
	veil_error_free(&err);
	json_object_put(doc);
	return 0;
}
