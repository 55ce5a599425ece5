/* veil exec: run another process in a running container. The exec client
 * (this process, or its child with --detach) stands for the process on the
 * host: it exits with its status and forwards signals to it, while the
 * container's monitor relays its stdio over the fds handed to it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/container.h"
#include "lib/cleanup.h"
#include "lib/console.h"
#include "lib/control.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/json.h"
#include "runtime/monitor.h"
#include "runtime/stdio_relay.h"

#define MAX_ENV_OVERRIDES 256

struct exec_args {
	const char *process_file;
	const char *pid_file;
	const char *console_socket;
	const char *cwd;
	const char *user;
	const char *env[MAX_ENV_OVERRIDES];
	int n_env;
	bool detach;
	bool tty;
	char **command;
	int n_command;
};

/* Replaces NAME=... in env, or appends. */
static void set_env(json_object *env, const char *entry)
{
	size_t name_len = strcspn(entry, "=");
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *cur = json_object_get_string(json_object_array_get_idx(env, i));
		if (strncmp(cur, entry, name_len) == 0 && cur[name_len] == '=') {
			json_object_array_put_idx(env, i, json_object_new_string(entry));
			return;
		}
	}
	json_object_array_add(env, json_object_new_string(entry));
}

/* As runc: the container's own process is the template; flags override it. */
static json_object *process_from_args(const struct exec_args *a, const char *bundle, veil_err_t *err)
{
	cleanup_free char *config_path = NULL;
	if (asprintf(&config_path, "%s/config.json", bundle) < 0)
		return NULL;
	cleanup_free char *text = veil_read_file(config_path, OCI_SPEC_MAX_SIZE, NULL, err);
	if (text == NULL)
		return NULL;
	json_object *doc = json_tokener_parse(text);
	json_object *base = NULL;
	if (doc == NULL || !json_object_object_get_ex(doc, "process", &base)) {
		json_object_put(doc);
		veil_fail(err, 0, "%s: no process to base the exec on", config_path);
		return NULL;
	}
	json_object *p = json_object_get(base);
	json_object_put(doc);
	json_object *args = json_object_new_array();
	for (int i = 0; i < a->n_command; i++)
		json_object_array_add(args, json_object_new_string(a->command[i]));
	json_object_object_add(p, "args", args);
	json_object_object_add(p, "terminal", json_object_new_boolean(a->tty));
	json_object *env;
	if (!json_object_object_get_ex(p, "env", &env)) {
		env = json_object_new_array();
		json_object_object_add(p, "env", env);
	}
	for (int i = 0; i < a->n_env; i++)
		set_env(env, a->env[i]);
	if (a->cwd != NULL)
		json_object_object_add(p, "cwd", json_object_new_string(a->cwd));
	if (a->user != NULL) {
		unsigned uid, gid = 0;
		int n = sscanf(a->user, "%u:%u", &uid, &gid);
		if (n < 1) {
			json_object_put(p);
			veil_fail(err, 0, "invalid --user %s (UID[:GID])", a->user);
			return NULL;
		}
		json_object *user = json_object_new_object();
		json_object_object_add(user, "uid", json_object_new_int64(uid));
		json_object_object_add(user, "gid", json_object_new_int64(n == 2 ? gid : 0));
		json_object_object_add(p, "user", user);
	}
	return p;
}

/* The process to run, as the JSON object that goes to the monitor. */
static json_object *process_json(const struct exec_args *a, const char *bundle, bool *terminal, veil_err_t *err)
{
	json_object *process = NULL;
	if (a->process_file != NULL) {
		size_t len;
		cleanup_free char *text = veil_read_file(a->process_file, OCI_SPEC_MAX_SIZE, &len, err);
		if (text == NULL || veil_json_parse(text, len, a->process_file, &process, err) < 0)
			return NULL;
	} else if (a->n_command == 0) {
		veil_fail(err, 0, "exec needs --process or a command");
		return NULL;
	} else {
		process = process_from_args(a, bundle, err);
	}
	if (process == NULL && *err != NULL)
		return NULL;
	/* Validated here for a clear error; the monitor validates what it receives. */
	struct oci_process *p = NULL;
	if (oci_process_from_json(process, &p, err) < 0) {
		json_object_put(process);
		return NULL;
	}
	*terminal = p->terminal;
	oci_process_free(p);
	return process;
}

/* Talks to the monitor until the process exits; returns its exit code. */
static int exec_client(const char *sock, const char *exec_id, json_object *process, const int fds[3], int signal_fd,
		       int started_fd, veil_err_t *err)
{
	cleanup_close int conn = veil_ctl_connect(sock, err);
	if (conn < 0)
		return -1;
	const struct veil_monitor_request exec = { .op = VEIL_MONITOR_EXEC, .exec_id = exec_id, .process = process };
	json_object *req = veil_monitor_request_encode(&exec);
	int rc = veil_ctl_send(conn, req, fds, 3, err);
	json_object_put(req);
	if (rc < 0)
		return -1;
	json_object *msg = NULL;
	int got[VEIL_CTL_MAX_FDS];
	if (veil_ctl_recv(conn, &msg, got, -1, err) < 0)
		return -1;
	if (msg == NULL)
		return veil_fail(err, 0, "the container monitor exited");
	struct veil_monitor_reply reply;
	rc = veil_monitor_reply_decode(msg, &reply, err);
	json_object_put(msg);
	if (rc < 0)
		return -1;
	if (started_fd >= 0) {
		(void)!write(started_fd, "ok\n", 3);
		close(started_fd);
	}
	for (;;) {
		struct pollfd pfds[2] = { { .fd = conn, .events = POLLIN }, { .fd = signal_fd, .events = POLLIN } };
		if (poll(pfds, 2, -1) < 0 && errno != EINTR)
			return veil_fail(err, errno, "poll");
		if (pfds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				const struct veil_monitor_request forward = {
					.op = si.ssi_signo == SIGWINCH ? VEIL_MONITOR_RESIZE : VEIL_MONITOR_KILL,
					.signal = (int)si.ssi_signo, .exec_id = exec_id,
				};
				json_object *fwd = veil_monitor_request_encode(&forward);
				if (veil_ctl_send(conn, fwd, NULL, 0, err) < 0)
					veil_error_free(err);
				json_object_put(fwd);
			}
		}
		if (!(pfds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (veil_ctl_recv(conn, &msg, got, 0, err) < 0)
			return -1;
		if (msg == NULL)
			return veil_fail(err, 0, "the container stopped");
		struct veil_exit_status st;
		int exited = veil_monitor_exit_decode(msg, &st);
		json_object_put(msg); /* if not the exit, a reply to a forwarded signal */
		if (exited)
			return veil_exit_status_code(&st);
	}
}

static void random_exec_id(char out[33])
{
	uint8_t bytes[16];
	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
		memset(bytes, 0, sizeof(bytes));
	veil_hex_encode(bytes, sizeof(bytes), out);
}

static int run_exec(struct veil_cli *cli, const char *id, const struct exec_args *a)
{
	veil_err_t err = NULL;
	struct veil_state s;
	if (veil_cli_load_state(cli, id, &s, &err) < 0)
		return veil_cli_report(&err);
	const char *status = veil_state_status(veil_cli_state_dir(cli), &s);
	bool terminal = false;
	cleanup_json json_object *process = NULL;
	if (strcmp(status, "running") != 0)
		veil_fail(&err, 0, "cannot exec in a container that is %s", status);
	else
		process = process_json(a, s.bundle, &terminal, &err);
	veil_state_free(&s);
	if (process == NULL)
		return veil_cli_report(&err);
	if (terminal && a->detach && a->console_socket == NULL) {
		veil_fail(&err, 0, "cannot allocate tty if veil will detach without setting console socket");
		return veil_cli_report(&err);
	}

	int fds[3] = { 0, 1, 2 };
	cleanup_close int slave = -1;
	struct veil_raw_tty raw = { .fd = -1 };
	if (terminal && a->console_socket != NULL) {
		int master;
		if (veil_pty_open(&master, &slave, &err) < 0)
			return veil_cli_report(&err);
		veil_tty_make_raw(&raw, slave);
		raw.fd = -1; /* nothing to restore: the pty is ours */
		int rc = veil_console_send(a->console_socket, master, &err);
		close(master);
		if (rc < 0)
			return veil_cli_report(&err);
		fds[0] = fds[1] = fds[2] = slave;
	} else if (terminal) {
		veil_tty_make_raw(&raw, STDIN_FILENO);
	}
	char exec_id[33];
	random_exec_id(exec_id);
	cleanup_free char *sock = veil_state_file(veil_cli_state_dir(cli), id, "monitor.sock");

	if (!a->detach) {
		int signal_fd = veil_monitor_block_signals(&err);
		int rc = signal_fd < 0 ? -1 : 0;
		if (rc == 0 && a->pid_file != NULL)
			rc = veil_write_pid_file(a->pid_file, getpid(), &err);
		if (rc == 0)
			rc = exec_client(sock, exec_id, process, fds, signal_fd, -1, &err);
		veil_tty_restore(&raw);
		return rc < 0 ? veil_cli_report(&err) : rc;
	}

	int started[2];
	if (pipe2(started, O_CLOEXEC) < 0) {
		veil_fail(&err, errno, "pipe");
		return veil_cli_report(&err);
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(started[0]);
		setsid();
		if (slave >= 0)
			ioctl(slave, TIOCSCTTY, 0);
		int signal_fd = veil_monitor_block_signals(&err);
		int rc = signal_fd < 0 ? -1 : exec_client(sock, exec_id, process, fds, signal_fd, started[1], &err);
		if (rc < 0) {
			dprintf(started[1], "error: %s\n", err->msg);
			_exit(255);
		}
		_exit(rc);
	}
	close(started[1]);
	char verdict[1200] = "";
	ssize_t n;
	do
		n = read(started[0], verdict, sizeof(verdict) - 1);
	while (n < 0 && errno == EINTR);
	close(started[0]);
	verdict[n > 0 ? n : 0] = '\0';
	verdict[strcspn(verdict, "\n")] = '\0';
	if (pid < 0 || strcmp(verdict, "ok") != 0) {
		if (pid > 0)
			waitpid(pid, NULL, 0);
		veil_fail(&err, pid < 0 ? errno : 0, "%s",
			  strncmp(verdict, "error: ", 7) == 0 ? verdict + 7 : "the exec client died");
		return veil_cli_report(&err);
	}
	if (a->pid_file != NULL && veil_write_pid_file(a->pid_file, pid, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}

int veil_verb_exec(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "process", required_argument, NULL, 'p' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "detach", no_argument, NULL, 'd' },
		{ "tty", no_argument, NULL, 't' },
		{ "console-socket", required_argument, NULL, 'C' },
		{ "cwd", required_argument, NULL, 'w' },
		{ "env", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "cap", required_argument, NULL, 'c' },
		{ "additional-gids", required_argument, NULL, 'g' },
		{ "no-new-privs", no_argument, NULL, 'n' },
		{ "process-label", required_argument, NULL, 'l' },
		{ "apparmor", required_argument, NULL, 'a' },
		{ "preserve-fds", required_argument, NULL, 'f' },
		{ "ignore-paused", no_argument, NULL, 'i' },
		{ 0 },
	};
	struct exec_args a = { 0 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:dte:u:c:g:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': a.process_file = optarg; break;
		case 'P': a.pid_file = optarg; break;
		case 'd': a.detach = true; break;
		case 't': a.tty = true; break;
		case 'C': a.console_socket = optarg; break;
		case 'w': a.cwd = optarg; break;
		case 'u': a.user = optarg; break;
		case 'e':
			if (a.n_env == MAX_ENV_OVERRIDES || strchr(optarg, '=') == NULL) {
				fprintf(stderr, "veil exec: invalid or too many --env %s\n", optarg);
				return 1;
			}
			a.env[a.n_env++] = optarg;
			break;
		/* Capabilities, LSM labels and extra gids for exec are accepted as
		 * runc does; the VM, not the host's LSM, is the boundary. */
		case 'c': case 'g': case 'n': case 'l': case 'a': case 'i': break;
		case 'f':
			if (strcmp(optarg, "0") != 0) {
				fprintf(stderr, "veil exec: --preserve-fds is not supported: fds cannot cross into a VM\n");
				return 1;
			}
			break;
		default: fprintf(stderr, "veil exec: unknown option\n"); return 1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: veil exec [options] ID [COMMAND [ARG...]]\n");
		return 1;
	}
	const char *id = argv[optind];
	a.command = argv + optind + 1;
	a.n_command = argc - optind - 1;
	return run_exec(cli, id, &a);
}
