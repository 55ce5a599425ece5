/* The lifecycle calls. create and run fork or become a container's
 * monitor; every later call addresses the monitor over its control socket
 * (runtime/monitor_msg.h). */
#include "runtime/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/console.h"
#include "lib/control.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/host_cgroup.h"
#include "lib/log.h"
#include "lib/ns_paths.h"
#include "lib/spawn.h"
#include "lib/trace.h"
#include "runtime/hooks.h"
#include "runtime/monitor.h"
#include "runtime/sandbox.h"

/* ---- create and run ---- */

/* A container about to be created: its bundle, spec and the init's stdio. */
struct launch {
	char bundle[PATH_MAX];
	struct oci_spec spec;
	char *rootfs;
	int stdio[3];
	int owned_stdio[3];
	bool console_ctty;
	char cgroup_path[PATH_MAX]; /* linux.cgroupsPath resolved (veil_cgroup_path); "" for none */
	struct veil_join join; /* the container whose VM it joins, if its namespace paths name one */
};

/* What a container in a VM can honour is checked before anything boots:
 * namespace paths, and the host cgroup's path. Paths naming another
 * container of the root are taken out of the spec first: the container
 * joins that one's VM instead. */
static int load_bundle(const struct veil_context *ctx, struct launch *l, const char *bundle, veil_err_t *err)
{
	memset(l, 0, sizeof(*l));
	l->owned_stdio[0] = l->owned_stdio[1] = l->owned_stdio[2] = -1;
	if (realpath(bundle, l->bundle) == NULL)
		return veil_fail(err, errno, "bundle %s", bundle);
	if (oci_spec_load_bundle(l->bundle, &l->spec, err) < 0 ||
	    veil_join_find(ctx->root, &l->spec, &l->join, err) < 0 || veil_check_namespace_paths(&l->spec, err) < 0)
		return -1;
	if (l->spec.cgroups_path != NULL &&
	    veil_cgroup_path(l->spec.cgroups_path, ctx->systemd_cgroup, veil_systemd_running(), l->cgroup_path,
			     sizeof(l->cgroup_path), err) < 0)
		return -1;
	l->rootfs = oci_spec_rootfs_path(&l->spec, l->bundle);
	if (l->spec.process == NULL)
		return veil_fail(err, 0, "config.json: process is required to run a container");
	if (l->rootfs == NULL)
		return veil_fail(err, ENOMEM, "rootfs path");
	return 0;
}

static void launch_release(struct launch *l)
{
	oci_spec_free(&l->spec);
	free(l->rootfs);
	l->rootfs = NULL;
	for (int i = 0; i < 3; i++)
		if (l->owned_stdio[i] >= 0)
			close(l->owned_stdio[i]);
}

/* Terminal handling as runc: with process.terminal and a console socket, a
 * pty whose master goes to the socket; detached without one is an error. */
static int launch_stdio(struct launch *l, const char *console_socket, bool detached, veil_err_t *err)
{
	for (int i = 0; i < 3; i++)
		l->stdio[i] = i;
	if (!l->spec.process->terminal) {
		if (console_socket != NULL)
			return veil_fail(err, 0, "--console-socket given but process.terminal is false");
		return 0;
	}
	if (console_socket == NULL) {
		if (detached)
			return veil_fail(err, 0, "cannot allocate tty if veil will detach without setting console socket");
		return 0; /* the caller's own terminal */
	}
	int master, slave;
	if (veil_pty_open(&master, &slave, err) < 0)
		return -1;
	struct winsize ws = { .ws_row = (unsigned short)l->spec.process->console_height,
			      .ws_col = (unsigned short)l->spec.process->console_width };
	if (ws.ws_row && ws.ws_col)
		ioctl(master, TIOCSWINSZ, &ws);
	struct veil_raw_tty raw;
	veil_tty_make_raw(&raw, slave);
	int rc = veil_console_send(console_socket, master, err);
	close(master);
	if (rc < 0) {
		close(slave);
		return -1;
	}
	for (int i = 0; i < 3; i++)
		l->stdio[i] = slave;
	l->owned_stdio[0] = slave;
	l->console_ctty = true;
	return 0;
}

static void launch_opts(const struct veil_context *ctx, struct launch *l, const char *id, struct veil_monitor_opts *o)
{
	*o = (struct veil_monitor_opts){
		.cfg = ctx->cfg, .root = ctx->root, .id = id, .bundle = l->bundle, .spec = &l->spec,
		.rootfs = l->rootfs, .stdio = { l->stdio[0], l->stdio[1], l->stdio[2] }, .creator_fd = -1,
		.signal_fd = -1, .cgroup_path = l->cgroup_path[0] != '\0' ? l->cgroup_path : NULL,
	};
}

/* The monitor process: it outlives `veil create` and is reaped by whoever
 * reaps orphans of the caller (conmon and the shim are subreapers). */
static void __attribute__((noreturn)) monitor_child(const struct veil_context *ctx, struct launch *l, const char *id,
						    int creator_fd, pid_t creator)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != creator)
		_exit(1);
	for (int i = 0; i < ctx->n_inherited_fds; i++)
		close(ctx->inherited_fds[i]);
	/* Off the caller's terminal session: its ^C is not the container's. */
	setsid();
	if (l->console_ctty) {
		ioctl(l->stdio[0], TIOCSCTTY, 0);
		/* The pty is the container's stdio; what create inherited must close with
		 * create, or a caller reading it to EOF (containerd's shim) waits forever. */
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; fd < 3 && devnull >= 0; fd++)
			dup2(devnull, fd);
	}
	veil_err_t err = NULL;
	struct veil_monitor_opts o;
	launch_opts(ctx, l, id, &o);
	o.creator_fd = creator_fd;
	o.signal_fd = veil_monitor_block_signals(&err);
	if (o.signal_fd < 0) {
		(void)!write(creator_fd, "error: signals\n", 15);
		_exit(1);
	}
	int rc = l->join.owner[0] != '\0' ? veil_monitor_join(&o, &l->join, &err) : veil_monitor_run(&o, &err);
	veil_error_free(&err);
	veil_trace_finish("container", id);
	_exit(rc < 0 ? 1 : rc);
}

/* Reads the one-line verdict of a child that stands for a container or a
 * process: "ok", or "error: " and why; died names what it was if it says
 * neither. */
static int read_verdict(int fd, const char *died, veil_err_t *err)
{
	char msg[1200];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, msg + have, sizeof(msg) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (memchr(msg, '\n', have) || have == sizeof(msg) - 1)
			break;
	}
	msg[have] = '\0';
	char *nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(msg, "ok") == 0)
		return 0;
	if (strncmp(msg, "error: ", 7) == 0)
		return veil_fail(err, 0, "%s", msg + 7);
	return veil_fail(err, 0, "%s", died);
}

/* Forks the monitor and returns once the container is created (or failed). */
static int spawn_monitor(const struct veil_context *ctx, struct launch *l, const char *id, const char *pid_file,
			 veil_err_t *err)
{
	int pair[2];
	pid_t creator = getpid();
	pid_t pid = veil_fork_with_channel(SOCK_STREAM, pair, err);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(pair[0]);
		monitor_child(ctx, l, id, pair[1], creator);
	}
	close(pair[1]);
	cleanup_close int monitor = pair[0];
	int rc = read_verdict(monitor, "the container monitor died while creating the container", err);
	if (rc == 0 && pid_file != NULL)
		rc = veil_write_pid_file(pid_file, pid, err);
	char confirm;
	if (rc == 0 && (write(monitor, "k", 1) != 1 || read(monitor, &confirm, 1) != 1))
		rc = veil_fail(err, 0, "the container monitor died while being released");
	if (rc < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return rc;
}

int veil_container_create(const struct veil_context *ctx, const struct veil_create_opts *o, veil_err_t *err)
{
	/* The directory is the claim on the ID: from here on, nothing may stay behind on failure. */
	if (veil_claim_id(ctx->root, o->id, err) < 0)
		return -1;
	struct launch l;
	int rc = load_bundle(ctx, &l, o->bundle, err);
	if (rc == 0)
		rc = launch_stdio(&l, o->console_socket, true, err);
	if (rc == 0)
		rc = spawn_monitor(ctx, &l, o->id, o->pid_file, err);
	launch_release(&l);
	if (rc < 0) {
		cleanup_free char *dir = veil_state_dir(ctx->root, o->id);
		veil_remove_tree(dir);
	}
	return rc;
}

/* OCI: poststop hooks run once the container is gone; a failing one is logged. */
static void run_poststop(const struct oci_spec *spec, const struct veil_state *s)
{
	json_object *st = veil_state_oci_json(s, "stopped");
	veil_err_t err = NULL;
	if (veil_hooks_run("poststop", spec->hooks_poststop, spec->n_poststop, json_object_to_json_string(st), &err) < 0)
		log_warn("%s", err->msg);
	veil_error_free(&err);
	json_object_put(st);
}

int veil_container_run(const struct veil_context *ctx, const struct veil_create_opts *o, bool keep, veil_err_t *err)
{
	if (veil_claim_id(ctx->root, o->id, err) < 0)
		return -1;
	struct launch l;
	int signal_fd = -1;
	int rc = load_bundle(ctx, &l, o->bundle, err);
	if (rc == 0)
		rc = launch_stdio(&l, o->console_socket, false, err);
	if (rc == 0 && (signal_fd = veil_monitor_block_signals(err)) < 0)
		rc = -1;
	if (rc == 0) {
		struct veil_raw_tty raw = { .fd = -1 };
		if (l.spec.process->terminal && o->console_socket == NULL)
			veil_tty_make_raw(&raw, STDIN_FILENO);
		struct veil_monitor_opts mo;
		launch_opts(ctx, &l, o->id, &mo);
		mo.start_now = true;
		mo.signal_fd = signal_fd;
		rc = o->pid_file ? veil_write_pid_file(o->pid_file, getpid(), err) : 0;
		if (rc == 0)
			rc = l.join.owner[0] != '\0' ? veil_monitor_join(&mo, &l.join, err) : veil_monitor_run(&mo, err);
		veil_tty_restore(&raw);
		if (rc >= 0) {
			struct veil_state s = {
				.id = (char *)o->id, .bundle = l.bundle, .rootfs = l.rootfs, .created = (char *)"",
			};
			run_poststop(&l.spec, &s);
		}
	}
	cleanup_free char *dir = veil_state_dir(ctx->root, o->id);
	if (rc < 0 || !keep)
		veil_remove_tree(dir);
	launch_release(&l);
	if (signal_fd >= 0)
		close(signal_fd);
	veil_trace_finish("container", o->id);
	return rc;
}

/* ---- the verbs that address a container's monitor ---- */

int veil_container_load(const struct veil_context *ctx, const char *id, struct veil_state *s, const char **status,
			veil_err_t *err)
{
	if (veil_validate_id(id, err) < 0 || veil_state_read(ctx->root, id, s, err) < 0)
		return -1;
	*status = veil_state_status(ctx->root, s);
	return 0;
}

/* The status of a container that must exist. */
static int container_status(const struct veil_context *ctx, const char *id, const char **status, veil_err_t *err)
{
	struct veil_state s;
	if (veil_container_load(ctx, id, &s, status, err) < 0)
		return -1;
	veil_state_free(&s);
	return 0;
}

int veil_container_start(const struct veil_context *ctx, const char *id, veil_err_t *err)
{
	const char *status;
	if (container_status(ctx, id, &status, err) < 0)
		return -1;
	if (strcmp(status, "created") != 0)
		return veil_fail(err, 0, "cannot start a container that is %s", status);
	return veil_monitor_call(ctx->root, id, &(struct veil_monitor_request){ .op = VEIL_MONITOR_START }, NULL, err);
}

int veil_container_kill(const struct veil_context *ctx, const char *id, int signal, bool all, veil_err_t *err)
{
	const char *status;
	if (container_status(ctx, id, &status, err) < 0)
		return -1;
	if (strcmp(status, "stopped") == 0)
		return veil_fail(err, 0, "container not running");
	const struct veil_monitor_request req = { .op = VEIL_MONITOR_KILL, .signal = signal, .all = all };
	return veil_monitor_call(ctx->root, id, &req, NULL, err);
}

int veil_container_pause(const struct veil_context *ctx, const char *id, bool pause, veil_err_t *err)
{
	const char *status;
	if (container_status(ctx, id, &status, err) < 0)
		return -1;
	if (strcmp(status, "stopped") == 0)
		return veil_fail(err, 0, "container not running");
	const struct veil_monitor_request req = { .op = pause ? VEIL_MONITOR_PAUSE : VEIL_MONITOR_RESUME };
	return veil_monitor_call(ctx->root, id, &req, NULL, err);
}

int veil_container_ps(const struct veil_context *ctx, const char *id, struct veil_monitor_reply *pids, veil_err_t *err)
{
	const char *status;
	memset(pids, 0, sizeof(*pids));
	if (container_status(ctx, id, &status, err) < 0)
		return -1;
	veil_err_t call_err = NULL;
	/* A monitor that went away meanwhile stands for no process. */
	if (strcmp(status, "stopped") != 0 &&
	    veil_monitor_call(ctx->root, id, &(struct veil_monitor_request){ .op = VEIL_MONITOR_PS }, pids, &call_err) < 0) {
		memset(pids, 0, sizeof(*pids));
		veil_error_free(&call_err);
	}
	return 0;
}

int veil_container_state(const struct veil_context *ctx, const char *id, json_object **state, veil_err_t *err)
{
	struct veil_state s;
	const char *status;
	if (veil_container_load(ctx, id, &s, &status, err) < 0)
		return -1;
	*state = veil_state_oci_json(&s, status);
	veil_state_free(&s);
	return 0;
}

json_object *veil_container_list(const struct veil_context *ctx)
{
	json_object *all = json_object_new_array();
	DIR *d = opendir(ctx->root);
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		struct veil_state s;
		veil_err_t err = NULL;
		if (e->d_name[0] == '.' || veil_state_read(ctx->root, e->d_name, &s, &err) < 0) {
			veil_error_free(&err);
			continue;
		}
		json_object_array_add(all, veil_state_oci_json(&s, veil_state_status(ctx->root, &s)));
		veil_state_free(&s);
	}
	if (d != NULL)
		closedir(d);
	return all;
}

/* Ends the monitor, which takes the VM with it: QEMU dies with its parent. */
static void stop_monitor(const struct veil_context *ctx, const struct veil_state *s)
{
	if (!veil_state_monitor_alive(s))
		return;
	cleanup_close int pidfd = veil_pidfd_open(s->pid);
	const struct veil_monitor_request req = { .op = VEIL_MONITOR_KILL, .signal = SIGKILL };
	veil_err_t err = NULL;
	if (veil_monitor_call(ctx->root, s->id, &req, NULL, &err) < 0) {
		veil_error_free(&err);
		kill(s->pid, SIGKILL);
	}
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	if (pidfd >= 0 && poll(&p, 1, 10000) == 0) {
		kill(s->pid, SIGKILL);
		poll(&p, 1, 10000);
	}
}

/* As runc's delete: the container's host cgroup goes with it. The monitor
 * has gone; QEMU, which dies with it, may take a moment to leave. */
static void remove_host_cgroup(const struct veil_state *s)
{
	if (s->cgroup_path == NULL)
		return;
	struct veil_cgroup_hierarchy h[VEIL_CGROUP_HIERARCHIES_MAX];
	size_t n;
	veil_err_t err = NULL;
	if (veil_cgroup_hierarchies(h, VEIL_CGROUP_HIERARCHIES_MAX, &n, &err) < 0) {
		log_warn("%s", err->msg);
		veil_error_free(&err);
		return;
	}
	for (int tries = 0; veil_cgroup_remove(h, n, s->cgroup_path) > 0; tries++) {
		if (tries == 100) {
			log_warn("container %s: its host cgroup %s is still busy; left behind", s->id, s->cgroup_path);
			return;
		}
		usleep(20000);
	}
}

/* The poststop hooks of the container's bundle, if it can still be read. */
static void run_bundle_poststop(const struct veil_state *s)
{
	struct oci_spec spec;
	veil_err_t err = NULL;
	if (s->bundle == NULL || oci_spec_load_bundle(s->bundle, &spec, &err) < 0) {
		veil_error_free(&err);
		return;
	}
	run_poststop(&spec, s);
	oci_spec_free(&spec);
}

int veil_container_delete(const struct veil_context *ctx, const char *id, bool force, veil_err_t *err)
{
	struct veil_state s;
	const char *status;
	if (veil_container_load(ctx, id, &s, &status, err) < 0) {
		/* As runc: with --force, a container that is not there is already deleted, and one
		 * whose create crashed midway (a directory without a usable state) is removed. */
		if (!force || ((*err)->errnum != EBADMSG && (*err)->errnum != ENOENT))
			return -1;
		veil_error_free(err);
		cleanup_free char *dir = veil_state_dir(ctx->root, id);
		veil_remove_tree(dir);
		return 0;
	}
	if (strcmp(status, "stopped") != 0 && strcmp(status, "created") != 0 && !force) {
		veil_fail(err, 0, "cannot delete container %s that is not stopped: %s", id, status);
		veil_state_free(&s);
		return -1;
	}
	stop_monitor(ctx, &s);
	remove_host_cgroup(&s);
	run_bundle_poststop(&s);
	cleanup_free char *dir = veil_state_dir(ctx->root, id);
	veil_remove_tree(dir);
	veil_state_free(&s);
	return 0;
}

/* ---- exec ---- */

/* The exec client's "ok" to `veil exec --detach`, which then returns. */
static void exec_started(void *arg)
{
	int fd = *(int *)arg;
	(void)!write(fd, "ok\n", 3);
	close(fd);
	*(int *)arg = -1;
}

static void random_exec_id(char out[33])
{
	uint8_t bytes[16];
	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
		memset(bytes, 0, sizeof(bytes));
	veil_hex_encode(bytes, sizeof(bytes), out);
}

int veil_container_exec(const struct veil_context *ctx, const struct veil_exec_opts *o, veil_err_t *err)
{
	struct veil_state s;
	const char *status;
	if (veil_container_load(ctx, o->id, &s, &status, err) < 0)
		return -1;
	veil_state_free(&s);
	if (strcmp(status, "running") != 0)
		return veil_fail(err, 0, "cannot exec in a container that is %s", status);
	/* Checked here for a clear error; the monitor checks what it receives. */
	struct oci_process *p = NULL;
	if (oci_process_from_json(o->process, &p, err) < 0)
		return -1;
	bool terminal = p->terminal;
	oci_process_free(p);
	if (terminal && o->detach && o->console_socket == NULL)
		return veil_fail(err, 0, "cannot allocate tty if veil will detach without setting console socket");

	int fds[3] = { 0, 1, 2 };
	cleanup_close int slave = -1;
	struct veil_raw_tty raw = { .fd = -1 };
	if (terminal && o->console_socket != NULL) {
		int master;
		if (veil_pty_open(&master, &slave, err) < 0)
			return -1;
		veil_tty_make_raw(&raw, slave);
		raw.fd = -1; /* nothing to restore: the pty is ours */
		int rc = veil_console_send(o->console_socket, master, err);
		close(master);
		if (rc < 0)
			return -1;
		fds[0] = fds[1] = fds[2] = slave;
	} else if (terminal) {
		veil_tty_make_raw(&raw, STDIN_FILENO);
	}
	char exec_id[33];
	random_exec_id(exec_id);
	cleanup_free char *sock = veil_state_file(ctx->root, o->id, "monitor.sock");
	const struct veil_monitor_request req = { .op = VEIL_MONITOR_EXEC, .exec_id = exec_id, .process = o->process };

	if (!o->detach) {
		int signal_fd = veil_monitor_block_signals(err);
		int rc = signal_fd < 0 ? -1 : 0;
		if (rc == 0 && o->pid_file != NULL)
			rc = veil_write_pid_file(o->pid_file, getpid(), err);
		if (rc == 0)
			rc = veil_monitor_client(sock, &req, fds, signal_fd, NULL, NULL, err);
		veil_tty_restore(&raw);
		return rc < 0 ? -1 : rc;
	}

	int started[2];
	pid_t pid = veil_fork_with_channel(0, started, err);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(started[0]);
		setsid();
		if (slave >= 0)
			ioctl(slave, TIOCSCTTY, 0);
		int signal_fd = veil_monitor_block_signals(err);
		int started_fd = started[1];
		int rc = signal_fd < 0 ? -1 : veil_monitor_client(sock, &req, fds, signal_fd, exec_started, &started_fd, err);
		if (rc < 0 && started_fd >= 0) {
			dprintf(started[1], "error: %s\n", (*err)->msg);
			_exit(255);
		}
		_exit(rc);
	}
	close(started[1]);
	int rc = read_verdict(started[0], "the exec client died", err);
	close(started[0]);
	if (rc < 0) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (o->pid_file != NULL && veil_write_pid_file(o->pid_file, pid, err) < 0)
		return -1;
	return 0;
}

