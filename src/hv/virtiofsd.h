/* The daemon behind a virtio-fs device: one virtiofsd (QEMU's, Debian's
 * /usr/lib/qemu/virtiofsd) per container, serving a tree made only of what
 * the container may see: its rootfs and its bind mounts' sources, each under
 * a name of its own (docs/volumes.md).
 *
 * The tree is built in a mount namespace that only virtiofsd lives in: an
 * empty tmpfs with each source bind-mounted onto it (cloned with
 * open_tree(2) here, so that a missing source is this process's error, and
 * made read-only on the host side too when the mount is), remounted
 * read-only. Nothing of it is ever mounted in the host's namespace, so it
 * goes with the daemon, whatever kills it. virtiofsd then adds its own
 * sandbox: a pid, net and mount namespace of its own, pivot_root into the
 * tree, and seccomp. The vhost-user socket is bound in the container's
 * private state directory (0700), connected at once, and unlinked: QEMU gets
 * the connected end, virtiofsd the listening one, and no socket file is left
 * for anyone to reach. */
#ifndef VEIL_HV_VIRTIOFSD_H
#define VEIL_HV_VIRTIOFSD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"

/* One host path in the shared tree. */
struct veil_fs_export {
	const char *host_path; /* a directory or a regular file; symlinks followed as a bind mount does */
	const char *name;      /* its name at the top of the tree: [A-Za-z0-9._-], not "." or ".." */
	bool readonly;         /* read-only on the host side too: the guest cannot write through */
	bool recursive;        /* with the mounts below it (rbind) */
};

struct veil_virtiofsd_opts {
	const char *daemon;    /* [hypervisor.qemu] virtio_fs_daemon */
	const char *cache;     /* virtiofsd's -o cache=: "none", "auto", "always" */
	const char *dir;       /* private (0700) directory: the tree's mount point and the socket's place */
	const struct veil_fs_export *exports;
	size_t n_exports;
	bool die_with_parent;  /* the daemon goes when this thread does */
};

struct veil_virtiofsd {
	pid_t pid;      /* 0: none */
	int pidfd;
	int vhost_fd;   /* the vhost-user socket's connected end, for QEMU (struct veil_fs); -1 once handed over */
	int stderr_fd;  /* what it said, for an error when it dies */
	char *root;     /* the tree's mount point (empty in the host's namespace) */
};

void veil_virtiofsd_init(struct veil_virtiofsd *d);
/* Clones the exports, starts the daemon on them and connects to it. On
 * failure nothing is left: no process, no socket file, no mount. */
int veil_virtiofsd_start(const struct veil_virtiofsd_opts *o, struct veil_virtiofsd *d, veil_err_t *err);
/* -1 with virtiofsd's last words in *err if it has exited; 0 while it runs. */
int veil_virtiofsd_check(struct veil_virtiofsd *d, veil_err_t *err);
/* Closes our end of its connection, lets the daemon exit (it does once the
 * VMM's end is closed too), kills it if it does not, reaps it (its tree
 * goes with it) and closes every fd. Idempotent. */
void veil_virtiofsd_stop(struct veil_virtiofsd *d);

#endif
