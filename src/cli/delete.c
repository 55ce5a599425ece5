/* veil delete: remove a stopped container (any container with --force). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/container.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "runtime/hooks.h"

/* Ends the monitor, which takes the VM with it: QEMU dies with its parent. */
static void stop_monitor(struct veil_cli *cli, const struct veil_state *s)
{
	if (!veil_state_monitor_alive(s))
		return;
	cleanup_close int pidfd = veil_pidfd_open(s->pid);
	const struct veil_monitor_request req = { .op = VEIL_MONITOR_KILL, .signal = SIGKILL };
	veil_err_t err = NULL;
	if (veil_monitor_call(veil_cli_state_dir(cli), s->id, &req, NULL, &err) < 0) {
		veil_error_free(&err);
		kill(s->pid, SIGKILL);
	}
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	if (pidfd >= 0 && poll(&p, 1, 10000) == 0) {
		kill(s->pid, SIGKILL);
		poll(&p, 1, 10000);
	}
}

static void run_poststop(const struct veil_state *s)
{
	struct oci_spec spec;
	veil_err_t err = NULL;
	if (s->bundle == NULL || oci_spec_load_bundle(s->bundle, &spec, &err) < 0) {
		veil_error_free(&err);
		return;
	}
	json_object *st = veil_state_oci_json(s, "stopped");
	/* OCI: a failing poststop hook is logged, deletion goes on. */
	if (veil_hooks_run("poststop", spec.hooks_poststop, spec.n_poststop, json_object_to_json_string(st), &err) < 0)
		log_warn("%s", err->msg);
	veil_error_free(&err);
	json_object_put(st);
	oci_spec_free(&spec);
}

int veil_cli_delete(struct veil_cli *cli, const char *id, bool force)
{
	veil_err_t err = NULL;
	struct veil_state s;
	if (veil_cli_load_state(cli, id, &s, &err) < 0) {
		/* As runc: with --force, a container that is not there is already deleted, and one
		 * whose create crashed midway (a directory without a usable state) is removed. */
		if (!force || (err->errnum != EBADMSG && err->errnum != ENOENT))
			return veil_cli_report(&err);
		veil_error_free(&err);
		cleanup_free char *dir = veil_state_dir(veil_cli_state_dir(cli), id);
		veil_remove_tree(dir);
		return 0;
	}
	const char *status = veil_state_status(veil_cli_state_dir(cli), &s);
	if (strcmp(status, "stopped") != 0 && strcmp(status, "created") != 0 && !force) {
		veil_fail(&err, 0, "cannot delete container %s that is not stopped: %s", id, status);
		veil_state_free(&s);
		return veil_cli_report(&err);
	}
	stop_monitor(cli, &s);
	run_poststop(&s);
	cleanup_free char *dir = veil_state_dir(veil_cli_state_dir(cli), id);
	veil_remove_tree(dir);
	veil_state_free(&s);
	return 0;
}

int veil_verb_delete(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	bool force = false;
	const char *id;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (c != 'f') {
			fprintf(stderr, "usage: veil delete [--force] ID\n");
			return 1;
		}
		force = true;
	}
	if (veil_cli_require_id("delete", argc, argv, &id) < 0)
		return 1;
	return veil_cli_delete(cli, id, force);
}
