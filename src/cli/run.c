/* veil run: create and start a container. In the foreground (the default)
 * this process is the container's monitor and exits with its status; with
 * --detach it is `veil create` + `veil start`. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/container.h"
#include "lib/cleanup.h"
#include "lib/console.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "runtime/hooks.h"
#include "runtime/sandbox.h"

static int run_foreground(struct veil_cli *cli, const char *id, const char *bundle, const char *pid_file,
			  const char *console_socket, bool keep)
{
	veil_err_t err = NULL;
	struct veil_launch l;
	int signal_fd = -1;
	if (veil_validate_id(id, &err) < 0)
		return veil_cli_report(&err);
	if (veil_cli_load_bundle(cli, &l, bundle, &err) < 0 ||
	    veil_launch_stdio(&l, console_socket, false, &err) < 0 ||
	    (signal_fd = veil_monitor_block_signals(&err)) < 0) {
		veil_launch_release(&l);
		return veil_cli_report(&err);
	}
	const char *root = veil_cli_state_dir(cli);
	if (veil_claim_id(root, id, &err) < 0) {
		veil_launch_release(&l);
		return veil_cli_report(&err);
	}
	struct veil_raw_tty raw = { .fd = -1 };
	if (l.spec.process->terminal && console_socket == NULL)
		veil_tty_make_raw(&raw, STDIN_FILENO);
	struct veil_monitor_opts o;
	veil_launch_opts(cli, &l, id, &o);
	o.start_now = true;
	o.signal_fd = signal_fd;
	int rc = pid_file ? veil_write_pid_file(pid_file, getpid(), &err) : 0;
	if (rc == 0)
		rc = veil_monitor_run(&o, &err);
	veil_tty_restore(&raw);
	if (rc >= 0) {
		struct veil_state s = { .id = (char *)id, .bundle = l.bundle, .rootfs = l.rootfs, .created = (char *)"" };
		json_object *st = veil_state_oci_json(&s, "stopped");
		veil_err_t hook_err = NULL;
		if (veil_hooks_run("poststop", l.spec.hooks_poststop, l.spec.n_poststop, json_object_to_json_string(st),
				   &hook_err) < 0)
			log_warn("%s", hook_err->msg);
		veil_error_free(&hook_err);
		json_object_put(st);
	}
	cleanup_free char *dir = veil_state_dir(root, id);
	if (rc < 0 || !keep)
		veil_remove_tree(dir);
	veil_launch_release(&l);
	close(signal_fd);
	return rc < 0 ? veil_cli_report(&err) : rc;
}

int veil_verb_run(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "console-socket", required_argument, NULL, 'c' },
		{ "keep", no_argument, NULL, 'k' },
		{ "no-pivot", no_argument, NULL, 'n' },
		{ "no-new-keyring", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *bundle = ".", *pid_file = NULL, *console_socket = NULL, *id;
	bool detach = false, keep = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bundle = optarg; break;
		case 'd': detach = true; break;
		case 'p': pid_file = optarg; break;
		case 'c': console_socket = optarg; break;
		case 'k': keep = true; break;
		case 'n': case 'K': break;
		case 'h':
			printf("usage: veil run [--bundle DIR] [--detach] [--pid-file F] [--console-socket S] [--keep] ID\n");
			return 0;
		default: fprintf(stderr, "veil run: unknown option\n"); return 1;
		}
	}
	if (veil_cli_require_id("run", argc, argv, &id) < 0)
		return 1;
	if (!detach)
		return run_foreground(cli, id, bundle, pid_file, console_socket, keep);
	int rc = veil_cli_create(cli, id, bundle, pid_file, console_socket);
	return rc != 0 ? rc : veil_cli_start(cli, id);
}
