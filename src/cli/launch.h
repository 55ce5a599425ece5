/* The options of create, run and exec, from one table: the verbs that start
 * something take runc's flags alike and cannot drift apart. */
#ifndef VEIL_CLI_LAUNCH_H
#define VEIL_CLI_LAUNCH_H

#include <stdbool.h>

#define VEIL_CLI_MAX_ENV 256

enum veil_launch_verb { VEIL_LAUNCH_CREATE = 1, VEIL_LAUNCH_RUN = 2, VEIL_LAUNCH_EXEC = 4 };

struct veil_launch_args {
	const char *bundle;         /* create, run; "." if not given */
	const char *pid_file;
	const char *console_socket;
	bool detach;                /* run, exec */
	bool keep;                  /* run */
	/* exec: the process, from a file or from the container's own with these overrides */
	const char *process_file;
	bool tty;
	const char *cwd;
	const char *user;
	const char *env[VEIL_CLI_MAX_ENV];
	int n_env;
	/* What follows the options: the ID (and for exec, the command). */
	char **operands;
	int n_operands;
};

/* Parses argv (argv[0] is the verb). Returns -1 to go on with *a; otherwise
 * the code to exit with, after printing the usage (--help: 0) or what is
 * wrong (1): an unknown option, a bad value, no ID. */
int veil_cli_parse_launch(enum veil_launch_verb verb, int argc, char **argv, struct veil_launch_args *a);

#endif
