/* veil create: boot the container's VM and create the container in it; its
 * process starts with `veil start`. */
#include "cli/cli.h"
#include "cli/launch.h"
#include "runtime/container.h"

int veil_verb_create(struct veil_cli *cli, int argc, char **argv)
{
	struct veil_launch_args a;
	int rc = veil_cli_parse_launch(VEIL_LAUNCH_CREATE, argc, argv, &a);
	if (rc >= 0)
		return rc;
	veil_err_t err = NULL;
	struct veil_context ctx;
	const struct veil_create_opts o = {
		.id = a.operands[0], .bundle = a.bundle, .pid_file = a.pid_file, .console_socket = a.console_socket,
	};
	if (veil_cli_context(cli, &ctx, &err) < 0 || veil_container_create(&ctx, &o, &err) < 0)
		return veil_cli_report(&err);
	return 0;
}
