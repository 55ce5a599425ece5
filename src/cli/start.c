/* veil start: run the created container's process. */
#include <getopt.h>

#include "cli/cli.h"
#include "runtime/container.h"

int veil_verb_start(struct veil_cli *cli, int argc, char **argv)
{
	const char *id;
	optind = 1;
	if (getopt_long(argc, argv, "+", (struct option[]){ { 0 } }, NULL) != -1 ||
	    veil_cli_require_id("start", argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	struct veil_context ctx;
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_start(&ctx, id, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}
