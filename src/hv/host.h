/* What this host can do, and the accelerator decision that follows from it. */
#ifndef VEIL_HOST_H
#define VEIL_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "hv/hypervisor.h"
#include "hv/tee.h"
#include "lib/config.h"
#include "lib/error.h"

struct veil_host_caps {
	bool kvm_device;     /* /dev/kvm exists */
	bool kvm_usable;     /* and opens read-write */
	bool pvm;            /* KVM is PVM (kvm_pvm module): only PVM guests run fast */
	bool vhost_vsock;
	bool qemu_found;
	char qemu_path[512];
};

void veil_host_probe(const struct veil_config *cfg, struct veil_host_caps *caps);

struct veil_accel_decision {
	bool use_kvm;
	char reason[256];
};

/* Fails only when the configuration demands KVM and the host cannot give it. */
int veil_decide_accel(const struct veil_config *cfg, const struct veil_host_caps *caps,
		      struct veil_accel_decision *out, veil_err_t *err);

/* The backend cfg selects. */
const struct veil_hypervisor *veil_hypervisor_configured(const struct veil_config *cfg, veil_err_t *err);

/* The VM that cfg describes, on this host: kernel, initrd, machine, default
 * size and accelerator. Strings are borrowed from cfg; disks, NIC, root
 * ports and memory files are left to the caller. A confidential guest's
 * launch (hv/tee.h) is made in *tee, which vmc then points to: free it with
 * veil_tee_config_free once the VM has started. tee may be NULL only where
 * confidential guests cannot go (a template); a confidential cfg then fails. */
int veil_vm_config_from(const struct veil_config *cfg, const char *name, const char *console,
			struct veil_tee_config *tee, struct veil_vm_config *vmc, veil_err_t *err);

#endif
