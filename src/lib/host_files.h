/* Bind mounts of host paths, which a guest that shares no filesystem with
 * the host cannot see. The one place that decides what becomes of each:
 * small regular files (/etc/hosts, /etc/resolv.conf, /etc/hostname, podman's
 * /run/.containerenv) are copied into the guest at create, as Kata does with
 * shared_fs = "none"; directories, large files and anything else are skipped
 * with a warning saying why. Which bind mounts come here at all (files
 * without a shared tree) is decided by veil_mount_route (runtime/volumes.h). */
#ifndef VEIL_HOST_FILES_H
#define VEIL_HOST_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/oci_spec.h"

/* A host file to copy in. */
struct veil_host_file {
	uint8_t *content;  /* malloc'd; len bytes */
	size_t len;
	uint32_t mode;     /* permission bits */
	uint32_t uid, gid;
};

/* Whether m is a bind mount (type "bind", or a "bind" or "rbind" option). */
bool veil_is_bind_mount(const struct oci_mount *m);

/* For a bind mount m: 1 with *file filled (and *budget, the bytes still
 * allowed in all, reduced) to copy it in; 0 with why to skip it. */
int veil_host_file_read(const struct oci_mount *m, size_t *budget, struct veil_host_file *file, char *why,
			size_t why_size);
void veil_host_file_release(struct veil_host_file *file);

#endif
