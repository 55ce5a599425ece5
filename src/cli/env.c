/* veil env: the effective configuration, what the host offers, and the
 * accelerator decision with its reason (kata-runtime env's role). */
#include <stdio.h>

#include "cli/cli.h"
#include "hv/host.h"
#include "hv/tee.h"
#include "lib/hex.h"
#include "proto/frame.h"

static const char *accel_name(enum veil_accel a)
{
	return a == VEIL_ACCEL_KVM ? "kvm" : a == VEIL_ACCEL_TCG ? "tcg" : "auto";
}

static const char *yes_no(bool b)
{
	return b ? "true" : "false";
}

/* What each TEE would need here, and what the configured one is. */
static int print_confidential(const struct veil_config *c)
{
	printf("[confidential]\n");
	static const enum veil_tee tees[] = { VEIL_TEE_SNP, VEIL_TEE_TDX };
	for (size_t i = 0; i < sizeof(tees) / sizeof(tees[0]); i++) {
		char missing[2048];
		veil_tee_host_missing(tees[i], c->qemu.path, c->qemu.firmware, missing, sizeof(missing));
		printf("  %s_host_support = %s\n  %s_missing = \"%s\"\n", veil_tee_name(tees[i]),
		       yes_no(missing[0] == '\0'), veil_tee_name(tees[i]), missing);
	}
	enum veil_tee tee = veil_tee_configured(c);
	if (tee == VEIL_TEE_EMULATED)
		printf("  warning = \"the emulated TEE protects nothing: the host holds its chip key and can sign any "
		       "report for any guest; use it for development and CI only\"\n");
	if (tee == 0)
		return 0;
	veil_err_t err = NULL;
	struct veil_tee_config tc;
	if (veil_tee_config_from(c, &tc, &err) < 0)
		return veil_cli_report(&err);
	char digest[2 * VEIL_INITDATA_MAX_DIGEST + 1] = "";
	if (tc.init_data.text != NULL)
		veil_hex_encode(tc.init_data.digest, tc.init_data.digest_len, digest);
	printf("  init_data_digest = \"%s%s%s\"\n  kbs = \"%s\"\n", tc.init_data.text ? tc.init_data.algorithm : "",
	       tc.init_data.text ? ":" : "", digest, tc.kbs.host[0] ? tc.kbs.authority : "");
	veil_tee_config_free(&tc);
	return 0;
}

int veil_verb_env(struct veil_cli *cli, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "veil env: takes no arguments\n");
		return 1;
	}
	veil_err_t err = NULL;
	if (veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	const struct veil_config *c = &cli->cfg;
	struct veil_host_caps caps;
	struct veil_accel_decision accel;
	veil_host_probe(c, &caps);
	if (veil_decide_accel(c, &caps, &accel, &err) < 0)
		return veil_cli_report(&err);

	printf("[runtime]\n  version = \"%s\"\n  config = \"%s\"\n  state_dir = \"%s\"\n  log_level = \"%s\"\n"
	       "  reset = \"%s\"\n",
	       VEIL_VERSION, c->path, veil_cli_state_dir(cli), c->runtime.log_level,
	       c->runtime.reset == VEIL_RESET_SCRUB ? "scrub" : "clone");
	printf("[hypervisor.qemu]\n  path = \"%s\"\n  kernel = \"%s\"\n  initrd = \"%s\"\n  machine_type = \"%s\"\n"
	       "  default_memory = %u\n  default_vcpus = %u\n  kernel_params = \"%s\"\n  accel = \"%s\"\n"
	       "  pvm_guest = %s\n",
	       c->qemu.path, c->qemu.kernel ? c->qemu.kernel : "", c->qemu.initrd ? c->qemu.initrd : "",
	       c->qemu.machine_type, c->qemu.default_memory, c->qemu.default_vcpus,
	       c->qemu.kernel_params ? c->qemu.kernel_params : "", accel_name(c->qemu.accel), yes_no(c->qemu.pvm_guest));
	printf("  confidential_guest = %s\n  tee = \"%s\"\n  firmware = \"%s\"\n  emulated_tee_dir = \"%s\"\n"
	       "  init_data = \"%s\"\n  snp_vcpu_type = \"%s\"\n  snp_guest_features = 0x%x\n",
	       yes_no(c->qemu.confidential_guest), c->qemu.tee ? c->qemu.tee : "", c->qemu.firmware ? c->qemu.firmware : "",
	       c->qemu.emulated_tee_dir, c->qemu.init_data ? c->qemu.init_data : "", c->qemu.snp_vcpu_type,
	       c->qemu.snp_guest_features);
	printf("[agent]\n  protocol_version = %u\n  channel = \"virtio-serial\"\n  dial_timeout = %u\n"
	       "  request_timeout = %u\n  debug_console_enabled = %s\n",
	       VEIL_PROTOCOL_VERSION, c->agent.dial_timeout, c->agent.request_timeout,
	       yes_no(c->agent.debug_console_enabled));
	printf("[factory]\n  vm_cache_number = %u\n  vm_cache_endpoint = \"%s\"\n  pcie_root_port = %u\n"
	       "  enable_template = %s\n  template_path = \"%s\"\n  warm_up = %s\n",
	       c->factory.vm_cache_number, c->factory.vm_cache_endpoint, c->factory.pcie_root_port,
	       yes_no(c->factory.enable_template), c->factory.template_path, yes_no(c->factory.warm_up));
	printf("[host]\n  kvm_device = %s\n  kvm_usable = %s\n  pvm = %s\n  vhost_vsock = %s\n  qemu_found = %s\n",
	       yes_no(caps.kvm_device), yes_no(caps.kvm_usable), yes_no(caps.pvm), yes_no(caps.vhost_vsock),
	       yes_no(caps.qemu_found));
	printf("[accelerator]\n  use = \"%s\"\n  reason = \"%s\"\n", accel.use_kvm ? "kvm" : "tcg", accel.reason);
	return print_confidential(c);
}
