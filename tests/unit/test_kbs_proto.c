/* KBS protocol messages: builders and strict parsers, REPORT_DATA binding. */
#include <stdlib.h>
#include <string.h>

#include "attest/kbs_proto.h"
#include "lib/cleanup.h"
#include "lib/hex.h"
#include "lib/json.h"
#include "attest_fixtures.h"
#include "tap.h"

static void test_request_and_challenge(void)
{
	cleanup_free char *req = veil_kbs_request_build(VEIL_KBS_TEE_TDX, VEIL_KBS_V0_1_1);
	enum veil_kbs_tee tee = 0;
	enum veil_kbs_version version = VEIL_KBS_V0_4_0;
	veil_err_t err = NULL;
	CHECK(req != NULL && strcmp(req, "{\"version\":\"0.1.1\",\"tee\":\"tdx\",\"extra-params\":\"\"}") == 0,
	      "Request as Trustee's kbs-types writes it");
	CHECK(veil_kbs_request_parse(req, strlen(req), &tee, &version, &err) == 0 && tee == VEIL_KBS_TEE_TDX &&
		      version == VEIL_KBS_V0_1_1,
	      "Request parses");
	cleanup_free char *req4 = veil_kbs_request_build(VEIL_KBS_TEE_SNP, VEIL_KBS_V0_4_0);
	CHECK(veil_kbs_request_parse(req4, strlen(req4), &tee, &version, &err) == 0 && version == VEIL_KBS_V0_4_0 &&
		      strstr(req4, "\"version\":\"0.4.0\"") != NULL,
	      "a 0.4.0 Request, as Trustee's KBS wants today");
	const char *obj = "{\"version\":\"0.1.1\",\"tee\":\"snp\",\"extra-params\":{}}";
	CHECK(veil_kbs_request_parse(obj, strlen(obj), &tee, &version, &err) == 0 && tee == VEIL_KBS_TEE_SNP,
	      "extra-params may be an object");
	static const struct {
		const char *body, *msg;
	} bad[] = {
		{ "{\"version\":\"0.2.0\",\"tee\":\"snp\"}",
		  "KBS protocol version mismatch: expected 0.1.1 or 0.4.0, the client speaks 0.2.0" },
		{ "{\"version\":\"0.1.1\",\"tee\":\"sgx\"}", "KBS Request: tee \"sgx\" is not supported (snp, tdx)" },
		{ "{\"version\":\"0.1.1\"}", "KBS Request: missing \"tee\"" },
		{ "{\"version\":\"0.1.1\",\"tee\":\"snp\",\"x\":1}", "KBS Request: unexpected member \"x\"" },
		{ "{\"version\":\"0.1.1\",\"tee\":\"snp\",\"extra-params\":5}",
		  "KBS Request: \"extra-params\" must be a string or an object" },
		{ "{\"version\":1,\"tee\":\"snp\"}", "KBS Request: \"version\" must be a string" },
		{ "{\"version\":\"0.1.1\",", "KBS Request: invalid JSON: unexpected end of data at line 1, column 20" },
		{ "[]", "KBS Request: expected a JSON object" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_expect_error(veil_kbs_request_parse(bad[i].body, strlen(bad[i].body), &tee, &version, &err), &err, bad[i].msg,
			     "bad Request");
	char big[VEIL_KBS_MAX_REQUEST + 2];
	memset(big, ' ', sizeof(big));
	tap_expect_error(veil_kbs_request_parse(big, sizeof(big), &tee, &version, &err), &err,
		     "KBS Request: body of 4098 bytes, at most 4096", "oversize Request");

	cleanup_free char *ch = veil_kbs_challenge_build("bm9uY2U=");
	char nonce[VEIL_KBS_NONCE_MAX + 1];
	bool tenancy = false;
	CHECK(veil_kbs_challenge_parse(ch, strlen(ch), nonce, &tenancy, &err) == 0 && strcmp(nonce, "bm9uY2U=") == 0,
	      "Challenge round trip");
	CHECK(tenancy && strstr(ch, "\"extra-params\":\"veil-tenancy-v1\"") != NULL,
	      "veil-kbs's Challenge asks for the tenancy history in extra-params");
	const char *trustee = "{\"nonce\":\"bm9uY2U=\",\"extra-params\":\"\"}";
	CHECK(veil_kbs_challenge_parse(trustee, strlen(trustee), nonce, &tenancy, &err) == 0 && !tenancy,
	      "Trustee's Challenge (extra-params \"\") asks for none");
	const char *empty = "{\"nonce\":\"\",\"extra-params\":\"\"}";
	tap_expect_error(veil_kbs_challenge_parse(empty, strlen(empty), nonce, NULL, &err), &err,
		     "KBS Challenge: nonce of 0 characters (1 to 128)", "empty nonce");
}

static void test_attestation(void)
{
	veil_err_t err = NULL;
	/* The P-256 generator as tee-pubkey: a fixed input for a fixed digest. */
	cleanup_json json_object *jwk = NULL;
	const char *jwk_text = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ECDH-ES+A256KW\","
			       "\"x\":\"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY\","
			       "\"y\":\"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU\"}";
	veil_json_parse(jwk_text, strlen(jwk_text), "jwk", &jwk, &err);
	uint8_t rd[64];
	CHECK(veil_kbs_report_data(VEIL_KBS_V0_1_1, "bm9uY2U=", jwk, NULL, rd, &err) == 0, "REPORT_DATA computed");
	char hex[129];
	veil_hex_encode(rd, 64, hex);
	/* Python: hashlib.sha384(json.dumps({"nonce":..,"tee-pubkey":..}, sort_keys=True, separators=(",",":")).encode()) */
	CHECK(strcmp(hex, "2618c501952d6ba91a9c3b212af7737ad99b328f06d5ca11d612104a1659ec1d916f35e6ca768d2a54ca1f4ee49cac40"
			  "00000000000000000000000000000000") == 0,
	      "REPORT_DATA: SHA-384 of runtime-data's canonical JSON, as Python computes it");
	static const uint8_t zeros[16];
	CHECK(memcmp(rd + 48, zeros, 16) == 0, "SHA-384 zero-padded to 64 bytes");

	cleanup_json json_object *ev = veil_kbs_tdx_evidence_build((const uint8_t *)"quote", 5);
	cleanup_free char *body =
		veil_kbs_attestation_build(VEIL_KBS_V0_1_1, "bm9uY2U=", jwk, NULL, ev, "version = \"0.1.0\"\n", 18, &err);
	struct veil_kbs_attestation att;
	CHECK(body != NULL && veil_kbs_attestation_parse(VEIL_KBS_V0_1_1, body, strlen(body), &att, &err) == 0,
	      "Attestation round trip");
	CHECK(strcmp(att.nonce, "bm9uY2U=") == 0 && att.alg == VEIL_JWE_ECDH_ES_A256KW && memcmp(att.report_data, rd, 64) == 0 &&
		      att.init_data_len == 18 && strcmp(att.init_data, "version = \"0.1.0\"\n") == 0 && !att.has_tenancy,
	      "Attestation fields, REPORT_DATA from runtime-data");
	uint8_t *quote = NULL;
	size_t qlen = 0;
	CHECK(veil_kbs_tdx_evidence_parse(att.evidence, &quote, &qlen, &err) == 0 && qlen == 5 && memcmp(quote, "quote", 5) == 0,
	      "TDX evidence round trip");
	free(quote);
	veil_kbs_attestation_free(&att);

	static const struct {
		const char *body, *msg;
	} bad[] = {
		{ "{\"runtime-data\":{\"nonce\":\"n\"},\"tee-evidence\":{}}", "KBS Attestation runtime-data: missing \"tee-pubkey\"" },
		{ "{\"runtime-data\":{\"nonce\":\"n\",\"tee-pubkey\":{},\"x\":1},\"tee-evidence\":{}}",
		  "KBS Attestation runtime-data: unexpected member \"x\"" },
		{ "{\"runtime-data\":{\"nonce\":\"n\",\"tee-pubkey\":{\"kty\":\"EC\"}},\"tee-evidence\":{}}",
		  "tee-pubkey JWK: missing \"alg\"" },
		{ "{\"tee-pubkey\":{},\"tee-evidence\":{}}", "KBS Attestation: unexpected member \"tee-pubkey\"" },
		{ "{\"runtime-data\":{\"nonce\":\"n\",\"tee-pubkey\":{}},\"tee-evidence\":\"x\"}",
		  "KBS Attestation: \"tee-evidence\" must be an object" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_expect_error(veil_kbs_attestation_parse(VEIL_KBS_V0_1_1, bad[i].body, strlen(bad[i].body), &att, &err), &err,
			     bad[i].msg, "bad Attestation");

	/* The tenancy history, when veil-kbs asks: in runtime-data, so in REPORT_DATA. */
	struct veil_tenancy t = { .tenants = 2, .scrubbed = 1, .containers = 0 };
	memset(t.history, 0x0a, sizeof(t.history));
	uint8_t rdt[64];
	CHECK(veil_kbs_report_data(VEIL_KBS_V0_1_1, "bm9uY2U=", jwk, &t, rdt, &err) == 0, "REPORT_DATA with tenancy computed");
	veil_hex_encode(rdt, 48, hex);
	/* Python: the same runtime-data with "tenancy": {"tenants": 2, "scrubbed": 1, "containers": 0, "history": "0a" * 48} */
	CHECK(strcmp(hex, "cbf0ddd29da8a540c996a0919db8471d0e18347ce592eb4326d0da33474be068878c0ed72c20cb58c4110cf56b8b804f") ==
		      0,
	      "REPORT_DATA binds the tenancy history, as Python computes it");
	cleanup_free char *bodyt = veil_kbs_attestation_build(VEIL_KBS_V0_1_1, "bm9uY2U=", jwk, &t, ev, NULL, 0, &err);
	CHECK(bodyt != NULL && veil_kbs_attestation_parse(VEIL_KBS_V0_1_1, bodyt, strlen(bodyt), &att, &err) == 0 &&
		      att.has_tenancy && att.tenancy.tenants == 2 && att.tenancy.scrubbed == 1 && att.tenancy.containers == 0 &&
		      memcmp(att.tenancy.history, t.history, 48) == 0 && memcmp(att.report_data, rdt, 64) == 0,
	      "tenancy round trip");
	veil_kbs_attestation_free(&att);
#define HISTORY "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"
	static const struct {
		const char *tenancy, *msg;
	} bad_tenancy[] = {
		{ "{\"tenants\":1,\"scrubbed\":2,\"containers\":0,\"history\":\"" HISTORY "\"}",
		  "KBS Attestation runtime-data tenancy: 2 scrubbed of 1 tenants" },
		{ "{\"tenants\":-1,\"scrubbed\":0,\"containers\":0,\"history\":\"" HISTORY "\"}",
		  "KBS Attestation runtime-data tenancy: \"tenants\" is not 0..1000000" },
		{ "{\"tenants\":0,\"scrubbed\":0,\"containers\":0,\"history\":\"0a0a\"}",
		  "KBS Attestation runtime-data tenancy: \"history\" is not 96 hex digits" },
		{ "{\"tenants\":0,\"scrubbed\":0,\"history\":\"" HISTORY "\"}",
		  "KBS Attestation runtime-data tenancy: missing \"containers\"" },
	};
#undef HISTORY
	for (size_t i = 0; i < sizeof(bad_tenancy) / sizeof(bad_tenancy[0]); i++) {
		char doc[1024];
		snprintf(doc, sizeof(doc), "{\"runtime-data\":{\"nonce\":\"n\",\"tee-pubkey\":%s,\"tenancy\":%s},\"tee-evidence\":{}}",
			 jwk_text, bad_tenancy[i].tenancy);
		tap_expect_error(veil_kbs_attestation_parse(VEIL_KBS_V0_1_1, doc, strlen(doc), &att, &err), &err, bad_tenancy[i].msg,
			     "bad tenancy");
	}

	/* 0.4.0: composite evidence, and "additional-evidence" in the hash. */
	uint8_t rd4[64];
	CHECK(veil_kbs_report_data(VEIL_KBS_V0_4_0, "bm9uY2U=", jwk, NULL, rd4, &err) == 0, "0.4.0 REPORT_DATA computed");
	veil_hex_encode(rd4, 64, hex);
	CHECK(strcmp(hex, "710ae490f150a7b6ba70b1a4d89a42ffe518b3ac18d855f94e06a135b4dfc577ca44cc6467337f0d3da2b19308b4acb6"
			  "00000000000000000000000000000000") == 0,
	      "0.4.0 REPORT_DATA: runtime-data with \"additional-evidence\": \"\", as Python computes it");
	cleanup_free char *body4 = veil_kbs_attestation_build(VEIL_KBS_V0_4_0, "bm9uY2U=", jwk, NULL, ev, NULL, 0, &err);
	CHECK(body4 != NULL && strstr(body4, "\"tee-evidence\":{\"primary_evidence\":{\"quote\":") != NULL &&
		      strstr(body4, "\"additional_evidence\":\"\"") != NULL,
	      "0.4.0 Attestation: composite tee-evidence");
	CHECK(veil_kbs_attestation_parse(VEIL_KBS_V0_4_0, body4, strlen(body4), &att, &err) == 0 &&
		      memcmp(att.report_data, rd4, 64) == 0 && json_object_object_get(att.evidence, "quote") != NULL,
	      "0.4.0 Attestation parses to the primary evidence");
	veil_kbs_attestation_free(&att);
	const char *devices = "{\"runtime-data\":{\"nonce\":\"n\",\"tee-pubkey\":{\"kty\":\"EC\",\"crv\":\"P-256\","
			      "\"alg\":\"ECDH-ES+A256KW\",\"x\":\"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY\","
			      "\"y\":\"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU\"}},"
			      "\"tee-evidence\":{\"primary_evidence\":{},\"additional_evidence\":\"{}\"}}";
	tap_expect_error(veil_kbs_attestation_parse(VEIL_KBS_V0_4_0, devices, strlen(devices), &att, &err), &err,
		     "KBS Attestation tee-evidence: additional (device) evidence is not supported", "device evidence");
}

static void test_snp_evidence_and_errors(void)
{
	veil_err_t err = NULL;
	struct fixture milan = fixture_load_hex("snp_report_milan.hex");
	uint8_t vcek[3] = { 0x30, 0x82, 0xff };
	cleanup_json json_object *ev = veil_kbs_snp_evidence_build(milan.data, milan.len, vcek, 3, &err);
	const char *text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
	CHECK(strstr(text, "\"cert_chain\":[{\"cert_type\":\"VCEK\",\"data\":[48,130,255]}]") != NULL &&
		      json_object_is_type(json_object_object_get(ev, "attestation_report"), json_type_object),
	      "SNP evidence: the report as sev's serde object, cert_chain as its CertTableEntry list");
	uint8_t report[VEIL_SNP_REPORT_SIZE];
	uint8_t *v = NULL;
	size_t vl = 0;
	CHECK(veil_kbs_snp_evidence_parse(ev, report, &v, &vl, &err) == 0 && memcmp(report, milan.data, sizeof(report)) == 0 &&
		      vl == 3 && memcmp(v, vcek, 3) == 0,
	      "SNP evidence round trip");
	free(v);
	CHECK(veil_kbs_snp_evidence_build(milan.data, 100, vcek, 3, &err) == NULL &&
		      strcmp(err->msg, "SNP evidence: a report of 100 bytes, expected 1184") == 0,
	      "a short report is refused");
	veil_error_free(&err);
	fixture_free(&milan);
	static const struct {
		const char *body, *msg;
	} bad[] = {
		{ "{\"attestation_report\":{},\"cert_chain\":[]}", "SNP evidence: cert_chain has no VCEK" },
		{ "{\"attestation_report\":{},\"cert_chain\":[{\"cert_type\":\"VCEK\",\"data\":[256]}]}",
		  "SNP evidence VCEK: byte 0 is not an integer 0..255" },
		{ "{\"attestation_report\":\"AAAA\",\"cert_chain\":[{\"cert_type\":\"VCEK\",\"data\":[1]}]}",
		  "SNP evidence: \"attestation_report\" must be an object" },
		{ "{\"attestation_report\":{},\"cert_chain\":[{\"cert_type\":\"VCEK\",\"data\":[1]}]}",
		  "SNP attestation_report: missing \"version\"" },
		{ "{\"cert_chain\":[]}", "SNP evidence: missing \"attestation_report\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cleanup_json json_object *o = NULL;
		veil_json_parse(bad[i].body, strlen(bad[i].body), "t", &o, NULL);
		tap_expect_error(veil_kbs_snp_evidence_parse(o, report, &v, &vl, &err), &err, bad[i].msg, "bad SNP evidence");
	}

	cleanup_free char *e = veil_kbs_error_build("PolicyDeny", "resource a/b/c: not granted");
	CHECK(strcmp(e, "{\"type\":\"https://github.com/confidential-containers/kbs/errors/PolicyDeny\","
			"\"detail\":\"resource a/b/c: not granted\"}") == 0,
	      "error body as Trustee's ErrorInformation");
	/* A detail cut in the middle of a character (here U+20AC) stays valid JSON. */
	cleanup_free char *cut = veil_kbs_error_build("AttestationError", "member \"a\xe2\x82\" x\xff");
	CHECK(cut != NULL && strstr(cut, "\"detail\":\"member \\\"a??\\\" x?\"") != NULL,
	      "an error detail cut inside a UTF-8 character is made valid");
	char *kind = NULL, *detail = NULL;
	CHECK(veil_kbs_error_parse(e, strlen(e), &kind, &detail, &err) == 0 && strcmp(kind, "PolicyDeny") == 0 &&
		      strcmp(detail, "resource a/b/c: not granted") == 0,
	      "error body parses");
	free(kind);
	free(detail);
	cleanup_free char *t = veil_kbs_token_build("a.b.c");
	char *token = NULL;
	CHECK(veil_kbs_token_parse(t, strlen(t), &token, &err) == 0 && strcmp(token, "a.b.c") == 0, "token round trip");
	free(token);
}

int main(void)
{
	test_request_and_challenge();
	test_attestation();
	test_snp_evidence_and_errors();
	return tap_done();
}
