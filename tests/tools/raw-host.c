/* raw-host: a host that speaks to the guest agent in raw frames, for tests
 * that play a hostile host. It boots a VM through veil's own hypervisor code,
 * with a bundle's rootfs as the disk whose serial is "veil-rootfs", then runs
 * a command with the agent channel as fd 3 and waits for it. No Hello is
 * sent: every byte on the channel is the command's.
 *
 * With --tee-port the configuration's confidential guest is launched on
 * veil's QEMU command line but without veil's TEE service: the command gets
 * the guest's TEE port as fd 4 and plays the host's side of it, lies included.
 *
 * Usage: raw-host --config CONF --name NAME --rootfs DIR [--console FILE] [--tee-port] -- CMD [ARG...]
 * Exits with the command's status, or 125 if the VM cannot be started. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/host.h"
#include "hv/hypervisor.h"
#include "hv/qemu.h"
#include "lib/cleanup.h"
#include "lib/config.h"
#include "lib/spawn.h"
#include "lib/strv.h"
#include "proto/contract.h"
#include "runtime/rootfs_image.h"

#define CHANNEL_FD 3
#define TEE_PORT_FD 4

static int usage(void)
{
	fprintf(stderr, "usage: raw-host --config CONF --name NAME --rootfs DIR [--console FILE] [--tee-port] -- CMD "
			"[ARG...]\n");
	return 125;
}

/* dup2 clears CLOEXEC on the copy; when the fds coincide it must be cleared by hand. */
static int give_fd(int fd, int target)
{
	return fd == target ? fcntl(fd, F_SETFD, 0) : dup2(fd, target);
}

static int run_command(int agent_fd, int tee_fd, char **argv)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Out of the way of fd 3 first, for a tee fd that happens to be 3. */
		if (tee_fd >= 0 && (tee_fd = fcntl(tee_fd, F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(126);
		if (give_fd(agent_fd, CHANNEL_FD) < 0 || (tee_fd >= 0 && give_fd(tee_fd, TEE_PORT_FD) < 0))
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

/* The confidential guest vmc describes, on veil's QEMU command line, with no
 * TEE service: the port's host end goes to *tee_fd. QEMU is vm->pid, and the
 * socketpairs' other ends are QEMU's alone. */
static int start_without_tee_service(const struct veil_vm_config *vmc, struct veil_vm *vm, int *tee_fd, veil_err_t *err)
{
	cleanup_strv struct veil_strv argv = { 0 };
	if (vmc->tee == NULL)
		return veil_fail(err, 0, "--tee-port needs a confidential guest in the configuration");
	if (veil_qemu_build_argv(vmc, &argv, err) < 0)
		return -1;
	int qmp[2], agent[2], tee[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tee) < 0)
		return veil_fail(err, errno, "socketpair");
	const int pass[] = { qmp[1], agent[1], tee[1] };
	const struct veil_spawn_opts opts = { .pass_fds = pass, .n_pass_fds = 3, .stdout_fd = -1, .stderr_fd = 2,
					      .new_session = true, .die_with_parent = true };
	int rc = veil_spawn(argv.items, &opts, &vm->pid, err);
	close(qmp[1]);
	close(agent[1]);
	close(tee[1]);
	vm->control_fd = qmp[0];
	vm->agent_fd = agent[0];
	*tee_fd = tee[0];
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' }, { "name", required_argument, NULL, 'n' },
		{ "rootfs", required_argument, NULL, 'r' }, { "console", required_argument, NULL, 'l' },
		{ "tee-port", no_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *name = NULL, *rootfs = NULL, *console = NULL;
	bool tee_port = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'n': name = optarg; break;
		case 'r': rootfs = optarg; break;
		case 'l': console = optarg; break;
		case 't': tee_port = true; break;
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
	/* No cache: the tool builds into its own temporary file. */
	const struct veil_image_cache no_cache = { .max_bytes = 0 };
	bool cached;
	if (hv != NULL && veil_rootfs_image_get(rootfs, image, &no_cache, &cached, &err) == 0 &&
	    veil_vm_config_from(&cfg, name, console, &tee, &vmc, &err) == 0) {
		vmc.disks = &disk;
		vmc.n_disks = 1;
		int tee_fd = -1;
		if (tee_port ? start_without_tee_service(&vmc, &vm, &tee_fd, &err) == 0 : hv->start(&vm, &vmc, &err) == 0) {
			rc = run_command(vm.agent_fd, tee_fd, argv + optind);
			if (rc < 0) {
				perror("raw-host: running the command");
				rc = 125;
			}
		}
		if (tee_fd >= 0)
			close(tee_fd);
	}
	if (err != NULL)
		fprintf(stderr, "raw-host: %s\n", err->msg);
	if (tee_port && vm.pid > 0) {
		kill(vm.pid, SIGKILL);
		waitpid(vm.pid, NULL, 0);
		veil_close_fd(&vm.agent_fd);
		veil_close_fd(&vm.control_fd);
	} else if (vm.hv != NULL) {
		vm.hv->teardown(&vm);
	}
	veil_tee_config_free(&tee);
	unlink(image);
	veil_error_free(&err);
	veil_config_free(&cfg);
	return rc;
}
