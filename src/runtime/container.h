/* A container's lifecycle as library calls: each verb of the CLI parses its
 * arguments and calls one of these (as crun's verbs call libcrun's), and a
 * containerd shim can call them alike. Errors are one line in *err. */
#ifndef VEIL_RUNTIME_CONTAINER_H
#define VEIL_RUNTIME_CONTAINER_H

#include <json-c/json.h>
#include <stdbool.h>

#include "lib/config.h"
#include "lib/error.h"
#include "runtime/monitor_msg.h"
#include "runtime/state.h"

/* What every call works in. */
struct veil_context {
	const struct veil_config *cfg;
	const char *root; /* the state directory: --root, else [runtime] state_dir */
	/* fds above 2 that the caller was started with (containerd's shim passes
	 * its socket): a monitor, which outlives its caller, closes them. */
	const int *inherited_fds;
	int n_inherited_fds;
	/* --systemd-cgroup: linux.cgroupsPath is systemd's slice:prefix:name */
	bool systemd_cgroup;
};

struct veil_create_opts {
	const char *id;
	const char *bundle;
	const char *pid_file;       /* NULL: none */
	const char *console_socket; /* NULL: none; with process.terminal, the pty master goes there */
};

/* Claims the ID, then forks the container's monitor, which boots the VM and
 * creates the container; returns once it is created (or failed, leaving
 * nothing behind). Its process starts with veil_container_start. */
int veil_container_create(const struct veil_context *ctx, const struct veil_create_opts *o, veil_err_t *err);

/* Creates and starts the container with this process as its monitor, and
 * returns once it has exited: its exit status, 128+N if signal N killed it,
 * or -1 if it could not be created. The state goes unless keep. */
int veil_container_run(const struct veil_context *ctx, const struct veil_create_opts *o, bool keep, veil_err_t *err);

int veil_container_start(const struct veil_context *ctx, const char *id, veil_err_t *err);
int veil_container_kill(const struct veil_context *ctx, const char *id, int signal, bool all, veil_err_t *err);
/* Removes a stopped (or created) container; with force, any. */
int veil_container_delete(const struct veil_context *ctx, const char *id, bool force, veil_err_t *err);
/* Freezes or thaws the container's whole VM. */
int veil_container_pause(const struct veil_context *ctx, const char *id, bool pause, veil_err_t *err);
/* The container's processes, with the guest's pids (pids, and processes
 * with pid, ppid, uid, comm, cmdline, cpu_ticks each): none if it is stopped. */
int veil_container_ps(const struct veil_context *ctx, const char *id, struct veil_monitor_reply *pids, veil_err_t *err);
/* The container's OCI state document. */
int veil_container_state(const struct veil_context *ctx, const char *id, json_object **state, veil_err_t *err);
/* Every container's OCI state document, as an array. */
json_object *veil_container_list(const struct veil_context *ctx);

/* The validated ID's state (for the caller to free), and its status. */
int veil_container_load(const struct veil_context *ctx, const char *id, struct veil_state *s, const char **status,
			veil_err_t *err);

struct veil_exec_opts {
	const char *id;
	json_object *process;       /* the OCI process to run */
	const char *pid_file;       /* NULL: none */
	const char *console_socket; /* as for create */
	bool detach;
};

/* Runs a process in the running container. This process, or with detach a
 * child of it, stands for the process on the host: it forwards signals to it
 * while the monitor relays its stdio. Returns its exit status (as
 * veil_container_run), or 0 once a detached process runs; -1 if it could
 * not be started. */
int veil_container_exec(const struct veil_context *ctx, const struct veil_exec_opts *o, veil_err_t *err);

#endif
