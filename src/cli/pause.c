/* veil pause / veil resume: freeze and thaw the container's whole VM. */
#include <stdio.h>
#include <string.h>

#include "cli/container.h"

static int vm_state_verb(struct veil_cli *cli, int argc, char **argv, const char *op)
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
	json_object *req = veil_cli_op(op);
	int rc = veil_cli_monitor_call(cli, id, req, NULL, &err);
	json_object_put(req);
	return rc < 0 ? veil_cli_report(&err) : 0;
}

int veil_verb_pause(struct veil_cli *cli, int argc, char **argv)
{
	return vm_state_verb(cli, argc, argv, "pause");
}

int veil_verb_resume(struct veil_cli *cli, int argc, char **argv)
{
	return vm_state_verb(cli, argc, argv, "resume");
}
