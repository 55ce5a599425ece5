/* veil ps: the host processes that stand for the container's processes (the
 * monitor and every exec client); the processes themselves live in the VM. */
#include <stdio.h>
#include <string.h>

#include "cli/container.h"

int veil_verb_ps(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ 0 },
	};
	bool json = false;
	const char *id;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		if (c != 'f' || (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)) {
			fprintf(stderr, "usage: veil ps [--format table|json] ID\n");
			return 1;
		}
		json = strcmp(optarg, "json") == 0;
	}
	if (veil_cli_require_id("ps", argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	const char *status;
	if (veil_cli_container_status(cli, id, &status, &err) < 0)
		return veil_cli_report(&err);
	bool alive = strcmp(status, "stopped") != 0;
	json_object *pids = NULL, *reply = NULL;
	if (alive) {
		json_object *req = veil_cli_op("ps");
		if (veil_cli_monitor_call(cli, id, req, &reply, &err) < 0)
			veil_error_free(&err);
		json_object_put(req);
		json_object_object_get_ex(reply, "pids", &pids);
	}
	size_t n = pids ? json_object_array_length(pids) : 0;
	if (json) {
		printf("%s\n", pids ? json_object_to_json_string_ext(pids, JSON_C_TO_STRING_PLAIN) : "[]");
	} else {
		printf("PID\tCMD\n");
		for (size_t i = 0; i < n; i++) {
			int pid = json_object_get_int(json_object_array_get_idx(pids, i));
			char path[64], comm[64] = "?";
			snprintf(path, sizeof(path), "/proc/%d/comm", pid);
			FILE *f = fopen(path, "re");
			if (f != NULL) {
				if (fgets(comm, sizeof(comm), f) != NULL)
					comm[strcspn(comm, "\n")] = '\0';
				fclose(f);
			}
			printf("%d\t%s\n", pid, comm);
		}
	}
	json_object_put(reply);
	return 0;
}
