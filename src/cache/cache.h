/* The VM cache as a container's start sees it: take a booted, paused VM from
 * the factory (`veil factory init`, docs/vm-cache.md) instead of booting one,
 * ready it for the container, and give it back when the container is gone. */
#ifndef VEIL_CACHE_H
#define VEIL_CACHE_H

#include <stddef.h>

#include "cache/vm.h"
#include "hv/hypervisor.h"
#include "lib/error.h"

/* Takes a paused, agent-ready VM of the shape's kernel, initrd, machine,
 * kernel parameters and size from the factory on shape->cache_endpoint.
 * Returns 1 with *vm filled (pid, pidfd, control_fd, agent_fd, lifeline_fd,
 * root_ports, hv = shape->hv) and still paused; the VM is the caller's alone
 * and dies when the caller tears it down or exits. Returns 0 with a one-line
 * reason in why (cache off, factory not running or not answering, shape
 * mismatch, pool empty) meaning "cold-boot instead"; -1 on error: the
 * endpoint cannot be reached or is served by a uid that is neither root nor
 * ours. */
int veil_cache_claim(const struct veil_vm_shape *shape, struct veil_vm *vm, char *why, size_t why_len,
		     veil_err_t *err);

/* Readies a paused VM, claimed or cloned, for a container: hot-plugs the
 * shape's disks (and NIC, and virtio-fs device) on spare root ports, resumes the VM, and greets the
 * agent again so that the guest's clock is set and its entropy reseeded from
 * this host now, not from when the VM was booted. On failure the VM is
 * unusable: tear it down (and cold-boot, if the container should still
 * start). */
int veil_cache_adopt(struct veil_vm *vm, const struct veil_vm_shape *shape, veil_err_t *err);

/* [runtime] reset = "scrub": hands a claimed VM whose container is gone back
 * to the factory, which scrubs it and pools it again. shape as for the claim.
 * Returns 1 once the factory holds it (vm's channels are closed, its VMM
 * left running); 0 with a reason when the factory declines or is not
 * running (tear the VM down then); -1 on error. */
int veil_cache_return(const struct veil_vm_shape *shape, struct veil_vm *vm, char *why, size_t why_len,
		      veil_err_t *err);
#endif
