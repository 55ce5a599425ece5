/* config.json as the guest agent takes it: the CreateContainerRequest and
 * the Process of ExecProcess, built from a parsed spec as runc's specconv
 * builds its configuration (runc's default device rules appended, bind
 * mounts of small host files copied in, an exec taking the init's
 * capabilities when its process.json has none). */
#ifndef VEIL_GUEST_SPEC_H
#define VEIL_GUEST_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "lib/oci_spec.h"
#include "proto/rpc.h"

/* The request, and every block built for it; the spec's strings are borrowed. */
struct veil_guest_request {
	Veil__Agent__V1__CreateContainerRequest req;
	void **blocks;
	size_t n_blocks, cap_blocks;
};

/* What becomes of one of the spec's mounts in the guest, as the runtime
 * decided it (runtime/volumes.c, veil_mount_route). */
enum veil_mount_route {
	VEIL_MOUNT_AS_IS,  /* made in the guest as the spec says: proc, tmpfs, ... */
	VEIL_MOUNT_SKIP,   /* a host path the guest cannot see: left out (the runtime said why) */
	VEIL_MOUNT_COPY,   /* a small host file copied in (lib/host_files.h), or skipped with a warning */
	VEIL_MOUNT_SHARED, /* a bind mount of shared_name in the shared tree */
	VEIL_MOUNT_TMPFS,  /* a guest tmpfs of tmpfs_bytes instead (podman's /dev/shm) */
};

#define VEIL_SHARED_NAME_MAX 24

struct veil_mount_plan {
	enum veil_mount_route route;
	char shared_name[VEIL_SHARED_NAME_MAX];
	uint64_t tmpfs_bytes;
};

/* Where a container's files come from. */
struct veil_container_fs {
	const char *rootfs_serial;  /* the disk of its rootfs image, unless rootfs_shared */
	const char *shared_fs_tag;  /* the virtio-fs device of its shared tree; NULL: none */
	bool rootfs_shared;         /* the rootfs is the tree's VEIL_FS_ROOTFS, not the disk */
	const char *upper_serial;   /* the disk of its writable layer; NULL: guest memory */
	const struct veil_mount_plan *mounts; /* one per spec mount; NULL: binds copied in, the rest as is */
};

/* Namespaces a new container shares with one already in the guest: types
 * as in linux.namespaces ("network", "ipc", "uts", "pid"). */
#define VEIL_MAX_JOINED 8 /* the agent's bound */

struct veil_joined_namespaces {
	const char *container_id;
	const char *const *types;
	size_t n_types;
};

/* own_netns: whether the init gets a network namespace of its own (not when
 * the host handed the VM a netns: the guest's interface then lives in the
 * guest's root namespace, and the VM is the boundary around it). Warns (log)
 * about what the guest cannot have and skips it: bind mounts other than
 * small files or shared ones, the host's block devices, unknown
 * capabilities. joined (may be NULL): namespaces the init shares with
 * another container instead of making them. */
int veil_guest_request_build(struct veil_guest_request *g, const char *id, const struct veil_container_fs *fs,
			     const struct oci_spec *spec, bool own_netns, const struct veil_joined_namespaces *joined,
			     veil_err_t *err);
void veil_guest_request_release(struct veil_guest_request *g);

/* The Process of an ExecProcessRequest. container_init: the container's
 * process (config.json's), whose capabilities, no_new_privileges and
 * oomScoreAdj an exec's process.json inherits where it sets none, as with
 * runc; NULL for the init itself. Release with veil_guest_process_release. */
int veil_guest_process(Veil__Agent__V1__Process *msg, const struct oci_process *p, const struct oci_process *container_init,
		       veil_err_t *err);
void veil_guest_process_release(Veil__Agent__V1__Process *msg);

#endif
