#include "hv/host.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"

void veil_host_probe(const struct veil_config *cfg, struct veil_host_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->kvm_device = access("/dev/kvm", F_OK) == 0;
	cleanup_close int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	caps->kvm_usable = kvm >= 0;
	caps->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	caps->vhost_vsock = access("/dev/vhost-vsock", F_OK) == 0;
	snprintf(caps->qemu_path, sizeof(caps->qemu_path), "%s", cfg->qemu.path);
	caps->qemu_found = access(cfg->qemu.path, X_OK) == 0;
}

int veil_decide_accel(const struct veil_config *cfg, const struct veil_host_caps *caps,
		      struct veil_accel_decision *out, veil_err_t *err)
{
	const char *why_not_kvm = NULL;
	if (!caps->kvm_usable)
		why_not_kvm = caps->kvm_device ? "/dev/kvm cannot be opened" : "/dev/kvm does not exist";
	else if (caps->pvm && !cfg->qemu.pvm_guest)
		/* PVM emulates an ordinary kernel's ring 0 instruction by instruction; it never boots. */
		why_not_kvm = "KVM here is PVM and the guest kernel is not PVM-enabled (pvm_guest = false)";

	switch (cfg->qemu.accel) {
	case VEIL_ACCEL_TCG:
		out->use_kvm = false;
		snprintf(out->reason, sizeof(out->reason), "tcg: accel = \"tcg\" in the configuration");
		return 0;
	case VEIL_ACCEL_KVM:
		if (why_not_kvm != NULL && !caps->kvm_usable)
			return veil_fail(err, 0, "accel = \"kvm\" but %s", why_not_kvm);
		out->use_kvm = true;
		snprintf(out->reason, sizeof(out->reason), "kvm: accel = \"kvm\" in the configuration");
		return 0;
	case VEIL_ACCEL_AUTO:
		break;
	}
	out->use_kvm = why_not_kvm == NULL;
	if (out->use_kvm)
		snprintf(out->reason, sizeof(out->reason), "kvm: /dev/kvm is usable%s",
			 caps->pvm ? " and the guest kernel is PVM-enabled" : "");
	else
		snprintf(out->reason, sizeof(out->reason), "tcg: %s", why_not_kvm);
	return 0;
}

const struct veil_hypervisor *veil_hypervisor_configured(const struct veil_config *cfg, veil_err_t *err)
{
	return veil_hypervisor_lookup(cfg->hypervisor, err);
}

int veil_vm_config_from(const struct veil_config *cfg, const char *name, const char *console,
			struct veil_tee_config *tee, struct veil_vm_config *vmc, veil_err_t *err)
{
	if (cfg->qemu.kernel == NULL)
		return veil_fail(err, 0, "no guest kernel configured ([hypervisor.qemu] kernel)");
	if (cfg->qemu.initrd == NULL)
		return veil_fail(err, 0, "no guest initrd configured ([hypervisor.qemu] initrd)");
	struct veil_host_caps caps;
	struct veil_accel_decision accel;
	veil_host_probe(cfg, &caps);
	if (veil_decide_accel(cfg, &caps, &accel, err) < 0)
		return -1;
	log_debug("accelerator %s", accel.reason);
	*vmc = (struct veil_vm_config){
		.name = name,
		.vmm_path = cfg->qemu.path,
		.kernel = cfg->qemu.kernel,
		.initrd = cfg->qemu.initrd,
		.machine = cfg->qemu.machine_type,
		.memory_mib = cfg->qemu.default_memory,
		.vcpus = cfg->qemu.default_vcpus,
		.kernel_params = cfg->qemu.kernel_params ? cfg->qemu.kernel_params : "",
		.use_kvm = accel.use_kvm,
		.pvm_host = caps.pvm,
		/* A confidential guest's command line is measured: only the
		 * configuration may change it, never a --debug of one command. */
		.guest_debug = cfg->agent.debug_console_enabled ||
			       (!cfg->qemu.confidential_guest && veil_log_get_level() == VEIL_LOG_DEBUG),
		.console_log = console,
		/* vhost-user's daemon maps the guest's RAM (virtio-fs). */
		.memory_shared = cfg->qemu.shared_fs == VEIL_SHARED_FS_VIRTIO_FS,
	};
	if (!cfg->qemu.confidential_guest)
		return 0;
	if (tee == NULL)
		return veil_fail_tagged(err, EINVAL, "VM %s cannot be a confidential guest", name);
	if (veil_tee_config_from(cfg, tee, err) < 0)
		return -1;
	vmc->tee = tee;
	return 0;
}
