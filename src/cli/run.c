/* veil run: create and start a container. In the foreground (the default)
 * this process is the container's monitor and exits with its status; with
 * --detach it is `veil create` + `veil start`. */
#include "cli/cli.h"
#include "cli/launch.h"
#include "runtime/container.h"

int veil_verb_run(struct veil_cli *cli, int argc, char **argv)
{
	struct veil_launch_args a;
	int rc = veil_cli_parse_launch(VEIL_LAUNCH_RUN, argc, argv, &a);
	if (rc >= 0)
		return rc;
	veil_err_t err = NULL;
	struct veil_context ctx;
	const char *id = a.operands[0];
	const struct veil_create_opts o = {
		.id = id, .bundle = a.bundle, .pid_file = a.pid_file, .console_socket = a.console_socket,
	};
	if (veil_cli_context(cli, &ctx, &err) < 0)
		return veil_cli_report(&err);
	if (a.detach)
		return veil_container_create(&ctx, &o, &err) < 0 || veil_container_start(&ctx, id, &err) < 0
			       ? veil_cli_report(&err)
			       : 0;
	rc = veil_container_run(&ctx, &o, a.keep, &err);
	return rc < 0 ? veil_cli_report(&err) : rc;
}
