/* raw-host: a host that speaks to the guest agent in raw frames, for tests
 * that play a hostile host. It boots a VM through veil's own hypervisor code,
 * with a bundle's rootfs as the disk whose serial is "veil-rootfs", then runs
 * a command with the agent channel as fd 3 and waits for it. No Hello is
 * sent: every byte on the channel is the command's.
 *
 * Usage: raw-host --config CONF --name NAME --rootfs DIR [--console FILE] -- CMD [ARG...]
 * Exits with the command's status, or 125 if the VM cannot be started. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/host.h"
#include "hv/hypervisor.h"
#include "lib/cleanup.h"
#include "lib/config.h"
#include "proto/contract.h"
#include "runtime/rootfs_image.h"

#define CHANNEL_FD 3

static int usage(void)
{
	fprintf(stderr, "usage: raw-host --config CONF --name NAME --rootfs DIR [--console FILE] -- CMD [ARG...]\n");
	return 125;
}

static int run_command(int agent_fd, char **argv)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* dup2 clears CLOEXEC on the copy; when the fds coincide it must be cleared by hand. */
		if (agent_fd == CHANNEL_FD ? fcntl(agent_fd, F_SETFD, 0) < 0 : dup2(agent_fd, CHANNEL_FD) < 0)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "raw-host: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' }, { "name", required_argument, NULL, 'n' },
		{ "rootfs", required_argument, NULL, 'r' }, { "console", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *name = NULL, *rootfs = NULL, *console = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'n': name = optarg; break;
		case 'r': rootfs = optarg; break;
		case 'l': console = optarg; break;
		default: return usage();
		}
	}
	if (config == NULL || name == NULL || rootfs == NULL || optind >= argc)
		return usage();
	/* The command may exit while QEMU still writes to the channel. */
	signal(SIGPIPE, SIG_IGN);

	veil_err_t err = NULL;
	struct veil_config cfg;
	if (veil_config_load(config, &cfg, &err) < 0) {
		fprintf(stderr, "raw-host: %s\n", err->msg);
		return 125;
	}
	char image[] = "/tmp/raw-host-rootfs.XXXXXX";
	int image_fd = mkstemp(image);
	if (image_fd < 0) {
		perror("raw-host: mkstemp");
		return 125;
	}
	close(image_fd);
	const struct veil_disk disk = { .path = image, .serial = VEIL_ROOTFS_SERIAL, .readonly = true };
	struct veil_vm_config vmc;
	struct veil_tee_config tee = { 0 };
	struct veil_vm vm;
	veil_vm_init(&vm);
	int rc = 125;
	const struct veil_hypervisor *hv = veil_hypervisor_configured(&cfg, &err);
	if (hv != NULL && veil_rootfs_image_build(rootfs, image, &err) == 0 &&
	    veil_vm_config_from(&cfg, name, console, &tee, &vmc, &err) == 0) {
		vmc.disks = &disk;
		vmc.n_disks = 1;
		if (hv->start(&vm, &vmc, &err) == 0) {
			rc = run_command(vm.agent_fd, argv + optind);
			if (rc < 0) {
				perror("raw-host: running the command");
				rc = 125;
			}
		}
	}
	if (err != NULL)
		fprintf(stderr, "raw-host: %s\n", err->msg);
	if (vm.hv != NULL)
		vm.hv->teardown(&vm);
	veil_tee_config_free(&tee);
	unlink(image);
	veil_error_free(&err);
	veil_config_free(&cfg);
	return rc;
}
