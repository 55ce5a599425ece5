/* Getting a VM for a container, the one entry point: a paused VM from the
 * factory's pool, else a clone of the template, else a cold boot, each
 * through the hypervisor interface (Kata's factory.GetVM). */
#ifndef VEIL_CACHE_VM_H
#define VEIL_CACHE_VM_H

#include <stdint.h>

#include "hv/hypervisor.h"
#include "hv/tee.h"
#include "lib/config.h"
#include "lib/error.h"

/* What a container's VM must be, and where a faster one may come from. */
struct veil_vm_shape {
	const struct veil_hypervisor *hv;
	/* The VM as a cold boot starts it: kernel, initrd, machine, size,
	 * accelerator, name, console, and the container's disks and NIC. A VM
	 * from the pool or the template gets the disks and NIC hot-plugged. */
	struct veil_vm_config vm;
	int boot_timeout_ms;    /* a booted VM's agent answers within this ([agent] dial_timeout) */
	int request_timeout_ms; /* and a pooled or cloned VM's ([agent] request_timeout) */
	int signal_fd;          /* aborts the waits when readable; -1 for none */
	/* A virtio-fs connection (vm.fs) serves one VM only: when a pooled VM
	 * took it and failed, this puts a fresh one in vm.fs before the boot. */
	int (*renew_fs)(void *opaque, veil_err_t *err);
	void *renew_fs_opaque;
	/* The faster paths; NULL skips them. */
	const char *cache_endpoint; /* the factory's, when [factory] vm_cache_number > 0 */
	const char *template_dir;   /* the template's, when [factory] enable_template */
	uint32_t cache_root_ports;  /* [factory] pcie_root_port: the pool's and the template's VMs have these */
	/* A confidential guest's launch, which vm.tee points to: the shape is
	 * not to be copied (a copy of vm is fine). */
	struct veil_tee_config tee;
};

/* The shape of the VM the configuration describes, at its default size and
 * with neither disks nor NIC, named name with its console in console. The
 * strings are borrowed from cfg; release the shape with
 * veil_vm_shape_release. */
int veil_vm_shape_from_config(const struct veil_config *cfg, const char *name, const char *console,
			      struct veil_vm_shape *shape, veil_err_t *err);
void veil_vm_shape_release(struct veil_vm_shape *shape);

enum veil_vm_source { VEIL_VM_POOLED, VEIL_VM_CLONED, VEIL_VM_BOOTED };

/* Where the VM came from, and why each faster path that was tried was not
 * taken (empty when it was not tried, or was taken). */
struct veil_vm_origin {
	enum veil_vm_source source;
	char pool_skipped[256];
	char template_skipped[256];
};

/* A running, agent-ready VM of this shape: its agent has just answered
 * Hello, so the guest's clock and entropy come from this host now. Returns
 * 0 with *vm filled (tear it down with vm->hv->teardown) and *origin; -1
 * with *err, and no VM left, if even a cold boot failed. */
int veil_vm_get(const struct veil_vm_shape *shape, struct veil_vm *vm, struct veil_vm_origin *origin, veil_err_t *err);

#endif
