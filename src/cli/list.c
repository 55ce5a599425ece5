/* veil list: the containers under the state root. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cli/container.h"

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
	if (veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	const char *root = veil_cli_state_dir(cli);
	json_object *all = json_object_new_array();
	DIR *d = opendir(root);
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		struct veil_state s;
		if (e->d_name[0] == '.' || veil_state_read(root, e->d_name, &s, &err) < 0) {
			veil_error_free(&err);
			continue;
		}
		json_object_array_add(all, veil_state_oci_json(&s, veil_state_status(root, &s)));
		veil_state_free(&s);
	}
	if (d != NULL)
		closedir(d);
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
