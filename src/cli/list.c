/* veil list: the containers under the state root. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/container.h"

int veil_verb_list(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	bool json = false, quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
		if (c == 'q') {
			quiet = true;
		} else if (c == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0)) {
			json = strcmp(optarg, "json") == 0;
		} else {
			fprintf(stderr, "usage: veil list [--format table|json] [-q]\n");
			return 1;
		}
	}
	veil_err_t err = NULL;
	struct veil_context ctx;
	if (veil_cli_context(cli, &ctx, &err) < 0)
		return veil_cli_report(&err);
	json_object *all = veil_container_list(&ctx);
	size_t n = json_object_array_length(all);
	if (json) {
		/* runc prints null, not [], when there is nothing. */
		printf("%s\n", n ? json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN) : "null");
	} else {
		if (!quiet)
			printf("%-24s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
		for (size_t i = 0; i < n; i++) {
			json_object *o = json_object_array_get_idx(all, i);
			const char *id = json_object_get_string(json_object_object_get(o, "id"));
			if (quiet)
				printf("%s\n", id);
			else
				printf("%-24s %-8d %-10s %-40s %s\n", id, json_object_get_int(json_object_object_get(o, "pid")),
				       json_object_get_string(json_object_object_get(o, "status")),
				       json_object_get_string(json_object_object_get(o, "bundle")),
				       json_object_get_string(json_object_object_get(o, "created")));
		}
	}
	json_object_put(all);
	return 0;
}
