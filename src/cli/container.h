/* Helpers shared by the lifecycle verbs. */
#ifndef VEIL_CLI_CONTAINER_H
#define VEIL_CLI_CONTAINER_H

#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cli/cli.h"
#include "lib/oci_spec.h"
#include "runtime/monitor.h"
#include "runtime/monitor_msg.h"
#include "runtime/state.h"

/* A container about to be created: its bundle, spec and the init's stdio. */
struct veil_launch {
	char bundle[PATH_MAX];
	struct oci_spec spec;
	char *rootfs;
	int stdio[3];
	int owned_stdio[3];
	bool console_ctty;
};

int veil_cli_load_bundle(struct veil_cli *cli, struct veil_launch *l, const char *bundle, veil_err_t *err);
/* Terminal handling as runc: with process.terminal and a console socket, a
 * pty whose master goes to the socket; detached without one is an error. */
int veil_launch_stdio(struct veil_launch *l, const char *console_socket, bool detached, veil_err_t *err);
void veil_launch_opts(struct veil_cli *cli, struct veil_launch *l, const char *id, struct veil_monitor_opts *o);
void veil_launch_release(struct veil_launch *l);

/* Forks the monitor and returns once the container is created (or failed). */
int veil_cli_spawn_monitor(struct veil_cli *cli, struct veil_launch *l, const char *id, const char *pid_file,
			   veil_err_t *err);

int veil_cli_load_state(struct veil_cli *cli, const char *id, struct veil_state *s, veil_err_t *err);
/* The container's status ("created", "running", "paused", "stopped", ...). */
int veil_cli_container_status(struct veil_cli *cli, const char *id, const char **status, veil_err_t *err);
/* After getopt: exactly one positional argument, the ID. */
int veil_cli_require_id(const char *verb, int argc, char **argv, const char **id);

#endif
