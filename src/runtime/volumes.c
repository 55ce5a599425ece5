#include "runtime/volumes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "lib/log.h"
#include "proto/contract.h"

static bool has_option(const struct oci_mount *m, const char *opt)
{
	for (size_t i = 0; i < m->n_options; i++)
		if (strcmp(m->options[i], opt) == 0)
			return true;
	return false;
}

static bool is_bind(const struct oci_mount *m)
{
	return (m->type != NULL && strcmp(m->type, "bind") == 0) || has_option(m, "bind") || has_option(m, "rbind");
}

bool veil_mount_readonly(const struct oci_mount *m)
{
	bool ro = false;
	for (size_t i = 0; i < m->n_options; i++) {
		if (strcmp(m->options[i], "ro") == 0)
			ro = true;
		else if (strcmp(m->options[i], "rw") == 0)
			ro = false;
	}
	return ro;
}

bool veil_mount_recursive(const struct oci_mount *m)
{
	return has_option(m, "rbind");
}

/* The size of the host's shm a container asked for: its tmpfs's, podman's
 * default otherwise. */
static uint64_t shm_bytes(const char *source)
{
	struct statfs fs;
	if (source == NULL || statfs(source, &fs) < 0 || fs.f_type != TMPFS_MAGIC || fs.f_blocks == 0)
		return VEIL_DEFAULT_SHM_BYTES;
	return (uint64_t)fs.f_blocks * (uint64_t)fs.f_bsize;
}

int veil_mount_route(const struct oci_mount *m, const struct veil_mount_rules *rules, struct veil_mount_plan *plan,
		     veil_err_t *err)
{
	*plan = (struct veil_mount_plan){ .route = VEIL_MOUNT_AS_IS };
	if (!is_bind(m))
		return 0;
	const char *source = m->source != NULL ? m->source : "";
	/* IPC within the container: the guest's own memory serves it, and
	 * nothing of the host's reaches the guest. */
	if (strcmp(m->destination, "/dev/shm") == 0) {
		*plan = (struct veil_mount_plan){ .route = VEIL_MOUNT_TMPFS, .tmpfs_bytes = shm_bytes(m->source) };
		return 0;
	}
	if (rules->confidential != NULL && !veil_mount_policy_allows(rules->confidential, m->destination))
		return veil_fail(err, 0,
				 "bind mount of %s on %s refused: a confidential container gets no host file that its "
				 "measured init-data does not name (veil.toml [mounts] allow)",
				 source, m->destination);
	struct stat st;
	if (stat(source, &st) < 0) {
		if (rules->shared_fs)
			return veil_fail(err, errno, "bind mount source %s (for %s)", source, m->destination);
		log_warn("bind mount of %s on %s skipped: %s", source, m->destination, strerror(errno));
		plan->route = VEIL_MOUNT_SKIP;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (rules->shared_fs) {
			plan->route = VEIL_MOUNT_SHARED;
			return 0;
		}
		if (rules->joined)
			return veil_fail(err, 0,
					 "bind mount of directory %s on %s refused: a container that joins another container's "
					 "VM gets no host directory (the VM's volumes are its first container's)",
					 source, m->destination);
		if (rules->confidential != NULL)
			return veil_fail(err, 0,
					 "bind mount of directory %s on %s refused: a confidential guest shares no "
					 "directory with the host",
					 source, m->destination);
		return veil_fail(err, 0,
				 "bind mount of directory %s on %s refused: no host directory reaches the guest with "
				 "shared_fs = \"none\"; set shared_fs = \"virtio-fs\" in [hypervisor.qemu] to share it",
				 source, m->destination);
	}
	if (S_ISREG(st.st_mode)) {
		/* Without a shared tree a small host file is copied in at create
		 * (lib/host_files.h says which, and why not). */
		plan->route = rules->shared_fs ? VEIL_MOUNT_SHARED : VEIL_MOUNT_COPY;
		return 0;
	}
	/* Sockets, FIFOs and devices cannot cross into a VM either way. */
	log_warn("bind mount of %s on %s skipped: it is neither a directory nor a regular file", source, m->destination);
	plan->route = VEIL_MOUNT_SKIP;
	return 0;
}

struct veil_mount_plan *veil_mounts_route(const struct oci_spec *spec, const struct veil_mount_rules *rules,
				   veil_err_t *err)
{
	struct veil_mount_plan *plans = calloc(spec->n_mounts + 1, sizeof(*plans));
	if (plans == NULL)
		abort();
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (veil_mount_route(&spec->mounts[i], rules, &plans[i], err) < 0) {
			free(plans);
			return NULL;
		}
	return plans;
}

int veil_volumes_plan(const struct veil_config *cfg, const struct oci_spec *spec, const char *rootfs,
		      const struct veil_mount_policy *confidential, struct veil_volumes *v, veil_err_t *err)
{
	/* A confidential guest without a policy gets no host file at all. */
	static const struct veil_mount_policy no_host_files;
	const struct veil_mount_rules rules = {
		.shared_fs = cfg->qemu.shared_fs == VEIL_SHARED_FS_VIRTIO_FS,
		.confidential = confidential != NULL ? confidential : cfg->qemu.confidential_guest ? &no_host_files : NULL,
	};
	*v = (struct veil_volumes){ .shared = rules.shared_fs };
	v->mounts = veil_mounts_route(spec, &rules, err);
	if (v->mounts == NULL)
		return -1;
	v->exports = calloc(spec->n_mounts + 1, sizeof(*v->exports));
	if (v->exports == NULL)
		abort();
	/* Writable even when root.readonly: the guest makes the mount points in
	 * it first and the rootfs read-only then, as runc does on the host. */
	if (v->shared)
		v->exports[v->n_exports++] = (struct veil_fs_export){
			.host_path = rootfs, .name = VEIL_FS_ROOTFS, .recursive = true,
		};
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		struct veil_mount_plan *plan = &v->mounts[i];
		if (plan->route != VEIL_MOUNT_SHARED)
			continue;
		snprintf(plan->shared_name, sizeof(plan->shared_name), VEIL_FS_MOUNT_PREFIX "%zu", i);
		v->exports[v->n_exports++] = (struct veil_fs_export){
			.host_path = m->source, .name = plan->shared_name, .readonly = veil_mount_readonly(m),
			.recursive = veil_mount_recursive(m),
		};
	}
	return 0;
}

void veil_volumes_free(struct veil_volumes *v)
{
	free(v->mounts);
	free(v->exports);
	*v = (struct veil_volumes){ 0 };
}
