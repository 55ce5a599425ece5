/* The VM cache as a container's start sees it: take a booted, paused VM from
 * the factory (`veil factory init`, docs/vm-cache.md) instead of booting one,
 * then ready it for the container. */
#ifndef VEIL_CACHE_H
#define VEIL_CACHE_H

#include <stddef.h>

#include "hv/agent_client.h"
#include "hv/hypervisor.h"
#include "lib/config.h"
#include "lib/error.h"

/* Takes a paused, agent-ready VM whose shape matches cfg ([hypervisor.qemu]
 * kernel, initrd, machine_type, default_memory, default_vcpus and
 * kernel_params; for a container that needs a bigger VM, pass a copy of cfg
 * with its sizes, and it will not match). Returns 1 with *vm filled (pid,
 * pidfd, control_fd, agent_fd, lifeline_fd, root_ports and its backend in
 * hv) and still paused; the VM is the caller's alone
 * and dies when the caller tears it down or exits. Returns 0 with a one-line
 * reason in why (cache off, factory not running or not answering, shape
 * mismatch, pool empty) meaning "cold-boot instead"; -1 on error: cfg
 * describes no VM, or the endpoint cannot be reached or is served by a uid
 * that is neither root nor ours. */
int veil_cache_claim(const struct veil_config *cfg, struct veil_vm *vm, char *why, size_t why_len, veil_err_t *err);

/* Readies a claimed VM for a container: hot-plugs the rootfs image (and the
 * NIC, unless nic is NULL) on spare root ports, resumes the VM, and greets
 * the agent again so that the guest's clock is set and its entropy reseeded from this host now, not from
 * when the VM was booted. agent must be initialised on vm->agent_fd and
 * vm->pidfd. On failure the VM is unusable: tear it down (and cold-boot,
 * if the container should still start). */
int veil_cache_adopt(struct veil_vm *vm, struct veil_agent_client *agent, const struct veil_disk *rootfs,
		     const struct veil_nic *nic, int timeout_ms, veil_err_t *err);

/* [runtime] reset = "scrub": hands a claimed VM whose container is gone back
 * to the factory, which scrubs it and pools it again. cfg as for the claim.
 * Returns 1 once the factory holds it (vm's channels are closed, its VMM
 * left running); 0 with a reason when the factory declines or is not
 * running (tear the VM down then); -1 on error. */
int veil_cache_return(const struct veil_config *cfg, struct veil_vm *vm, char *why, size_t why_len, veil_err_t *err);
#endif
