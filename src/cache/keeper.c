/* A keeper boots one cached VM and stays its parent. QEMU dies with the keeper
 * (parent-death signal), and the keeper kills QEMU as soon as no process holds
 * the far end of its control socket: the factory holds it while the VM is
 * pooled and hands it to the client that claims the VM. So a VM whose holder
 * dies, be it the factory (even by SIGKILL) or a client in mid-claim, dies
 * with it instead of leaking. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/factory.h"
#include "cache/instance.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/control.h"
#include "lib/host.h"
#include "lib/log.h"

/* The guest's last words explain most boot failures. */
static void log_console_tail(const char *console)
{
	char text[4096] = "";
	cleanup_close int fd = open(console, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	off_t from = st.st_size > (off_t)sizeof(text) - 1 ? st.st_size - (off_t)sizeof(text) + 1 : 0;
	ssize_t n = pread(fd, text, sizeof(text) - 1, from);
	if (n <= 0)
		return;
	text[n] = '\0';
	char *end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	char *line = strrchr(text, '\n');
	log_warn("cached VM console ends with: %s", line ? line + 1 : text);
}

static int boot(struct veil_vm *vm, const struct veil_config *cfg, const char *name, const char *console,
		veil_err_t *err)
{
	struct veil_host_caps caps;
	struct veil_accel_decision accel;
	veil_host_probe(cfg, &caps);
	if (veil_decide_accel(cfg, &caps, &accel, err) < 0)
		return -1;
	const struct veil_vm_config vmc = {
		.name = name,
		.vmm_path = cfg->qemu.path,
		.kernel = cfg->qemu.kernel,
		.initrd = cfg->qemu.initrd,
		.machine = cfg->qemu.machine_type,
		.memory_mib = cfg->qemu.default_memory,
		.vcpus = cfg->qemu.default_vcpus,
		.kernel_params = cfg->qemu.kernel_params ? cfg->qemu.kernel_params : "",
		.use_kvm = accel.use_kvm,
		.pvm_host = caps.pvm,
		.guest_debug = cfg->agent.debug_console_enabled || veil_log_get_level() == VEIL_LOG_DEBUG,
		.console_log = console,
		.pcie_root_ports = cfg->factory.pcie_root_port,
	};
	if (veil_hypervisor_qemu.start(vm, &vmc, err) < 0)
		return -1;
	/* The control socket aborts the wait when the factory goes away. */
	struct veil_agent_client agent;
	veil_agent_client_init(&agent, vm->agent_fd, vm->pidfd, CACHE_KEEPER_FD);
	int rc = veil_agent_hello(&agent, (int)cfg->agent.dial_timeout * 1000, err);
	veil_agent_client_release(&agent);
	if (rc < 0)
		return -1;
	return vm->hv->pause(vm, err);
}

static int hand_over(struct veil_vm *vm, long long boot_ms, uint32_t root_ports, veil_err_t *err)
{
	struct cache_ready ready = { .qemu_pid = vm->pid, .boot_ms = (uint32_t)boot_ms, .root_ports = root_ports };
	json_object *msg = cache_ready_encode(&ready);
	const int fds[] = { vm->pidfd, vm->qmp.fd, vm->agent_fd };
	int rc = veil_ctl_send(CACHE_KEEPER_FD, msg, fds, 3, err);
	json_object_put(msg);
	if (rc < 0)
		return -1;
	/* Only the VM's holder talks to it from now on. */
	veil_qmp_close(&vm->qmp);
	close(vm->agent_fd);
	vm->agent_fd = -1;
	return 0;
}

/* Until QEMU exits or the last holder of the lifeline lets go. */
static void keep(struct veil_vm *vm, const char *name)
{
	for (;;) {
		struct pollfd pfds[2] = {
			{ .fd = CACHE_KEEPER_FD, .events = POLLIN },
			{ .fd = vm->pidfd, .events = POLLIN },
		};
		if (poll(pfds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("cached VM %s: poll: %s", name, strerror(errno));
			return;
		}
		if (pfds[1].revents) {
			int status = 0;
			waitpid(vm->pid, &status, 0);
			vm->pid = 0;
			log_info("cached VM %s: QEMU exited (%s %d)", name, WIFSIGNALED(status) ? "signal" : "status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return;
		}
		json_object *msg = NULL;
		int fds[VEIL_CTL_MAX_FDS];
		veil_err_t err = NULL;
		int rc = veil_ctl_recv(CACHE_KEEPER_FD, &msg, fds, 0, &err);
		veil_error_free(&err);
		for (int i = 0; i < VEIL_CTL_MAX_FDS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (rc < 0 || msg == NULL) {
			log_debug("cached VM %s: released by its holder", name);
			return;
		}
		json_object_put(msg);
		/* The factory's only word after the hand-over: a client took the VM. */
		prctl(PR_SET_NAME, CACHE_KEEPER_CLAIMED);
	}
}

int veil_factory_keeper(const struct veil_config *cfg, const char *name, const char *console, veil_err_t *err)
{
	prctl(PR_SET_NAME, CACHE_KEEPER_POOLED);
	struct stat st;
	if (fstat(CACHE_KEEPER_FD, &st) < 0 || !S_ISSOCK(st.st_mode))
		return veil_fail(err, EBADF, "keeper: no control socket on fd %d (run by the factory only)",
				 CACHE_KEEPER_FD);
	fcntl(CACHE_KEEPER_FD, F_SETFD, FD_CLOEXEC);

	struct veil_vm vm;
	veil_vm_init(&vm);
	long long t0 = veil_now_ms();
	int rc = boot(&vm, cfg, name, console, err);
	if (rc == 0)
		rc = hand_over(&vm, veil_now_ms() - t0, cfg->factory.pcie_root_port, err);
	if (rc == 0) {
		log_debug("cached VM %s: QEMU %d ready in %lld ms", name, (int)vm.pid, veil_now_ms() - t0);
		keep(&vm, name);
	} else {
		veil_fail_context(err, "cached VM %s", name);
		log_console_tail(console);
	}
	if (vm.hv != NULL)
		vm.hv->teardown(&vm);
	unlink(console);
	/* The last VM of a destroyed factory takes the instance's directory
	 * along; while a factory runs, its lock file keeps the directory. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", console);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		rmdir(dir);
	}
	return rc;
}
