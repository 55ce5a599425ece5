/* The QEMU backend's command line for confidential guests, against the
 * strings upstream QEMU documents (docs/system/i386/amd-memory-encryption.rst,
 * tdx.rst; qapi/qom.json's SevSnpGuestProperties and TdxGuestProperties):
 *
 *   -machine ...,confidential-guest-support=sev0
 *   -object sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1[,kernel-hashes=on][,host-data=BASE64(32)]
 *   -object tdx-guest,id=tdx0[,mrconfigid=BASE64(48)]  -machine ...,kernel-irqchip=split  -bios OVMF.fd
 */
#include <string.h>

#include "hv/qemu.h"
#include "hv/tee.h"
#include "lib/strv.h"
#include "tap.h"

static const char init_sha256[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n";
static const char init_sha384[] = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n";

static struct veil_vm_config base(void)
{
	return (struct veil_vm_config){
		.name = "t", .vmm_path = "/usr/bin/qemu-system-x86_64", .kernel = "/k/vmlinux", .initrd = "/k/initrd.img",
		.machine = "microvm", .memory_mib = 512, .vcpus = 2, .kernel_params = "", .console_log = "/s/console.log",
	};
}

/* The argument after flag whose value starts with prefix, or NULL. */
static const char *arg_after(const struct veil_strv *argv, const char *flag, const char *prefix)
{
	for (size_t i = 0; i + 1 < argv->len; i++)
		if (strcmp(argv->items[i], flag) == 0 && strncmp(argv->items[i + 1], prefix, strlen(prefix)) == 0)
			return argv->items[i + 1];
	return NULL;
}

static bool has_arg(const struct veil_strv *argv, const char *flag, const char *value)
{
	const char *v = arg_after(argv, flag, value);
	return v != NULL && strcmp(v, value) == 0;
}

/* QEMU's argv for a VM on tee (0: an ordinary VM) with this init-data, and
 * its kernel command line in cmdline. */
static bool build(enum veil_tee tee, const char *init_data, const struct veil_nic *nic, struct veil_strv *argv,
		  char cmdline[4096])
{
	struct veil_tee_config tc = {
		.tee = tee, .firmware = "/fw/OVMF.fd", .chip_dir = "/chip", .cbitpos = 51, .reduced_phys_bits = 1,
		.snp_vcpu_type = "EPYC-v4", .snp_guest_features = 1,
	};
	struct veil_vm_config cfg = base();
	cfg.tee = tee != 0 ? &tc : NULL;
	cfg.nic = nic;
	veil_err_t err = NULL;
	memset(argv, 0, sizeof(*argv));
	bool ok = (init_data == NULL || veil_tee_config_set_init_data(&tc, init_data, strlen(init_data), &err) == 0) &&
		  veil_qemu_build_argv(&cfg, argv, &err) == 0 && veil_qemu_kernel_cmdline(&cfg, cmdline, 4096, &err) == 0;
	if (!ok)
		printf("# %s\n", err->msg);
	veil_error_free(&err);
	veil_tee_config_free(&tc);
	return ok;
}

static void test_snp(void)
{
	struct veil_strv argv;
	char cmdline[4096];
	CHECK(build(VEIL_TEE_SNP, init_sha256, NULL, &argv, cmdline), "SNP argv built");
	CHECK(has_arg(&argv, "-machine", "q35,confidential-guest-support=sev0,memory-backend=ram"),
	      "SNP: q35 (microvm has no OVMF) with confidential-guest-support=sev0");
	CHECK(has_arg(&argv, "-object",
		      "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,policy=0x30000,kernel-hashes=on,"
		      "host-data=rzmN83nrR1r/nwLNBW0NH11Ja3oHOSfLPqkkB9itYaM="),
	      "SNP: sev-snp-guest with cbitpos, reduced-phys-bits, kernel-hashes=on and host-data = base64 of the "
	      "init-data's SHA-256 (Python)");
	CHECK(has_arg(&argv, "-object", "memory-backend-memfd,id=ram,size=512M,share=off"),
	      "SNP: guest RAM in a private memfd, shared with no one");
	CHECK(has_arg(&argv, "-bios", "/fw/OVMF.fd") && has_arg(&argv, "-cpu", "EPYC-v4") && has_arg(&argv, "-accel", "kvm"),
	      "SNP: the firmware, the vCPU model the digest assumes, KVM");
	CHECK(has_arg(&argv, "-global", "virtio-pci.iommu_platform=on") &&
		      has_arg(&argv, "-global", "virtio-pci.disable-legacy=on"),
	      "SNP: every virtio device, hot-plugged ones too, through the guest's bounce buffers");
	CHECK(has_arg(&argv, "-device", "virtserialport,chardev=tee,name=veil.tee") &&
		      has_arg(&argv, "-chardev", "socket,id=tee,fd=5"),
	      "SNP: the TEE port (init-data, KBS relay) on fd 5");
	CHECK(strstr(cmdline, " veil.tee=snp") != NULL && has_arg(&argv, "-append", cmdline),
	      "SNP: veil.tee=snp on the measured command line");
	CHECK(arg_after(&argv, "-object", "memory-backend-file") == NULL, "SNP: no file-backed (shareable) memory");
	veil_strv_free(&argv);
	CHECK(build(VEIL_TEE_SNP, NULL, NULL, &argv, cmdline) &&
		      has_arg(&argv, "-object", "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,policy=0x30000,kernel-hashes=on"),
	      "SNP without init-data: no host-data");
	veil_strv_free(&argv);
}

static void test_tdx(void)
{
	struct veil_strv argv;
	char cmdline[4096];
	CHECK(build(VEIL_TEE_TDX, init_sha384, NULL, &argv, cmdline), "TDX argv built");
	CHECK(has_arg(&argv, "-machine", "q35,confidential-guest-support=tdx0,memory-backend=ram,kernel-irqchip=split"),
	      "TDX: confidential-guest-support=tdx0, split irqchip");
	CHECK(has_arg(&argv, "-object",
		      "tdx-guest,id=tdx0,mrconfigid=wtnxKISBLWCf/8WuUnGVrc4Ftm2MjX0zM2bV+/AWN6rxYjdXjde397fw4JcdI7xq"),
	      "TDX: tdx-guest with mrconfigid = base64 of the init-data's SHA-384 (Python)");
	CHECK(has_arg(&argv, "-bios", "/fw/OVMF.fd") && has_arg(&argv, "-cpu", "host") && has_arg(&argv, "-accel", "kvm"),
	      "TDX: TDVF as -bios, -cpu host, KVM");
	veil_strv_free(&argv);
	CHECK(build(VEIL_TEE_TDX, init_sha256, NULL, &argv, cmdline) &&
		      has_arg(&argv, "-object",
			      "tdx-guest,id=tdx0,mrconfigid=rzmN83nrR1r/nwLNBW0NH11Ja3oHOSfLPqkkB9itYaMAAAAAAAAAAAAAAAAAAAAA"),
	      "TDX with SHA-256 init-data: MRCONFIGID zero-padded to 48 bytes");
	veil_strv_free(&argv);
}

static void test_emulated_and_ordinary(void)
{
	const struct veil_nic nic = { .tap_fd = 9, .mac = "02:00:00:00:00:01" };
	struct veil_strv argv;
	char cmdline[4096];
	CHECK(build(VEIL_TEE_EMULATED, init_sha256, &nic, &argv, cmdline), "emulated argv built");
	CHECK(has_arg(&argv, "-machine", "microvm,acpi=off,x-option-roms=off") && has_arg(&argv, "-accel", "tcg") &&
		      arg_after(&argv, "-object", "sev-snp-guest") == NULL && arg_after(&argv, "-bios", "") == NULL,
	      "emulated: an ordinary VM, no TEE object, no firmware");
	CHECK(has_arg(&argv, "-chardev", "socket,id=tee,fd=5") && has_arg(&argv, "-netdev", "tap,id=net0,fd=6") &&
		      has_arg(&argv, "-device", "virtio-serial-device,max_ports=3"),
	      "emulated: the TEE port on fd 5, the tap after it on 6");
	CHECK(strcmp(cmdline, "console=ttyS0 reboot=t panic=-1 init_on_free=1 quiet loglevel=3 veil.tee=emulated") == 0 &&
		      has_arg(&argv, "-append", cmdline),
	      "emulated: the command line QEMU gets is the one measured");
	veil_strv_free(&argv);
	CHECK(build(0, NULL, &nic, &argv, cmdline) && arg_after(&argv, "-chardev", "socket,id=tee") == NULL &&
		      has_arg(&argv, "-netdev", "tap,id=net0,fd=5") && has_arg(&argv, "-device", "virtio-serial-device,max_ports=2"),
	      "an ordinary VM: no TEE port, the tap on fd 5");
	CHECK(strstr(cmdline, "veil.tee") == NULL, "an ordinary VM's agent is told of no TEE");
	veil_strv_free(&argv);
}

int main(void)
{
	test_snp();
	test_tdx();
	test_emulated_and_ordinary();
	return tap_done();
}
