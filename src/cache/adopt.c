/* Readying a VM claimed from the factory for its new tenant. */
#include "cache/cache.h"

int veil_cache_adopt(struct veil_vm *vm, struct veil_agent_client *agent, const struct veil_disk *rootfs,
		     const struct veil_nic *nic, int timeout_ms, veil_err_t *err)
{
	/* Plugged while paused, the disk (and NIC) are probed as soon as the guest
	 * runs, alongside the Hello rather than after it. */
	if (vm->hv->hotplug_disk(vm, rootfs, err) < 0 || (nic != NULL && vm->hv->hotplug_nic(vm, nic, err) < 0) ||
	    vm->hv->resume(vm, err) < 0)
		return veil_fail_context(err, "readying the cached VM");
	if (veil_agent_hello(agent, timeout_ms, err) < 0)
		return veil_fail_context(err, "greeting the cached VM's agent");
	return 0;
}
