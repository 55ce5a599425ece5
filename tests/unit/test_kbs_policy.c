/* veil-kbs reference values and resource policy: parsing, every refusal's
 * wording, default deny, wildcards, init-data digests as TEE fields. */
#include <stdlib.h>
#include <string.h>

#include "kbs/kbs.h"
#include "tap.h"

#define M_A "abababababababababababababababababababababababababababababababababababababababababababababababab"
#define M_B "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
/* A sha384 init-data digest: HOST_DATA holds its first 32 bytes. */
#define D384 "010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748"

static struct kbs_claims claims(enum veil_tee tee, uint8_t m, bool debug)
{
	struct kbs_claims c = { .tee = tee, .debug = debug, .init_data_len = tee == VEIL_TEE_TDX ? 48 : 32 };
	memset(c.measurement, m, sizeof(c.measurement));
	return c;
}

static void test_reference(void)
{
	const char *text = "[emulated]\nmeasurements = [\"" M_A "\"]\ninit_data = [\"" D384 "\"]\n"
			   "[snp]\nmeasurements = [\"" M_A "\", \"" M_B "\"]\nallow_debug = true\n";
	struct kbs_policy p = { 0 };
	veil_err_t err = NULL;
	CHECK(kbs_reference_parse(text, strlen(text), &p, &err) == 0, "reference values parse");
	struct kbs_claims c = claims(VEIL_TEE_EMULATED, 0xab, false);
	static const uint8_t host_data[32] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11,
					       0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x20, 0x21, 0x22,
					       0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x30, 0x31, 0x32 };
	memcpy(c.init_data, host_data, 32);
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err, NULL, "matching measurement and truncated init-data digest");
	c.measurement[0] = 0;
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err,
	       "measurement 00ababababababababababababababababababababababababababababababababababababababababababababababab "
	       "is not in the reference values for emulated (expected " M_A ")",
	       "an unknown measurement is refused with both values");
	c = claims(VEIL_TEE_EMULATED, 0xab, false);
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err,
	       "init-data digest (HOST_DATA) 0000000000000000000000000000000000000000000000000000000000000000 is not in "
	       "the reference values for emulated (expected 0102030405060708091011121314151617181920212223242526272829303132)",
	       "init-data digest not in the reference values");
	c = claims(VEIL_TEE_EMULATED, 0xab, true);
	memcpy(c.init_data, host_data, 32);
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err,
	       "debug: the guest's policy allows debugging (expected no debug; set allow_debug in [emulated] to accept it)",
	       "a debug guest is refused unless allowed");
	c = claims(VEIL_TEE_SNP, 0xcd, true);
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err, NULL, "allow_debug accepts a debug guest; second measurement");
	c = claims(VEIL_TEE_TDX, 0xab, false);
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err, "no reference values for tdx: every tdx attestation is refused",
	       "a TEE without reference values is refused");
	kbs_policy_free(&p);

	const char *tdx = "[tdx]\nmeasurements = [\"" M_A "\"]\nrtmr2 = [\"" M_B "\"]\n";
	CHECK(kbs_reference_parse(tdx, strlen(tdx), &p, &err) == 0, "TDX reference values with an RTMR");
	memset(c.rtmr[2], 0xcd, 48);
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err, NULL, "RTMR2 matches");
	c.rtmr[2][47] = 0;
	tap_expect_error(kbs_reference_check(&p, &c, &err), &err,
	       "RTMR2 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd00 "
	       "is not in the reference values for tdx (expected " M_B ")",
	       "an RTMR not in the reference values is refused");
	kbs_policy_free(&p);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "[sgx]\n", "reference values: 1:2: unknown TEE \"sgx\" (snp, tdx, emulated)" },
		{ "[snp]\nmeasure = []\n", "reference values: 2:1: snp: unknown key \"measure\"" },
		{ "[snp]\nmeasurements = [\"abcd\"]\n",
		  "reference values: 2:17: measurements[0]: \"abcd\" is not a hex digest of 48 bytes" },
		{ "[snp]\ninit_data = [\"" M_A "zz\"]\n", NULL },
		{ "[snp]\nallow_debug = 1\n", "reference values: 2:15: snp.allow_debug: expected boolean, found integer" },
		{ "snp = 1\n", "reference values: 1:7: snp: expected table, found integer" },
		{ "[snp]\nrtmr0 = []\n", "reference values: 2:1: snp: unknown key \"rtmr0\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kbs_policy q = { 0 };
		int rc = kbs_reference_parse(bad[i].text, strlen(bad[i].text), &q, &err);
		if (bad[i].msg == NULL) {
			CHECK(rc < 0 && strstr(err->msg, "is not a hex digest of 32, 48 or 64 bytes") != NULL,
			      "a bad init-data digest is refused");
			veil_error_free(&err);
		} else {
			tap_expect_error(rc, &err, bad[i].msg, bad[i].msg);
		}
		kbs_policy_free(&q);
	}
}

static void test_rules(void)
{
	const char *text = "[resource.\"repo/key/exact\"]\ntee = [\"emulated\", \"snp\"]\n"
			   "[resource.\"repo/key/*\"]\ntee = [\"snp\"]\nmeasurements = [\"" M_B "\"]\n"
			   "[resource.\"repo/bound/one\"]\ntee = [\"tdx\"]\ninit_data = [\"" D384 "\"]\n";
	struct kbs_policy p = { 0 };
	veil_err_t err = NULL;
	CHECK(kbs_rules_parse(text, strlen(text), &p, &err) == 0 && p.n_rules == 3, "policy parses");
	struct kbs_claims emu = claims(VEIL_TEE_EMULATED, 0xab, false), snp_b = claims(VEIL_TEE_SNP, 0xcd, false);
	tap_expect_error(kbs_policy_check(&p, &emu, "repo/key/exact", &err), &err, NULL, "an exact rule grants");
	tap_expect_error(kbs_policy_check(&p, &emu, "repo/key/other", &err), &err,
	       "policy rule \"repo/key/*\": tee emulated is not among those it grants (snp)", "the wildcard rule applies");
	tap_expect_error(kbs_policy_check(&p, &snp_b, "repo/key/other", &err), &err, NULL, "the wildcard rule grants");
	struct kbs_claims snp_a = claims(VEIL_TEE_SNP, 0xab, false);
	tap_expect_error(kbs_policy_check(&p, &snp_a, "repo/key/other", &err), &err,
	       "measurement " M_A " is not in policy rule \"repo/key/*\" (expected " M_B ")", "a rule's measurements");
	tap_expect_error(kbs_policy_check(&p, &snp_a, "repo/other/x", &err), &err, "no policy rule grants repo/other/x (default deny)",
	       "default deny");
	struct kbs_claims tdx = claims(VEIL_TEE_TDX, 0xab, false);
	static const uint8_t d384[48] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11, 0x12,
					  0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x20, 0x21, 0x22, 0x23, 0x24,
					  0x25, 0x26, 0x27, 0x28, 0x29, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
					  0x37, 0x38, 0x39, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48 };
	memcpy(tdx.init_data, d384, 48);
	tap_expect_error(kbs_policy_check(&p, &tdx, "repo/bound/one", &err), &err, NULL, "MRCONFIGID matches a sha384 digest");
	tdx.init_data[47] = 0;
	CHECK(kbs_policy_check(&p, &tdx, "repo/bound/one", &err) < 0 && strstr(err->msg, "init-data digest") != NULL,
	      "a different MRCONFIGID is refused");
	veil_error_free(&err);
	kbs_policy_free(&p);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "[resource.\"a/b\"]\ntee = [\"snp\"]\n", "policy: resource \"a/b\": expected repo/type/tag" },
		{ "[resource.\"a/../c\"]\ntee = [\"snp\"]\n",
		  "policy: resource \"a/../c\": each of repo/type/tag must be 1 to 64 characters, not \".\", \"..\" or ending in \".tmp\"" },
		{ "[resource.\"a/b/c\"]\ntee = []\n", "policy: resource.\"a/b/c\": \"tee\" must list at least one of snp, tdx, emulated" },
		{ "[resource.\"a/b/c\"]\ntee = [\"sev\"]\n", "policy: resource.\"a/b/c\": tee \"sev\" is not snp, tdx or emulated" },
		{ "[resource.\"a/b/c\"]\ntee = [\"snp\"]\nowner = 1\n", "policy: 3:1: resource.\"a/b/c\": unknown key \"owner\"" },
		{ "[rules]\n", "policy: 1:2: policy: unknown key \"rules\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kbs_policy q = { 0 };
		tap_expect_error(kbs_rules_parse(bad[i].text, strlen(bad[i].text), &q, &err), &err, bad[i].msg, bad[i].msg);
		kbs_policy_free(&q);
	}
}

static void test_names(void)
{
	veil_err_t err = NULL;
	static const char *const good[] = { "default/key/one", "a.b/c_d/e-f", "x/y/z.tmpx" };
	for (size_t i = 0; i < 3; i++)
		CHECK(veil_kbs_resource_path_check(good[i], NULL) == 0, "resource name %s", good[i]);
	static const char *const bad[] = { "", "a/b", "a/b/c/d", "a//c", "./b/c", "a/b/..", "a/b/c.tmp", "a/b/c d",
					   "a/b/\xc3\xa9", "/a/b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(veil_kbs_resource_path_check(bad[i], &err) < 0, "refused name \"%s\"", bad[i]);
		veil_error_free(&err);
	}
}

/* vm = "fresh" | "scrubbed": what a rule demands of the VM's tenancy history. */
static void test_vm_demands(void)
{
	const char *text = "[resource.\"a/b/fresh\"]\ntee = [\"emulated\"]\nvm = \"fresh\"\n"
			   "[resource.\"a/b/scrubbed\"]\ntee = [\"emulated\"]\nvm = \"scrubbed\"\n"
			   "[resource.\"a/b/any\"]\ntee = [\"emulated\"]\nvm = \"any\"\n";
	struct kbs_policy p = { 0 };
	veil_err_t err = NULL;
	CHECK(kbs_rules_parse(text, strlen(text), &p, &err) == 0, "vm demands parse");
	struct kbs_claims c = claims(VEIL_TEE_EMULATED, 0xab, false);
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/any", &err), &err, NULL, "vm = \"any\": no history needed");
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/fresh", &err), &err,
	       "policy rule \"a/b/fresh\" demands a never-used VM (vm = \"fresh\"), but the evidence carries no tenancy "
	       "history",
	       "fresh: refused without a history");
	c.has_tenancy = true;
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/fresh", &err), &err, NULL, "fresh: a never-used VM");
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/scrubbed", &err), &err, NULL, "scrubbed: a never-used VM is fine");
	c.tenancy = (struct veil_tenancy){ .tenants = 1, .scrubbed = 1 };
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/fresh", &err), &err,
	       "policy rule \"a/b/fresh\" demands a never-used VM (vm = \"fresh\"), but this VM served 1 tenant(s) before "
	       "(1 of them followed by a complete scrub)",
	       "fresh: a VM past a scrub is refused");
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/scrubbed", &err), &err, NULL, "scrubbed: every earlier tenant scrubbed");
	c.tenancy = (struct veil_tenancy){ .tenants = 2, .scrubbed = 1 };
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/scrubbed", &err), &err,
	       "policy rule \"a/b/scrubbed\" demands a VM scrubbed after every earlier tenant (vm = \"scrubbed\"), but only "
	       "1 of the 2 tenant(s) it served before were followed by a complete scrub",
	       "scrubbed: an incomplete scrub is refused");
	c.tenancy = (struct veil_tenancy){ .containers = 1 };
	tap_expect_error(kbs_policy_check(&p, &c, "a/b/scrubbed", &err), &err,
	       "policy rule \"a/b/scrubbed\" demands a VM scrubbed after every earlier tenant (vm = \"scrubbed\"), but 1 "
	       "container(s) ran in this VM before this one without a scrub in between",
	       "scrubbed: another container without a scrub since is refused");
	kbs_policy_free(&p);
	const char *bad = "[resource.\"a/b/c\"]\ntee = [\"snp\"]\nvm = \"new\"\n";
	tap_expect_error(kbs_rules_parse(bad, strlen(bad), &p, &err), &err,
	       "policy: resource.\"a/b/c\": vm \"new\" is not fresh, scrubbed or any", "an unknown vm demand is refused");
	kbs_policy_free(&p);
}

int main(void)
{
	test_vm_demands();
	test_reference();
	test_rules();
	test_names();
	return tap_done();
}
