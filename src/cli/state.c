/* veil state: the OCI state of a container. */
#include <stdio.h>

#include "cli/container.h"

int veil_verb_state(struct veil_cli *cli, int argc, char **argv)
{
	const char *id;
	optind = 1;
	if (getopt_long(argc, argv, "+", (struct option[]){ { 0 } }, NULL) != -1 ||
	    veil_cli_require_id("state", argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	struct veil_state s;
	if (veil_cli_load_state(cli, id, &s, &err) < 0)
		return veil_cli_report(&err);
	json_object *o = veil_state_oci_json(&s, veil_state_status(veil_cli_state_dir(cli), &s));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	veil_state_free(&s);
	return 0;
}
