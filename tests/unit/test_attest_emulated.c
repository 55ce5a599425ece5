/* The emulated chip: made once and loaded with checks; its reports verify as
 * "emulated" under its own anchor and fail, in words, under AMD's; its launch
 * measurement is the documented encoding. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/emulated.h"
#include "attest/pki.h"
#include "attest/snp.h"
#include "attest_fixtures.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "tap.h"

static char tmp[256];
static char chip_dir[300];
static struct fixture milan_ark, milan_ask;

static struct veil_emulated_chip *open_chip(const char *dir, char *why, size_t why_size)
{
	struct veil_emulated_chip *chip = NULL;
	veil_err_t err = NULL;
	if (veil_emulated_chip_open(dir, &chip, &err) < 0)
		chip = NULL;
	snprintf(why, why_size, "%s", err != NULL ? err->msg : "(opened)");
	veil_error_free(&err);
	return chip;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static int verify(const uint8_t *report, const uint8_t *vcek, size_t vcek_len, const struct veil_snp_anchor *anchors,
		  size_t n, struct veil_evidence_claims *claims, char *why, size_t why_size)
{
	veil_err_t err = NULL;
	int rc = veil_snp_verify(report, VEIL_SNP_REPORT_SIZE, vcek, vcek_len, anchors, n, claims, &err);
	snprintf(why, why_size, "%s", err != NULL ? err->msg : "(verified)");
	veil_error_free(&err);
	return rc;
}

static struct veil_emulated_report_request sample_request(void)
{
	struct veil_emulated_report_request req = { .policy = 0x30000, .reported_tcb = VEIL_EMULATED_TCB };
	for (int i = 0; i < 48; i++)
		req.measurement[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 32; i++)
		req.host_data[i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < 64; i++)
		req.report_data[i] = (uint8_t)i;
	return req;
}

/* Re-signs report with the chip's key as read from its directory: the way
 * to forge fields that only the verifier's cross-checks can catch. */
static void resign(uint8_t *report)
{
	struct fixture key_der = { 0 };
	char path[512];
	snprintf(path, sizeof(path), "%s/vcek.key", chip_dir);
	veil_err_t err = NULL;
	key_der.data = (uint8_t *)veil_read_file(path, 1 << 16, &key_der.len, &err);
	const unsigned char *p = key_der.data;
	PKCS8_PRIV_KEY_INFO *p8 = p != NULL ? d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)key_der.len) : NULL;
	EVP_PKEY *key = p8 != NULL ? EVP_PKCS82PKEY(p8) : NULL;
	uint8_t r[48], s[48];
	if (key == NULL || veil_ecdsa_sign_raw(key, EVP_sha384(), report, VEIL_SNP_SIGNED_SIZE, r, s, 48, &err) < 0)
		printf("# resign failed\n");
	veil_reverse_bytes(r, 48);
	veil_reverse_bytes(s, 48);
	memcpy(report + 0x2a0, r, 48);
	memcpy(report + 0x2e8, s, 48);
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	veil_error_free(&err);
	fixture_free(&key_der);
}

static void test_create_and_load(void)
{
	char why[1024];
	struct veil_emulated_chip *chip = open_chip(chip_dir, why, sizeof(why));
	if (!CHECK(chip != NULL, "a chip is made in a new directory"))
		printf("#   %s\n", why);
	CHECK(mode_of(chip_dir, ".") == 0700, "its directory is 0700");
	CHECK(mode_of(chip_dir, "ark.der") == 0600 && mode_of(chip_dir, "ask.der") == 0600 &&
		      mode_of(chip_dir, "vcek.der") == 0600 && mode_of(chip_dir, "vcek.key") == 0600,
	      "ark.der, ask.der, vcek.der and vcek.key are 0600");
	struct veil_emulated_chip *again = open_chip(chip_dir, why, sizeof(why));
	size_t a_len = 0, b_len = 0;
	const uint8_t *a = chip ? veil_emulated_chip_vcek(chip, &a_len) : NULL;
	const uint8_t *b = again ? veil_emulated_chip_vcek(again, &b_len) : NULL;
	CHECK(a != NULL && b != NULL && a_len == b_len && memcmp(a, b, a_len) == 0 &&
		      memcmp(veil_emulated_chip_id(chip), veil_emulated_chip_id(again), 64) == 0,
	      "opening it again loads the same chip");
	if (chip != NULL) {
		struct veil_snp_anchor anchor = veil_emulated_chip_anchor(chip);
		const uint8_t *names[] = { anchor.ark_der, anchor.ask_der, a };
		size_t lens[] = { anchor.ark_len, anchor.ask_len, a_len };
		int named = 0;
		for (int i = 0; i < 3; i++) {
			X509 *cert = veil_x509_from_der(names[i], lens[i], "cert", NULL);
			char subject[256] = "";
			if (cert != NULL)
				veil_x509_subject(cert, subject, sizeof(subject));
			named += strstr(subject, "veil emulated") != NULL && strstr(subject, "protects nothing") != NULL;
			X509_free(cert);
		}
		CHECK(named == 3, "ARK, ASK and VCEK subjects say \"veil emulated ... protects nothing\"");
		CHECK(strcmp(anchor.product, "emulated") == 0, "the anchor's product is \"emulated\"");
	}
	veil_emulated_chip_free(chip);
	veil_emulated_chip_free(again);
}

static void test_reports(void)
{
	char why[1024];
	struct veil_emulated_chip *chip = open_chip(chip_dir, why, sizeof(why));
	if (chip == NULL)
		return;
	size_t vcek_len;
	const uint8_t *vcek = veil_emulated_chip_vcek(chip, &vcek_len);
	struct veil_snp_anchor emulated = veil_emulated_chip_anchor(chip);
	struct veil_snp_anchor milan = { "Milan", milan_ark.data, milan_ark.len, milan_ask.data, milan_ask.len };
	struct veil_emulated_report_request req = sample_request();
	uint8_t report[VEIL_SNP_REPORT_SIZE];
	veil_err_t err = NULL;
	CHECK(veil_emulated_chip_sign(chip, &req, report, &err) == 0, "the chip signs a report");
	veil_error_free(&err);

	struct veil_evidence_claims c;
	struct veil_snp_anchor both[] = { milan, emulated };
	int rc = verify(report, vcek, vcek_len, both, 2, &c, why, sizeof(why));
	if (!CHECK(rc == 0, "it verifies with the emulated anchor configured"))
		printf("#   %s\n", why);
	CHECK(c.tee == VEIL_TEE_EMULATED, "and the claims say emulated, not snp");
	CHECK(memcmp(c.measurement, req.measurement, 48) == 0 && memcmp(c.report_data, req.report_data, 64) == 0 &&
		      c.init_data_len == 32 && memcmp(c.init_data, req.host_data, 32) == 0 && c.snp_policy == 0x30000 &&
		      !c.debug && c.reported_tcb == VEIL_EMULATED_TCB &&
		      memcmp(c.chip_id, veil_emulated_chip_id(chip), 64) == 0,
	      "MEASUREMENT, REPORT_DATA, HOST_DATA, policy, TCB and CHIP_ID round-trip");
	struct veil_snp_report parsed;
	CHECK(veil_snp_report_parse(report, sizeof(report), &parsed, NULL) == 0 && parsed.version == 2 &&
		      parsed.signature_algo == 1 && parsed.key_info == 0,
	      "the report is a version 2 SNP report signed by a VCEK with ECDSA P-384");

	rc = verify(report, vcek, vcek_len, &milan, 1, &c, why, sizeof(why));
	if (!CHECK(rc == -1 && strstr(why, "emulated root") && strstr(why, "protects nothing"),
		   "without the emulated anchor it fails, saying the chain ends in the emulated root that protects nothing"))
		printf("#   %s\n", why);
	rc = verify(report, vcek, vcek_len, NULL, 0, &c, why, sizeof(why));
	CHECK(rc == -1 && strstr(why, "protects nothing"), "with no anchors at all, the same reason");

	req.policy |= VEIL_SNP_POLICY_DEBUG;
	veil_emulated_chip_sign(chip, &req, report, NULL);
	CHECK(verify(report, vcek, vcek_len, &emulated, 1, &c, why, sizeof(why)) == 0 && c.debug,
	      "the DEBUG policy bit shows in the claims");

	req = sample_request();
	req.reported_tcb = veil_snp_tcb_encode((struct veil_snp_tcb){ .bootloader = 1, .tee = 2, .snp = 9, .microcode = 4 },
					       VEIL_SNP_TCB_MILAN);
	veil_emulated_chip_sign(chip, &req, report, NULL);
	rc = verify(report, vcek, vcek_len, &emulated, 1, &c, why, sizeof(why));
	if (!CHECK(rc == -1 && strstr(why, "REPORTED_TCB does not match the VCEK: expected bootloader 1, tee 2, snp 3, "
					   "microcode 4, got bootloader 1, tee 2, snp 9, microcode 4"),
		   "a REPORTED_TCB unlike the VCEK's fails, naming both"))
		printf("#   %s\n", why);

	req = sample_request();
	veil_emulated_chip_sign(chip, &req, report, NULL);
	report[0x1a0] ^= 0xff;
	resign(report);
	rc = verify(report, vcek, vcek_len, &emulated, 1, &c, why, sizeof(why));
	if (!CHECK(rc == -1 && strstr(why, "CHIP_ID does not match the VCEK hwID"), "a CHIP_ID unlike the hwID fails"))
		printf("#   %s\n", why);
	report[0x48] = VEIL_SNP_KEY_MASK_CHIP_ID;
	resign(report);
	rc = verify(report, vcek, vcek_len, &emulated, 1, &c, why, sizeof(why));
	CHECK(rc == -1 && strstr(why, "masked"), "a masked CHIP_ID that is not zero fails");
	memset(report + 0x1a0, 0, 64);
	resign(report);
	CHECK(verify(report, vcek, vcek_len, &emulated, 1, &c, why, sizeof(why)) == 0,
	      "a masked CHIP_ID of zeros verifies");
	veil_emulated_chip_free(chip);
}

static int write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	veil_err_t err = NULL;
	int rc = veil_write_file_atomic(path, data, len, &err);
	veil_error_free(&err);
	return rc == 0 ? chmod(path, mode) : -1;
}

static void expect_open_refusal(const char *want, const char *what)
{
	char why[1024];
	struct veil_emulated_chip *chip = open_chip(chip_dir, why, sizeof(why));
	if (!CHECK(chip == NULL && strstr(why, want) != NULL, "%s is refused: \"%s\"", what, want))
		printf("#   got: %s\n", why);
	veil_emulated_chip_free(chip);
}

static void test_load_checks(void)
{
	char why[1024], path[512];
	struct veil_emulated_chip *chip;

	chmod(chip_dir, 0755);
	expect_open_refusal("with mode 0700 (is uid", "a directory others can read");
	chmod(chip_dir, 0700);

	snprintf(path, sizeof(path), "%s/vcek.key", chip_dir);
	chmod(path, 0644);
	expect_open_refusal("vcek.key must be a regular file", "a key file others can read");
	chmod(path, 0600);

	size_t ark_len = 0;
	snprintf(path, sizeof(path), "%s/ark.der", chip_dir);
	char *ark = veil_read_file(path, 1 << 16, &ark_len, NULL);
	write_file(chip_dir, "ark.der", milan_ark.data, milan_ark.len, 0600);
	expect_open_refusal("ark.der is not veil's emulated ARK", "AMD's ARK in place of the emulated one");
	write_file(chip_dir, "ark.der", ark, ark_len, 0600);
	free(ark);

	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(other);
	unsigned char *der = NULL;
	int der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	size_t key_len = 0;
	snprintf(path, sizeof(path), "%s/vcek.key", chip_dir);
	char *key = veil_read_file(path, 1 << 16, &key_len, NULL);
	write_file(chip_dir, "vcek.key", der, (size_t)der_len, 0600);
	expect_open_refusal("vcek.key is not the key of vcek.der", "another key than the VCEK's");
	write_file(chip_dir, "vcek.key", key, key_len, 0600);
	free(key);
	OPENSSL_free(der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(other);

	chip = open_chip(chip_dir, why, sizeof(why));
	if (!CHECK(chip != NULL, "restored, the chip loads again"))
		printf("#   %s\n", why);
	size_t before_len = 0;
	const uint8_t *before = chip ? veil_emulated_chip_vcek(chip, &before_len) : NULL;
	uint8_t *before_copy = before ? malloc(before_len) : NULL;
	if (before_copy)
		memcpy(before_copy, before, before_len);
	veil_emulated_chip_free(chip);

	/* A creation cut short leaves certificates but no key: it is made anew. */
	unlink(path);
	chip = open_chip(chip_dir, why, sizeof(why));
	size_t after_len = 0;
	const uint8_t *after = chip ? veil_emulated_chip_vcek(chip, &after_len) : NULL;
	CHECK(after != NULL && before_copy != NULL && (after_len != before_len || memcmp(after, before_copy, after_len) != 0),
	      "a chip without vcek.key is made anew");
	free(before_copy);
	veil_emulated_chip_free(chip);
}

static void put(const char *name, const char *unit, int times, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", tmp, name);
	FILE *f = fopen(path, "w");
	for (int i = 0; f != NULL && i < times; i++)
		fputs(unit, f);
	if (f != NULL)
		fclose(f);
}

/* Fills out with the hex digest, or with the error. */
static int measure(const struct veil_emulated_launch *launch, char out_text[256])
{
	uint8_t out[48];
	veil_err_t err = NULL;
	int rc = veil_emulated_launch_measurement(launch, out, &err);
	if (rc == 0)
		veil_hex_encode(out, 48, out_text);
	else
		snprintf(out_text, 256, "%.200s", err->msg);
	veil_error_free(&err);
	return rc;
}

static void test_launch_measurement(void)
{
	char kernel[512], initrd[512], empty[512], hex[256], other[256];
	put("kernel", "veil test kernel\n", 100, kernel, sizeof(kernel));
	put("initrd", "veil test initrd\n", 50, initrd, sizeof(initrd));
	put("empty", "", 0, empty, sizeof(empty));
	uint8_t digest[33]; /* one spare byte, for a shifted digest below */
	for (int i = 0; i < 33; i++)
		digest[i] = (uint8_t)i;
	struct veil_emulated_launch launch = { kernel, initrd, "console=hvc0 quiet", 2, digest, 32 };
	/* Expected values computed independently with Python's hashlib from the
	 * encoding documented in emulated.h. */
	CHECK(measure(&launch, hex) == 0 &&
		      strcmp(hex, "c0c4011579f975ac650feda324e4006ca66c1db963fc04e8d4f58dda2be2a4737a329c4e968120fe858f27eaafe5f06d") == 0,
	      "the launch measurement follows the documented encoding");
	struct veil_emulated_launch bare = { kernel, NULL, NULL, 1, NULL, 0 };
	CHECK(measure(&bare, hex) == 0 &&
		      strcmp(hex, "bb5a91ffd2088b8fafc64e8cd16e075a8cebe04a94c799a3efa08c4ffa2453e15c007daf518b8ba6e1f9782e0b76c4f8") == 0,
	      "no initrd, no command line, no init-data: the documented encoding too");
	bare.initrd = empty;
	bare.cmdline = "";
	CHECK(measure(&bare, other) == 0 && strcmp(hex, other) == 0,
	      "an empty initrd and command line measure as none (the guest boots the same)");

	measure(&launch, hex);
	struct veil_emulated_launch changed[] = {
		{ initrd, initrd, "console=hvc0 quiet", 2, digest, 32 },
		{ kernel, kernel, "console=hvc0 quiet", 2, digest, 32 },
		{ kernel, initrd, "console=hvc0 quiet ", 2, digest, 32 },
		{ kernel, initrd, "console=hvc0 quiet", 3, digest, 32 },
		{ kernel, initrd, "console=hvc0 quiet", 2, digest + 1, 32 },
		{ kernel, initrd, "console=hvc0 quiet", 2, NULL, 0 },
	};
	const char *what[] = { "kernel", "initrd", "command line", "vCPU count", "init-data digest", "init-data presence" };
	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
		CHECK(measure(&changed[i], other) == 0 && strcmp(hex, other) != 0, "another %s, another measurement",
		      what[i]);

	struct veil_emulated_launch bad = launch;
	bad.init_data_digest_len = 20;
	CHECK(measure(&bad, other) == -1 && strstr(other, "init-data digest of 20 bytes"), "a 20-byte init-data digest is refused");
	bad = launch;
	bad.vcpus = 0;
	CHECK(measure(&bad, other) == -1 && strstr(other, "no vCPUs"), "zero vCPUs are refused");
	bad = launch;
	bad.kernel = "/nonexistent/kernel";
	CHECK(measure(&bad, other) == -1 && strstr(other, "kernel: /nonexistent/kernel"), "a missing kernel is named");
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/veil-attest-XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(tmp) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(chip_dir, sizeof(chip_dir), "%s/chip", tmp);
	milan_ark = fixture_load_pem_cert("snp_ark_milan.pem");
	milan_ask = fixture_load_pem_cert("snp_ask_milan.pem");

	test_create_and_load();
	test_reports();
	test_load_checks();
	test_launch_measurement();

	fixture_free(&milan_ark);
	fixture_free(&milan_ask);
	veil_remove_tree(tmp);
	return tap_done();
}
