/* A container's host paths and the guest: what becomes of its rootfs and of
 * each bind mount, by [hypervisor.qemu] shared_fs and whether the guest is
 * confidential (docs/volumes.md).
 *
 *   shared_fs = "virtio-fs"  the rootfs and every bind-mounted directory or
 *                            file are shared by the container's virtiofsd
 *                            (hv/virtiofsd.h) and bound in the guest;
 *   shared_fs = "none"       directories are refused with a line naming the
 *                            mount; small host files are copied in
 *                            (lib/host_files.h);
 *   confidential             no host directory; a host file only at a
 *                            destination its measured init-data names
 *                            (veil_initdata_mounts), copied in.
 *
 * In every mode podman's /dev/shm (a bind of a host tmpfs) becomes a guest
 * tmpfs of the same size, as Kata does. */
#ifndef VEIL_RUNTIME_VOLUMES_H
#define VEIL_RUNTIME_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>

#include "attest/initdata_config.h"
#include "hv/agent_client.h"
#include "hv/virtiofsd.h"
#include "lib/config.h"
#include "lib/error.h"
#include "lib/oci_spec.h"

/* podman's default shm size, for a /dev/shm whose source is not a tmpfs. */
#define VEIL_DEFAULT_SHM_BYTES ((uint64_t)64 << 20)

/* What decides a mount's fate besides the mount. */
struct veil_mount_rules {
	bool shared_fs; /* shared_fs = "virtio-fs" */
	/* A confidential guest's: the host files its init-data allows; NULL
	 * for an ordinary guest. */
	const struct veil_mount_policy *confidential;
	/* A container in another container's VM by its namespace paths: the
	 * VM's shared tree is not its own, so no host directory reaches it. */
	bool joined;
};

/* The one place that decides what becomes of a spec mount, and the only
 * one that tells a host file from a host directory: fills *plan (its
 * shared_name left empty), or fails with one line naming the mount and what
 * to do. A mount the guest cannot have gets VEIL_MOUNT_SKIP and a warning. */
int veil_mount_route(const struct oci_mount *m, const struct veil_mount_rules *rules, struct veil_mount_plan *plan,
		     veil_err_t *err);

/* Every mount's route (one plan per spec mount, malloc'd), or NULL with the
 * first refusal. */
struct veil_mount_plan *veil_mounts_route(const struct oci_spec *spec, const struct veil_mount_rules *rules,
					  veil_err_t *err);

/* A bind mount's flags: read-only (the last of "ro" and "rw" wins, as
 * mount(8) reads them); with the mounts below its source ("rbind"). */
bool veil_mount_readonly(const struct oci_mount *m);
bool veil_mount_recursive(const struct oci_mount *m);

/* Every mount's route, and what the container's virtiofsd must share. */
struct veil_volumes {
	struct veil_mount_plan *mounts;  /* one per spec mount */
	struct veil_fs_export *exports;  /* the rootfs, then the shared bind mounts' sources */
	size_t n_exports;
	bool shared;                     /* a shared tree (virtio-fs) */
};

/* Routes every mount of spec for a container whose rootfs is rootfs, in a
 * guest whose init-data allows confidential's host files (NULL: an ordinary
 * guest). */
int veil_volumes_plan(const struct veil_config *cfg, const struct oci_spec *spec, const char *rootfs,
		      const struct veil_mount_policy *confidential, struct veil_volumes *v, veil_err_t *err);
void veil_volumes_free(struct veil_volumes *v);

#endif
