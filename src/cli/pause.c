/* veil pause / veil resume: freeze and thaw the container's whole VM. */
#include <getopt.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "runtime/container.h"

static int vm_state_verb(struct veil_cli *cli, int argc, char **argv, const char *verb, bool pause)
{
	const char *id;
	optind = 1;
	if (getopt_long(argc, argv, "+", (struct option[]){ { 0 } }, NULL) != -1 ||
	    veil_cli_require_id(verb, argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	struct veil_context ctx;
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_pause(&ctx, id, pause, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}

int veil_verb_pause(struct veil_cli *cli, int argc, char **argv)
{
	return vm_state_verb(cli, argc, argv, "pause", true);
}

int veil_verb_resume(struct veil_cli *cli, int argc, char **argv)
{
	return vm_state_verb(cli, argc, argv, "resume", false);
}
