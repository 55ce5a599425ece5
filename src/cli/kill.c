/* veil kill: send a signal to the container's process (all of them with --all). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "runtime/container.h"

static int parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s != '\0' && *end == '\0')
		return n >= 1 && n <= 64 ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *name = sigabbrev_np(sig);
		if (name != NULL && strcasecmp(name, s) == 0)
			return sig;
	}
	return -1;
}

int veil_verb_kill(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ 0 },
	};
	bool all = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
		if (c != 'a') {
			fprintf(stderr, "usage: veil kill [--all] ID [SIGNAL]\n");
			return 1;
		}
		all = true;
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "usage: veil kill [--all] ID [SIGNAL]\n");
		return 1;
	}
	int sig = optind + 1 < argc ? parse_signal(argv[optind + 1]) : SIGTERM;
	if (sig < 0) {
		fprintf(stderr, "veil: invalid signal %s\n", argv[optind + 1]);
		return 1;
	}
	veil_err_t err = NULL;
	struct veil_context ctx;
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_kill(&ctx, argv[optind], sig, all, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}
