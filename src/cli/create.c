/* veil create: boot the container's VM and create the container in it; its
 * process starts with `veil start`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/container.h"

int veil_verb_create(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "console-socket", required_argument, NULL, 'c' },
		{ "no-pivot", no_argument, NULL, 'n' },
		{ "no-new-keyring", no_argument, NULL, 'k' },
		{ "preserve-fds", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *bundle = ".", *pid_file = NULL, *console_socket = NULL, *id;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bundle = optarg; break;
		case 'p': pid_file = optarg; break;
		case 'c': console_socket = optarg; break;
		case 'n': case 'k': break; /* meaningless in a VM, accepted as runc does */
		case 'f':
			if (strcmp(optarg, "0") != 0) {
				fprintf(stderr, "veil create: --preserve-fds is not supported: fds cannot cross into a VM\n");
				return 1;
			}
			break;
		case 'h':
			printf("usage: veil create [--bundle DIR] [--pid-file F] [--console-socket S] ID\n");
			return 0;
		default: fprintf(stderr, "veil create: unknown option\n"); return 1;
		}
	}
	if (veil_cli_require_id("create", argc, argv, &id) < 0)
		return 1;
	veil_err_t err = NULL;
	struct veil_context ctx;
	const struct veil_create_opts o = { .id = id, .bundle = bundle, .pid_file = pid_file, .console_socket = console_socket };
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_create(&ctx, &o, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}
