/* What several verbs share: loading a bundle for create/run, starting a
 * container's monitor, and addressing a running container's monitor. */
#include "cli/container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/console.h"
#include "lib/control.h"
#include "lib/fsutil.h"
#include "runtime/monitor.h"
#include "runtime/sandbox.h"

int veil_cli_load_bundle(struct veil_cli *cli, struct veil_launch *l, const char *bundle, veil_err_t *err)
{
	memset(l, 0, sizeof(*l));
	l->owned_stdio[0] = l->owned_stdio[1] = l->owned_stdio[2] = -1;
	if (veil_cli_config(cli, err) < 0)
		return -1;
	if (realpath(bundle, l->bundle) == NULL)
		return veil_fail(err, errno, "bundle %s", bundle);
	if (oci_spec_load_bundle(l->bundle, &l->spec, err) < 0)
		return -1;
	l->rootfs = oci_spec_rootfs_path(&l->spec, l->bundle);
	if (l->spec.process == NULL)
		return veil_fail(err, 0, "config.json: process is required to run a container");
	if (l->rootfs == NULL)
		return veil_fail(err, ENOMEM, "rootfs path");
	return 0;
}

void veil_launch_release(struct veil_launch *l)
{
	oci_spec_free(&l->spec);
	free(l->rootfs);
	l->rootfs = NULL;
	for (int i = 0; i < 3; i++)
		if (l->owned_stdio[i] >= 0)
			close(l->owned_stdio[i]);
}

int veil_launch_stdio(struct veil_launch *l, const char *console_socket, bool detached, veil_err_t *err)
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

void veil_launch_opts(struct veil_cli *cli, struct veil_launch *l, const char *id, struct veil_monitor_opts *o)
{
	*o = (struct veil_monitor_opts){
		.cfg = &cli->cfg, .root = veil_cli_state_dir(cli), .id = id, .bundle = l->bundle, .spec = &l->spec,
		.rootfs = l->rootfs, .stdio = { l->stdio[0], l->stdio[1], l->stdio[2] }, .creator_fd = -1,
		.signal_fd = -1,
	};
}

/* The monitor process: it outlives `veil create` and is reaped by whoever
 * reaps orphans of the caller (conmon and the shim are subreapers). */
static void __attribute__((noreturn)) monitor_child(struct veil_cli *cli, struct veil_launch *l, const char *id,
						    int creator_fd, pid_t creator)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != creator)
		_exit(1);
	for (int i = 0; i < cli->n_inherited_fds; i++)
		close(cli->inherited_fds[i]);
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
	veil_launch_opts(cli, l, id, &o);
	o.creator_fd = creator_fd;
	o.signal_fd = veil_monitor_block_signals(&err);
	if (o.signal_fd < 0) {
		(void)!write(creator_fd, "error: signals\n", 15);
		_exit(1);
	}
	int rc = veil_monitor_run(&o, &err);
	veil_error_free(&err);
	_exit(rc < 0 ? 1 : rc);
}

/* Reads the monitor's one-line verdict. */
static int read_verdict(int fd, veil_err_t *err)
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
	return veil_fail(err, 0, "the container monitor died while creating the container");
}

int veil_cli_spawn_monitor(struct veil_cli *cli, struct veil_launch *l, const char *id, const char *pid_file,
			   veil_err_t *err)
{
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return veil_fail(err, errno, "socketpair");
	pid_t creator = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(pair[0]);
		close(pair[1]);
		return veil_fail(err, errno, "fork");
	}
	if (pid == 0) {
		close(pair[0]);
		monitor_child(cli, l, id, pair[1], creator);
	}
	close(pair[1]);
	cleanup_close int monitor = pair[0];
	int rc = read_verdict(monitor, err);
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

int veil_cli_load_state(struct veil_cli *cli, const char *id, struct veil_state *s, veil_err_t *err)
{
	if (veil_validate_id(id, err) < 0 || veil_cli_config(cli, err) < 0)
		return -1;
	return veil_state_read(veil_cli_state_dir(cli), id, s, err);
}

int veil_cli_container_status(struct veil_cli *cli, const char *id, const char **status, veil_err_t *err)
{
	struct veil_state s;
	if (veil_cli_load_state(cli, id, &s, err) < 0)
		return -1;
	*status = veil_state_status(veil_cli_state_dir(cli), &s);
	veil_state_free(&s);
	return 0;
}


int veil_cli_require_id(const char *verb, int argc, char **argv, const char **id)
{
	if (optind != argc - 1) {
		fprintf(stderr, "veil %s: expected exactly one container ID\n", verb);
		return -1;
	}
	*id = argv[optind];
	return 0;
}
