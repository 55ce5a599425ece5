/* veil run: create and start a container. In the foreground (the default)
 * this process is the container's monitor and exits with its status; with
 * --detach it is `veil create` + `veil start`. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "runtime/container.h"

int veil_verb_run(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "console-socket", required_argument, NULL, 'c' },
		{ "keep", no_argument, NULL, 'k' },
		{ "no-pivot", no_argument, NULL, 'n' },
		{ "no-new-keyring", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *bundle = ".", *pid_file = NULL, *console_socket = NULL, *id;
	bool detach = false, keep = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bundle = optarg; break;
		case 'd': detach = true; break;
		case 'p': pid_file = optarg; break;
		case 'c': console_socket = optarg; break;
		case 'k': keep = true; break;
		case 'n': case 'K': break;
		case 'h':
			printf("usage: veil run [--bundle DIR] [--detach] [--pid-file F] [--console-socket S] [--keep] ID\n");
			return 0;
		default: fprintf(stderr, "veil run: unknown option\n"); return 1;
		}
	}
	if (veil_cli_require_id("run", argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	struct veil_context ctx;
	const struct veil_create_opts o = { .id = id, .bundle = bundle, .pid_file = pid_file, .console_socket = console_socket };
	if (veil_cli_context(cli, &ctx, &err) < 0)
		return veil_cli_report(&err);
	if (detach)
		return veil_container_create(&ctx, &o, &err) < 0 || veil_container_start(&ctx, id, &err) < 0
			       ? veil_cli_report(&err)
			       : 0;
	int rc = veil_container_run(&ctx, &o, keep, &err);
	return rc < 0 ? veil_cli_report(&err) : rc;
}
