/* A container's root filesystem in the agent's mount namespace: the host's
 * read-only erofs image, under a writable overlay kept in guest memory. */
#ifndef VEIL_AGENT_ROOTFS_H
#define VEIL_AGENT_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

#define AGENT_CONTAINERS_DIR "/run/veil/containers"

/* Mounts the rootfs of container id from the virtio-blk disk with the given
 * serial; writes the path of its root into rootfs (size >= PATH_MAX). */
int agent_rootfs_mount(const char *id, const char *serial, bool readonly, char *rootfs, size_t size,
		       veil_err_t *err);
/* Unmounts and removes whatever agent_rootfs_mount left, complete or not. */
void agent_rootfs_unmount(const char *id);
/* How many virtio disks a filesystem still holds (waiting up to 1 s for them
 * to be let go): after every container is gone, any is a mount that was
 * detached lazily and lives on, keeping the host from unplugging the disk. */
unsigned agent_rootfs_busy_disks(void);

#endif
