/* veil start: run the created container's process. */
#include <stdio.h>
#include <string.h>

#include "cli/container.h"

int veil_cli_start(struct veil_cli *cli, const char *id)
{
	veil_err_t err = NULL;
	struct veil_state s;
	if (veil_cli_load_state(cli, id, &s, &err) < 0)
		return veil_cli_report(&err);
	const char *status = veil_state_status(veil_cli_state_dir(cli), &s);
	int rc = 0;
	if (strcmp(status, "created") != 0)
		rc = veil_fail(&err, 0, "cannot start a container that is %s", status);
	else
		rc = veil_monitor_call(veil_cli_state_dir(cli), id, &(struct veil_monitor_request){ .op = VEIL_MONITOR_START },
				       NULL, &err);
	veil_state_free(&s);
	return rc < 0 ? veil_cli_report(&err) : 0;
}

int veil_verb_start(struct veil_cli *cli, int argc, char **argv)
{
	const char *id;
	optind = 1;
	if (getopt_long(argc, argv, "+", (struct option[]){ { 0 } }, NULL) != -1 ||
	    veil_cli_require_id("start", argc, argv, &id) < 0)
		return 1;
	return veil_cli_start(cli, id);
}
