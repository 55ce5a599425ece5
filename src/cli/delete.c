/* veil delete: remove a stopped container (any container with --force). */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "runtime/container.h"

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
	veil_err_t err = NULL;
	struct veil_context ctx;
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_delete(&ctx, id, force, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}
