/* A container's root filesystem in the agent's mount namespace: the host's
 * read-only erofs image under a writable overlay, kept in guest memory or on
 * a disk of its own; or, with a shared tree (virtio-fs), the host's own
 * directory. */
#ifndef VEIL_AGENT_ROOTFS_H
#define VEIL_AGENT_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"
#include "proto/rpc.h"

#define AGENT_CONTAINERS_DIR "/run/veil/containers"

/* Mounts the rootfs of container id as spec says (rootfs_serial or the
 * shared tree, upper_serial), read-only if readonly and not shared, and the
 * shared tree if it has one; writes the path of its root into rootfs (size
 * >= PATH_MAX). */
int agent_rootfs_mount(const char *id, const Veil__Agent__V1__CreateContainerRequest *spec, bool readonly,
		       char *rootfs, size_t size, veil_err_t *err);
/* Where container id's shared tree is mounted in the agent's namespace. */
int agent_rootfs_shared_dir(const char *id, char *out, size_t size);
/* Writes what the container changed in its writable layer out to its disk,
 * before the host may kill the VM. */
void agent_rootfs_sync(const char *id);
/* The "file" mounts among mounts (host files copied in, validated): each is
 * written with its mode and owner into a small tmpfs of the container's, at
 * agent_rootfs_file_path(index in mounts), for its init to bind. */
int agent_rootfs_stage_files(const char *id, Veil__Agent__V1__Mount *const *mounts, size_t n, veil_err_t *err);
void agent_rootfs_file_path(char *out, size_t size, const char *id, size_t index);
/* Unmounts and removes whatever agent_rootfs_mount and agent_rootfs_stage_files left, complete or not. */
void agent_rootfs_unmount(const char *id);
/* After every container is gone, the filesystems of containers that live on
 * (waiting up to 1 s for them to go): mounts that were detached lazily, with
 * what they hold. The virtio disks a filesystem still holds, which keep the
 * host from unplugging them, plus the tmpfs and overlay superblocks the agent
 * unmounted that are still alive. */
unsigned agent_rootfs_leftovers(void);

/* Remembers a diskless superblock (tmpfs, overlay) that was unmounted, to
 * count it while it lives on. */
void agent_superblock_watch(dev_t dev);
/* How many of those are alive. */
unsigned agent_superblocks_alive(void);

#endif
