#include "cli/launch.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum launch_kind {
	TAKE,         /* sets its field */
	ENV,          /* one more env override */
	IGNORED,      /* accepted as runc does, meaningless for a VM */
	PRESERVE_FDS, /* only 0: fds cannot cross into a VM */
	HELP,
};

#define ANY (VEIL_LAUNCH_CREATE | VEIL_LAUNCH_RUN | VEIL_LAUNCH_EXEC)
#define STARTS (VEIL_LAUNCH_CREATE | VEIL_LAUNCH_RUN)
#define EXEC VEIL_LAUNCH_EXEC

/* Long options without a short one get codes above any character. */
enum { LONG_ONLY = 256 };

static const struct launch_option {
	const char *name;
	char short_name;    /* 0: none */
	const char *value;  /* what it takes, for the usage; NULL: a flag */
	unsigned verbs;
	enum launch_kind kind;
	size_t field;       /* TAKE: offset of the const char * or bool it sets */
} options[] = {
	{ "bundle", 'b', "DIR", STARTS, TAKE, offsetof(struct veil_launch_args, bundle) },
	{ "process", 'p', "FILE", EXEC, TAKE, offsetof(struct veil_launch_args, process_file) },
	{ "detach", 'd', NULL, VEIL_LAUNCH_RUN | EXEC, TAKE, offsetof(struct veil_launch_args, detach) },
	{ "tty", 't', NULL, EXEC, TAKE, offsetof(struct veil_launch_args, tty) },
	{ "pid-file", 0, "FILE", ANY, TAKE, offsetof(struct veil_launch_args, pid_file) },
	{ "console-socket", 0, "SOCKET", ANY, TAKE, offsetof(struct veil_launch_args, console_socket) },
	{ "keep", 0, NULL, VEIL_LAUNCH_RUN, TAKE, offsetof(struct veil_launch_args, keep) },
	{ "cwd", 0, "DIR", EXEC, TAKE, offsetof(struct veil_launch_args, cwd) },
	{ "env", 'e', "NAME=VALUE", EXEC, ENV, 0 },
	{ "user", 'u', "UID[:GID]", EXEC, TAKE, offsetof(struct veil_launch_args, user) },
	{ "preserve-fds", 0, "N", ANY, PRESERVE_FDS, 0 },
	{ "no-pivot", 0, NULL, STARTS, IGNORED, 0 },
	{ "no-new-keyring", 0, NULL, STARTS, IGNORED, 0 },
	/* Capabilities, LSM labels and extra gids for exec are accepted as
	 * runc does; the VM, not the host's LSM, is the boundary. */
	{ "cap", 'c', "CAP", EXEC, IGNORED, 0 },
	{ "additional-gids", 'g', "GID", EXEC, IGNORED, 0 },
	{ "no-new-privs", 0, NULL, EXEC, IGNORED, 0 },
	{ "process-label", 0, "LABEL", EXEC, IGNORED, 0 },
	{ "apparmor", 0, "PROFILE", EXEC, IGNORED, 0 },
	{ "ignore-paused", 0, NULL, EXEC, IGNORED, 0 },
	{ "help", 'h', NULL, ANY, HELP, 0 },
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static const char *verb_name(enum veil_launch_verb verb)
{
	return verb == VEIL_LAUNCH_CREATE ? "create" : verb == VEIL_LAUNCH_RUN ? "run" : "exec";
}

static void usage(enum veil_launch_verb verb, FILE *out)
{
	fprintf(out, "usage: veil %s", verb_name(verb));
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct launch_option *o = &options[i];
		if ((o->verbs & verb) && (o->kind == TAKE || o->kind == ENV))
			fprintf(out, " [--%s%s%s]", o->name, o->value ? " " : "", o->value ? o->value : "");
	}
	fprintf(out, verb == VEIL_LAUNCH_EXEC ? " ID [COMMAND [ARG...]]\n" : " ID\n");
}

/* 0, or 1 after printing why the option's value is refused. */
static int take(const struct launch_option *o, enum veil_launch_verb verb, const char *value,
		struct veil_launch_args *a)
{
	char *field = (char *)a + o->field;
	switch (o->kind) {
	case TAKE:
		if (o->value == NULL)
			*(bool *)field = true;
		else
			*(const char **)field = value;
		return 0;
	case ENV:
		if (a->n_env == VEIL_CLI_MAX_ENV || strchr(value, '=') == NULL) {
			fprintf(stderr, "veil %s: invalid or too many --env %s\n", verb_name(verb), value);
			return 1;
		}
		a->env[a->n_env++] = value;
		return 0;
	case PRESERVE_FDS:
		if (strcmp(value, "0") != 0) {
			fprintf(stderr, "veil %s: --preserve-fds is not supported: fds cannot cross into a VM\n",
				verb_name(verb));
			return 1;
		}
		return 0;
	case IGNORED:
	case HELP:
		break;
	}
	return 0;
}

int veil_cli_parse_launch(enum veil_launch_verb verb, int argc, char **argv, struct veil_launch_args *a)
{
	*a = (struct veil_launch_args){ .bundle = "." };
	struct option longopts[N_OPTIONS + 1];
	const struct launch_option *by_code[N_OPTIONS];
	char shortopts[2 * N_OPTIONS + 2] = "+";
	size_t n = 0, s = 1;
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct launch_option *o = &options[i];
		if (!(o->verbs & verb))
			continue;
		int code = o->short_name ? o->short_name : LONG_ONLY + (int)n;
		longopts[n] = (struct option){ o->name, o->value ? required_argument : no_argument, NULL, code };
		by_code[n++] = o;
		if (o->short_name) {
			shortopts[s++] = o->short_name;
			if (o->value)
				shortopts[s++] = ':';
		}
	}
	longopts[n] = (struct option){ 0 };
	shortopts[s] = '\0';
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct launch_option *o = NULL;
		for (size_t i = 0; i < n && o == NULL; i++)
			if (longopts[i].val == c)
				o = by_code[i];
		if (o == NULL) {
			fprintf(stderr, "veil %s: unknown option\n", verb_name(verb));
			return 1;
		}
		if (o->kind == HELP) {
			usage(verb, stdout);
			return 0;
		}
		if (take(o, verb, optarg, a) != 0)
			return 1;
	}
	a->operands = argv + optind;
	a->n_operands = argc - optind;
	if (verb == VEIL_LAUNCH_EXEC ? a->n_operands < 1 : a->n_operands != 1) {
		if (verb == VEIL_LAUNCH_EXEC)
			usage(verb, stderr);
		else
			fprintf(stderr, "veil %s: expected exactly one container ID\n", verb_name(verb));
		return 1;
	}
	return -1;
}
