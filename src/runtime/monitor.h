/* The monitor is the host process that stands for a container's init: its
 * PID is the one written to --pid-file. It owns the VM, relays the stdio of
 * the container's processes, serves the verbs (start, kill, pause, exec, ...)
 * on a control socket, and exits with the container's exit status. */
#ifndef VEIL_MONITOR_H
#define VEIL_MONITOR_H

#include <stdbool.h>

#include "lib/config.h"
#include "lib/error.h"
#include "lib/oci_spec.h"
#include "runtime/join.h"

struct veil_monitor_opts {
	const struct veil_config *cfg;
	const char *root;        /* state root; <root>/<id> is already claimed */
	const char *id;
	const char *bundle;      /* absolute */
	const struct oci_spec *spec;
	const char *rootfs;
	int stdio[3];            /* the init process's host fds (a pty slave in all three for a terminal) */
	bool start_now;          /* `veil run`: start the init without waiting for `veil start` */
	/* -1, or a socket to the creator (`veil create`): the monitor writes "ok"
	 * or "error: ..." once created, then waits for a byte meaning "recorded",
	 * stops dying with the creator, and confirms with a byte. */
	int creator_fd;
	int signal_fd;           /* signals the monitor receives, to forward to the container */
	const char *cgroup_path; /* the host cgroup (veil_cgroup_path) the monitor and QEMU join; NULL for none */
};

/* Runs until the container's init exits (or it is killed, or creation fails).
 * Returns the code to exit with: the container's status, 128+signal if it was
 * killed; or -1 with *err if the container could not be created. */
int veil_monitor_run(const struct veil_monitor_opts *o, veil_err_t *err);

/* The monitor of a container created in the VM of container j->owner: a
 * stand-in for it, as the pid its caller waits for. It writes state.json,
 * hands the container (its bundle, the namespaces it shares, the init's
 * stdio) to the owner's monitor, which creates it in the VM and serves its
 * control socket, forwards the signals it receives, and returns the code to
 * exit with when the container's init exits; -1 with *err if the container
 * could not be created. */
int veil_monitor_join(const struct veil_monitor_opts *o, const struct veil_join *j, veil_err_t *err);

/* The signals a monitor takes through its signal fd rather than dying of them. */
int veil_monitor_block_signals(veil_err_t *err);

#endif
