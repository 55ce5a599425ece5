/* The container's files as the host holds them, where podman looks for
 * them. `podman cp` and `podman container stat` of a running container join
 * the mount namespace of the pid-file's process, the monitor here, and copy
 * to and from the root of that namespace, where runc's init has the
 * container's root. With shared_fs = "virtio-fs" those files are on the host
 * (the rootfs and the shared bind mounts, served to the guest by virtiofsd),
 * so the monitor moves into a mount namespace whose root is that view: the
 * rootfs, with the shared bind mounts on their destinations. Its own root
 * (chroot) stays the host's, so nothing it does by path changes, and the
 * programs it starts afterwards (hooks) go back to the host's namespace. The
 * namespace goes with the monitor. */
#ifndef VEIL_RUNTIME_VIEW_H
#define VEIL_RUNTIME_VIEW_H

#include "lib/error.h"
#include "lib/oci_spec.h"
#include "runtime/volumes.h"

/* Moves this process into the view of the container whose rootfs is rootfs
 * (dir: a private directory to build it on). On failure this process is
 * where it was. */
int veil_view_enter(const char *rootfs, const struct oci_spec *spec, const struct veil_volumes *v, const char *dir,
		    veil_err_t *err);
/* In a child about to run a host program: back to the host's mount
 * namespace, if the parent entered a view. Async-signal-safe. */
void veil_view_leave_in_child(void);

#endif
