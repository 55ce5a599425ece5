/* veil run: create a container in a fresh microVM, run its process with the
 * caller's stdio, and exit with its status. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/sandbox.h"
#include "lib/stdio_relay.h"

struct raw_tty {
	int fd;
	struct termios saved;
};

static void tty_restore(struct raw_tty *t)
{
	if (t->fd >= 0)
		tcsetattr(t->fd, TCSADRAIN, &t->saved);
}

/* The guest's pty does the line discipline; the host terminal must pass bytes through. */
static void tty_make_raw(struct raw_tty *t, int fd)
{
	t->fd = -1;
	if (!isatty(fd) || tcgetattr(fd, &t->saved) < 0)
		return;
	struct termios raw = t->saved;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST; /* keep \n -> \r\n on the host side of the relay */
	if (tcsetattr(fd, TCSADRAIN, &raw) == 0)
		t->fd = fd;
}

/* Signals are taken synchronously through a signalfd so they can be
 * forwarded to the container instead of killing veil mid-way. */
static int block_signals(veil_err_t *err)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return veil_fail(err, errno, "sigprocmask");
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return veil_fail(err, errno, "signalfd");
	return fd;
}

static int exec_init(struct veil_sandbox *sb, const struct oci_process *process, struct veil_relay *relay,
		     veil_err_t *err)
{
	Veil__Agent__V1__ExecProcessRequest req = VEIL__AGENT__V1__EXEC_PROCESS_REQUEST__INIT;
	Veil__Agent__V1__Process proc;
	veil_process_msg_from_oci(&proc, process);
	req.container_id = sb->id;
	req.exec_id = (char *)"";
	req.process = &proc;
	req.stdin_stream = relay->stdin_stream;
	req.stdout_stream = relay->stdout_stream;
	req.stderr_stream = relay->stderr_stream;
	ProtobufCMessage *resp = NULL;
	int rc = veil_agent_call(&sb->agent, VEIL_METHOD_EXEC_PROCESS, &req.base, &resp, sb->request_timeout_ms, err);
	veil_process_msg_release(&proc);
	if (rc < 0)
		return veil_fail_context(err, "starting the container process");
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: veil run [--bundle DIR] ID\n");
}

int veil_verb_run(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *bundle = ".";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bundle = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "veil run: expected exactly one container ID\n");
		return 1;
	}
	const char *id = argv[optind];

	veil_err_t err = NULL;
	if (veil_validate_id(id, &err) < 0 || veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	struct oci_spec spec = { 0 };
	if (oci_spec_load_bundle(bundle, &spec, &err) < 0)
		return veil_cli_report(&err);
	int rc = 1;
	cleanup_free char *rootfs = oci_spec_rootfs_path(&spec, bundle);
	cleanup_close int signal_fd = -1;
	if (spec.process == NULL) {
		veil_fail(&err, 0, "config.json: process is required to run a container");
		goto out_spec;
	}
	if (rootfs == NULL) {
		veil_fail(&err, errno, "resolving the rootfs of bundle %s", bundle);
		goto out_spec;
	}
	if ((signal_fd = block_signals(&err)) < 0)
		goto out_spec;

	struct veil_sandbox sb;
	if (veil_sandbox_create(&sb, &cli->cfg, veil_cli_state_dir(cli), id, &spec, rootfs, signal_fd, &err) < 0)
		goto out_spec;

	struct raw_tty tty = { .fd = -1 };
	if (spec.process->terminal)
		tty_make_raw(&tty, STDIN_FILENO);
	struct veil_relay relay;
	veil_relay_init(&relay, &sb.agent, sb.id, "", spec.process->terminal, STDIN_FILENO, STDOUT_FILENO,
			STDERR_FILENO);
	struct veil_exit_status status;
	if (exec_init(&sb, spec.process, &relay, &err) == 0 && veil_relay_run(&relay, signal_fd, &status, &err) == 0)
		rc = veil_exit_status_code(&status);
	tty_restore(&tty);
	veil_sandbox_destroy(&sb);
out_spec:
	oci_spec_free(&spec);
	if (err != NULL)
		return veil_cli_report(&err);
	return rc;
}
