/* veil pause / veil resume: freeze and thaw the container's whole VM. */
#include <stdio.h>
#include <string.h>

#include "cli/container.h"

static int vm_state_verb(struct veil_cli *cli, int argc, char **argv, const char *op, enum veil_monitor_op code)
{
	const char *id;
	optind = 1;
	if (getopt_long(argc, argv, "+", (struct option[]){ { 0 } }, NULL) != -1 ||
	    veil_cli_require_id(op, argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	const char *status;
	if (veil_cli_container_status(cli, id, &status, &err) < 0)
		return veil_cli_report(&err);
	bool alive = strcmp(status, "stopped") != 0;
	if (!alive) {
		veil_fail(&err, 0, "container not running");
		return veil_cli_report(&err);
	}
	if (veil_monitor_call(veil_cli_state_dir(cli), id, &(struct veil_monitor_request){ .op = code }, NULL, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}

int veil_verb_pause(struct veil_cli *cli, int argc, char **argv)
{
	return vm_state_verb(cli, argc, argv, "pause", VEIL_MONITOR_PAUSE);
}

int veil_verb_resume(struct veil_cli *cli, int argc, char **argv)
{
	return vm_state_verb(cli, argc, argv, "resume", VEIL_MONITOR_RESUME);
}
