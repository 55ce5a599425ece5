/* veil_vm_get: the pool, then the template, then a cold boot. */
#include "cache/vm.h"

#include <errno.h>
#include <stdio.h>

#include "cache/cache.h"
#include "cache/template.h"
#include "hv/agent_client.h"
#include "hv/host.h"
#include "lib/log.h"
#include "lib/trace.h"

int veil_vm_shape_from_config(const struct veil_config *cfg, const char *name, const char *console,
			      struct veil_vm_shape *shape, veil_err_t *err)
{
	*shape = (struct veil_vm_shape){
		.boot_timeout_ms = (int)cfg->agent.dial_timeout * 1000,
		.request_timeout_ms = (int)cfg->agent.request_timeout * 1000,
		.signal_fd = -1,
		.cache_endpoint = cfg->factory.vm_cache_number > 0 ? cfg->factory.vm_cache_endpoint : NULL,
		.template_dir = cfg->factory.enable_template ? cfg->factory.template_path : NULL,
		.cache_root_ports = cfg->factory.pcie_root_port,
	};
	if ((shape->hv = veil_hypervisor_configured(cfg, err)) == NULL)
		return -1;
	return veil_vm_config_from(cfg, name, console, &shape->tee, &shape->vm, err);
}

void veil_vm_shape_release(struct veil_vm_shape *shape)
{
	veil_tee_config_free(&shape->tee);
	shape->vm.tee = NULL;
}

/* Tears down a VM whose readying failed, leaving none. */
static void discard(struct veil_vm *vm)
{
	if (vm->hv != NULL)
		vm->hv->teardown(vm);
	veil_vm_init(vm);
}

/* 1 with a pooled VM readied; 0 to try on (origin says why), -1 on error. */
static int from_pool(const struct veil_vm_shape *shape, struct veil_vm *vm, struct veil_vm_origin *origin,
		     veil_err_t *err)
{
	if (shape->cache_endpoint == NULL)
		return 0;
	veil_trace_phase("claim");
	int claimed = veil_cache_claim(shape, vm, origin->pool_skipped, sizeof(origin->pool_skipped), err);
	if (claimed <= 0)
		return claimed;
	veil_err_t adopt_err = NULL;
	/* Pooled from here: a failure leaves what the VM took used up. */
	origin->source = VEIL_VM_POOLED;
	if (veil_cache_adopt(vm, shape, &adopt_err) == 0)
		return 1;
	log_warn("VM %s: the cached VM failed: %s", shape->vm.name, adopt_err->msg);
	snprintf(origin->pool_skipped, sizeof(origin->pool_skipped), "the cached VM failed: %.200s", adopt_err->msg);
	veil_error_free(&adopt_err);
	discard(vm);
	return 0;
}

/* 1 with a clone of the template readied; 0 to boot instead (origin says why). */
static int from_template(const struct veil_vm_shape *shape, struct veil_vm *vm, struct veil_vm_origin *origin)
{
	if (shape->template_dir == NULL)
		return 0;
	if (shape->vm.memory_shared) {
		snprintf(origin->template_skipped, sizeof(origin->template_skipped),
			 "virtio-fs needs the VM's memory shared, and a clone maps the template's privately");
		return 0;
	}
	/* Clones are the template's VM: its root ports, and the container's
	 * disks and NIC plugged in afterwards. A container of another size
	 * hashes to another VM and boots. */
	struct veil_vm_config vmc = shape->vm;
	vmc.pcie_root_ports = shape->cache_root_ports;
	vmc.rootfs_slot = true;
	vmc.disks = NULL;
	vmc.n_disks = 0;
	vmc.nic = NULL;
	vmc.fs = NULL;
	struct veil_template t;
	struct veil_template_info info;
	char *why = origin->template_skipped;
	veil_err_t err = NULL;
	veil_trace_phase("clone");
	if (veil_template_init(&t, shape->template_dir, &vmc, &err) == 0 &&
	    veil_template_check(&t, false, &info, why, sizeof(origin->template_skipped)) == 1 &&
	    veil_template_clone(&t, shape->hv, &vmc, vm, &err) == 0) {
		if (veil_cache_adopt(vm, shape, &err) == 0) {
			origin->source = VEIL_VM_CLONED;
			why[0] = '\0';
			return 1;
		}
		discard(vm);
	}
	if (err != NULL)
		snprintf(why, sizeof(origin->template_skipped), "%.200s", err->msg);
	veil_error_free(&err);
	return 0;
}

static int boot(const struct veil_vm_shape *shape, struct veil_vm *vm, struct veil_vm_origin *origin, veil_err_t *err)
{
	if (origin->source == VEIL_VM_POOLED && shape->vm.fs != NULL && shape->renew_fs != NULL &&
	    shape->renew_fs(shape->renew_fs_opaque, err) < 0)
		return veil_fail_context(err, "renewing the virtio-fs daemon after the cached VM failed");
	origin->source = VEIL_VM_BOOTED;
	veil_trace_phase("qemu");
	if (shape->hv->start(vm, &shape->vm, err) < 0) {
		discard(vm);
		return -1;
	}
	/* The guest kernel's boot, up to the agent's first answer. */
	veil_trace_phase("boot");
	if (veil_agent_hello_once(vm->agent_fd, vm->pidfd, shape->signal_fd, shape->boot_timeout_ms, err) == 0)
		return 0;
	discard(vm);
	if ((*err)->errnum == ETIMEDOUT)
		return veil_fail_context(err, "guest never reported ready (agent.dial_timeout = %d s)",
					 shape->boot_timeout_ms / 1000);
	return veil_fail_context(err, "waiting for the guest agent");
}

int veil_vm_get(const struct veil_vm_shape *shape, struct veil_vm *vm, struct veil_vm_origin *origin, veil_err_t *err)
{
	*origin = (struct veil_vm_origin){ .source = VEIL_VM_BOOTED };
	veil_vm_init(vm);
	int pooled = from_pool(shape, vm, origin, err);
	if (pooled != 0)
		return pooled < 0 ? -1 : 0;
	if (from_template(shape, vm, origin) == 1)
		return 0;
	return boot(shape, vm, origin, err);
}
