/* veil ps: the host processes that stand for the container's processes (the
 * monitor and every exec client); the processes themselves live in the VM. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/container.h"

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
	struct veil_context ctx;
	static struct veil_monitor_reply reply;
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_ps(&ctx, id, &reply, &err) < 0)
		return veil_cli_report(&err);
	if (json) {
		printf("[");
		for (size_t i = 0; i < reply.n_pids; i++)
			printf("%s%d", i ? "," : "", (int)reply.pids[i]);
		printf("]\n");
	} else {
		printf("PID\tCMD\n");
		for (size_t i = 0; i < reply.n_pids; i++) {
			int pid = (int)reply.pids[i];
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
	return 0;
}
