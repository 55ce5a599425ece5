/* The SEV-SNP launch digest against virtee/sev's published test vectors
 * (tests/measurement.rs, the QEMU cases; see tests/data/attest/SOURCES.md). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/snp_launch.h"
#include "attest_fixtures.h"
#include "lib/hex.h"
#include "tap.h"

struct vector {
	const char *name;    /* the test in measurement.rs */
	const char *ovmf;    /* fixture */
	bool kernel;         /* kernel and initrd /dev/null */
	const char *append;
	unsigned vcpus;
	uint64_t features;
	const char *digest;
};

static const struct vector vectors[] = {
	{ "test_snp_ovmf_hash_full_snp_only", "ovmf_AmdSev_suffix.bin", true, "console=ttyS0 loglevel=7", 1, 0x1,
	  "6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362f390ef83a92046c042e706363b4b08fa" },
	{ "test_snp_ovmf_hash_full_default", "ovmf_AmdSev_suffix.bin", true, "console=ttyS0 loglevel=7", 1, 0x21,
	  "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977" },
	{ "test_snp_ovmf_hash_gen_snp_only", "ovmf_AmdSev_suffix.bin", true, NULL, 1, 0x1,
	  "ddc5224521617a536ee7ce9dd6224d1b58a8d4fda1c741f3ac99fc4bfa04ba6e9fc98646d4a07a9079397fa3852819b5" },
	{ "test_snp_ovmf_hash_gen_default", "ovmf_AmdSev_suffix.bin", true, NULL, 1, 0x21,
	  "329c8ce0972ae52343b64d34a434a86f245dfd74f5ed7aae15d22efc78fb9683632b9b50e4e1d7fa41179ef98a7ef198" },
	{ "test_snp_without_kernel_snp_only", "ovmf_AmdSev_suffix.bin", false, NULL, 1, 0x1,
	  "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d" },
	{ "test_snp_without_kernel_default", "ovmf_AmdSev_suffix.bin", false, NULL, 1, 0x21,
	  "e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b" },
	{ "test_snp_with_multiple_vcpus_snp_only", "ovmf_AmdSev_suffix.bin", true, NULL, 4, 0x1,
	  "5061fffb019493a903613d56d54b94912a1a2f9e4502385f5c194616753720a92441310ba6c4933de877c36e23046ad5" },
	{ "test_snp_with_multiple_vcpus_default", "ovmf_AmdSev_suffix.bin", true, NULL, 4, 0x21,
	  "4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422907be0b4698e2414a631942" },
	{ "test_snp_with_ovmfx64_without_kernel_snp_only", "ovmf_OvmfX64_suffix.bin", false, NULL, 1, 0x1,
	  "da0296de8193586a5512078dcd719eccecbd87e2b825ad4148c44f665dc87df21e5b49e21523a9ad993afdb6a30b4005" },
	{ "test_snp_with_ovmfx64_without_kernel_default", "ovmf_OvmfX64_suffix.bin", false, NULL, 1, 0x21,
	  "28797ae0afaba4005a81e629acebfb59e6687949d6be44007cd5506823b0dd66f146aaae26ff291eed7b493d8a64c385" },
};

static int digest(const struct veil_snp_launch *l, char text[256])
{
	uint8_t out[48];
	veil_err_t err = NULL;
	int rc = veil_snp_launch_digest(l, out, &err);
	if (rc == 0)
		veil_hex_encode(out, 48, text);
	else
		snprintf(text, 256, "%.200s", err->msg);
	veil_error_free(&err);
	return rc;
}

int main(void)
{
	char text[256], ovmf[4096], other[4096];
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		fixture_path(v->ovmf, ovmf, sizeof(ovmf));
		struct veil_snp_launch l = { ovmf, v->kernel ? "/dev/null" : NULL, v->kernel ? "/dev/null" : NULL,
					     v->append, v->vcpus, "EPYC-v4", v->features };
		int rc = digest(&l, text);
		if (!CHECK(rc == 0 && strcmp(text, v->digest) == 0, "%s", v->name))
			printf("#   got %s\n", text);
	}

	fixture_path("ovmf_OvmfX64_suffix.bin", ovmf, sizeof(ovmf));
	struct veil_snp_launch l = { ovmf, "/dev/null", "/dev/null", NULL, 1, "EPYC-v4", 0x21 };
	CHECK(digest(&l, text) == -1 && strstr(text, "OVMF has no SNP_KERNEL_HASHES section"),
	      "test_snp_with_ovmfx64_and_kernel_should_fail: a kernel with firmware that cannot measure it is refused");

	fixture_path("ovmf_AmdSev_suffix.bin", ovmf, sizeof(ovmf));
	l = (struct veil_snp_launch){ ovmf, "/dev/null", NULL, NULL, 4, "EPYC-v4", 0x1 };
	CHECK(digest(&l, text) == 0 && strcmp(text, vectors[6].digest) == 0, "no initrd hashes as an empty one");
	l.vcpu_type = "epyc-milan";
	CHECK(digest(&l, text) == 0 && strcmp(text, vectors[6].digest) != 0,
	      "another vCPU model (another CPUID signature in the VMSAs), another digest");
	l.vcpu_type = "EPYC-v4";
	l.cmdline = "console=ttyS0 ";
	CHECK(digest(&l, text) == -1 && strstr(text, "starts or ends with whitespace"),
	      "a command line with trailing whitespace is refused");
	l.cmdline = NULL;
	l.vcpu_type = "Opteron_G5";
	CHECK(digest(&l, text) == -1 && strstr(text, "unknown vCPU type \"Opteron_G5\""), "a non-EPYC vCPU type is refused");
	l.vcpu_type = "EPYC-v4";
	l.vcpus = 0;
	CHECK(digest(&l, text) == -1 && strstr(text, "no vCPUs"), "zero vCPUs are refused");
	l.vcpus = 1;
	l.ovmf = "/dev/null";
	CHECK(digest(&l, text) == -1 && strstr(text, "not whole pages"), "an empty firmware file is refused");
	fixture_path("snp_vcek_milan.der", other, sizeof(other));
	l.ovmf = other;
	CHECK(digest(&l, text) == -1 && strstr(text, "not whole pages"), "a file that is not firmware is refused");

	const char *base = getenv("TMPDIR");
	snprintf(other, sizeof(other), "%s/veil-measure-XXXXXX", base != NULL ? base : "/tmp");
	int fd = mkstemp(other);
	static const uint8_t page[4096];
	CHECK(fd >= 0 && write(fd, page, sizeof(page)) == (ssize_t)sizeof(page), "wrote a page of zeros");
	close(fd);
	CHECK(digest(&l, text) == -1 && strstr(text, "no footer table GUID"), "a page of zeros is not firmware");
	unlink(other);
	return tap_done();
}
