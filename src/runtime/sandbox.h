/* A sandbox is one microVM serving one container: its state directory, the
 * VMM, the agent channel, and the container's files: its read-only rootfs
 * image and writable layer, or its virtiofsd (runtime/volumes.h). */
#ifndef VEIL_SANDBOX_H
#define VEIL_SANDBOX_H

#include <stdbool.h>

#include "attest/initdata_config.h"
#include "cache/vm.h"
#include "hv/agent_client.h"
#include "hv/hypervisor.h"
#include "lib/config.h"
#include "lib/error.h"
#include "lib/oci_spec.h"
#include "hv/virtiofsd.h"
#include "runtime/volumes.h"
#include "runtime/writable_layer.h"

#define VEIL_ID_MAX 64

struct veil_sandbox {
	char *id;
	char *dir;          /* <state_dir>/<id>, removed by veil_sandbox_destroy */
	char *image_path;
	char *console_log;
	struct veil_vm_shape shape; /* what the VM was got as, sized for the container */
	struct veil_vm vm;
	struct veil_agent_client agent;
	int request_timeout_ms;
	/* A confidential container's secrets from its annotations. */
	struct veil_secret_ref secrets[VEIL_MAX_SECRETS];
	size_t n_secrets;
	struct veil_volumes volumes;
	struct veil_virtiofsd virtiofsd;     /* shared_fs = "virtio-fs" */
	struct veil_writable_layer upper;    /* shared_fs = "none", kept between starts */
};

/* runc's rule for container IDs, minus characters QEMU's options treat specially. */
int veil_validate_id(const char *id, veil_err_t *err);

/* Validates the ID and creates its state directory: the directory is the
 * claim on the ID ("container with id exists" if taken). */
int veil_claim_id(const char *state_dir, const char *id, veil_err_t *err);

/* In the state directory of an ID claimed (and so validated) by veil_claim_id:
 * builds the rootfs image, boots the VM
 * (sized from linux.resources), waits for the agent and creates the container
 * in it. signal_fd (or -1) aborts the waits. On failure the VM and image are
 * gone; the directory is the caller's. */
int veil_sandbox_create(struct veil_sandbox *sb, const struct veil_config *cfg, const char *state_dir,
			const char *id, const struct oci_spec *spec, const char *rootfs, int signal_fd,
			veil_err_t *err);

/* The container is gone: with [runtime] reset = "scrub", a VM from the
 * factory goes back to it to serve another tenant; otherwise, or if the
 * factory declines, as veil_sandbox_destroy. */
void veil_sandbox_release(struct veil_sandbox *sb, const struct veil_config *cfg);

/* Kills the VM and removes its disk image; the state directory is the caller's.
 * Safe on a partly created sandbox, idempotent. */
void veil_sandbox_destroy(struct veil_sandbox *sb);

/* The memory the container's VM gets: default_memory plus the container's limit. */
uint32_t veil_sandbox_memory_mib(const struct veil_config *cfg, const struct oci_spec *spec);

#endif
