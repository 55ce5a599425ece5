/* veil ps: the container's processes, which live in the VM, with the pids
 * the guest gives them. --format json lists what runc's does, pids of the
 * host, which callers give to the host's ps(1) or kill(1): the processes
 * that stand for the container there (its monitor and its VM's, as Kata's
 * shim answers with its VM's). */
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
	} else if (strcmp(reply.status, "paused") == 0) {
		veil_fail(&err, 0, "cannot list the processes of a paused container: its VM is stopped");
		return veil_cli_report(&err);
	} else {
		/* ps -f's columns that the guest reports; TIME is CPU time at 100 ticks a second. */
		printf("%-8s %-8s %-8s %-10s %s\n", "UID", "PID", "PPID", "TIME", "CMD");
		for (size_t i = 0; i < reply.n_processes; i++) {
			const struct veil_monitor_process *p = &reply.processes[i];
			unsigned long long secs = p->cpu_ticks / 100;
			printf("%-8u %-8d %-8d %02llu:%02llu:%02llu   %s\n", p->uid, (int)p->pid, (int)p->ppid, secs / 3600,
			       secs / 60 % 60, secs % 60, p->cmd);
		}
	}
	return 0;
}
