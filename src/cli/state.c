/* veil state: the OCI state of a container. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "runtime/container.h"

int veil_verb_state(struct veil_cli *cli, int argc, char **argv)
{
	const char *id;
	optind = 1;
	if (getopt_long(argc, argv, "+", (struct option[]){ { 0 } }, NULL) != -1 ||
	    veil_cli_require_id("state", argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	struct veil_context ctx;
	json_object *o;
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_state(&ctx, id, &o, &err) < 0)
		return veil_cli_report(&err);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}
