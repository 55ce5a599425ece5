/* Readying a VM claimed from the factory, or cloned, for its new tenant. */
#include "cache/cache.h"

#include "hv/agent_client.h"
#include "lib/trace.h"

int veil_cache_adopt(struct veil_vm *vm, const struct veil_vm_shape *shape, veil_err_t *err)
{
	/* Plugged while paused, the disks (and NIC, and virtio-fs device) are
	 * probed as soon as the guest runs, alongside the Hello rather than
	 * after it; the rootfs goes into the VM's slot, without a hot-plug. */
	veil_trace_phase("plug");
	for (size_t i = 0; i < shape->vm.n_disks; i++)
		if (vm->hv->hotplug_disk(vm, &shape->vm.disks[i], err) < 0)
			return veil_fail_context(err, "readying the cached VM");
	if ((shape->vm.nic != NULL && vm->hv->hotplug_nic(vm, shape->vm.nic, err) < 0) ||
	    (shape->vm.fs != NULL && vm->hv->hotplug_fs(vm, shape->vm.fs, err) < 0))
		return veil_fail_context(err, "readying the cached VM");
	veil_trace_phase("resume");
	if (vm->hv->resume(vm, err) < 0)
		return veil_fail_context(err, "readying the cached VM");
	veil_trace_phase("hello");
	if (veil_agent_hello_once(vm->agent_fd, vm->pidfd, shape->signal_fd, shape->request_timeout_ms, err) < 0)
		return veil_fail_context(err, "greeting the cached VM's agent");
	return 0;
}
