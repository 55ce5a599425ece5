/* A keeper boots one cached VM (or clones the template) and stays its parent;
 * when a tenant's VM is returned to the factory, its keeper scrubs it. QEMU dies with the keeper
 * (parent-death signal), and the keeper kills QEMU as soon as no process holds
 * the far end of its control socket: the factory holds it while the VM is
 * pooled and hands it to the client that claims the VM. So a VM whose holder
 * dies, be it the factory (even by SIGKILL) or a client in mid-claim, dies
 * with it instead of leaking. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/factory.h"
#include "cache/instance.h"
#include "cache/template.h"
#include "hv/agent_client.h"
#include "hv/host.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/control.h"
#include "lib/log.h"
#include "lib/oci_spec.h"
#include "lib/trace.h"
#include "proto/contract.h"

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

/* Boots a VM, or clones the template when there is one, up to a running,
 * agent-ready VM. */
static int boot(struct veil_vm *vm, const struct veil_config *cfg, const struct veil_template *tmpl, const char *name,
		const char *console, veil_err_t *err)
{
	struct veil_vm_config vmc;
	/* A confidential guest's TEE service, started with QEMU, keeps its own copy. */
	__attribute__((cleanup(veil_tee_config_free))) struct veil_tee_config tee = { 0 };
	const struct veil_hypervisor *hv = veil_hypervisor_configured(cfg, err);
	if (hv == NULL || veil_cache_vm_config(cfg, name, console, &tee, &vmc, err) < 0)
		return -1;
	veil_trace_label(tmpl != NULL ? "cloned" : "booted");
	if (tmpl != NULL) {
		veil_trace_phase("clone");
		if (veil_template_clone(tmpl, hv, &vmc, vm, err) < 0)
			return -1;
		veil_trace_phase("resume");
		if (vm->hv->resume(vm, err) < 0)
			return -1;
		veil_trace_phase("hello");
	} else {
		veil_trace_phase("qemu");
		if (hv->start(vm, &vmc, err) < 0)
			return -1;
		veil_trace_phase("boot");
	}
	/* The control socket aborts the wait when the factory goes away. A
	 * clone answers too, so that only VMs known to work are pooled. */
	return veil_agent_hello_once(vm->agent_fd, vm->pidfd, CACHE_KEEPER_FD, (int)cfg->agent.dial_timeout * 1000, err);
}

struct keeper {
	const struct veil_config *cfg;
	const char *name;
	struct veil_vm vm;
	bool cloned;
	uint32_t scrubs;
	bool warmed;
};

static int hand_over(struct keeper *k, long long took_ms, veil_err_t *err)
{
	struct veil_vm *vm = &k->vm;
	veil_trace_phase("handover");
	struct cache_ready ready = {
		.name = k->name, .qemu_pid = vm->pid, .boot_ms = (uint32_t)took_ms, .root_ports = k->cfg->factory.pcie_root_port,
		.cloned = k->cloned, .scrubs = k->scrubs, .warmed = k->warmed,
	};
	json_object *msg = cache_ready_encode(&ready);
	const int fds[] = { vm->pidfd, vm->control_fd, vm->agent_fd };
	int rc = veil_ctl_send(CACHE_KEEPER_FD, msg, fds, 3, err);
	json_object_put(msg);
	if (rc < 0)
		return -1;
	/* Only the VM's holder talks to it from now on. */
	veil_close_fd(&vm->control_fd);
	veil_close_fd(&vm->agent_fd);
	return 0;
}

/* The channel's receive buffers in the guest are re-queued without being
 * cleared (docs/agent-protocol.md, Scrub); this much padding passes through
 * every one of them on virtio-pci, 128 pages. Factory VMs are always q35
 * (they have root ports): virtio-mmio's 1024-page ring would need 4 MiB more. */
#define SCRUB_PADDING (1u << 20)

static int agent_scrub(struct keeper *k, veil_err_t *err)
{
	struct veil_agent_client agent;
	veil_agent_client_init(&agent, k->vm.agent_fd, k->vm.pidfd, -1);
	/* The tenant's monitor may have left requests unanswered: our ids must
	 * not collide with theirs. Odd, as ttrpc client streams are. */
	uint32_t start;
	if (getrandom(&start, sizeof(start), 0) != sizeof(start))
		start = (uint32_t)veil_now_ms();
	agent.next_request_id = (start | 0x40000001u) & 0x7fffffffu;
	static uint8_t padding[SCRUB_PADDING];
	struct veil_agent_scrub_result left;
	int rc = veil_agent_scrub(&agent, padding, sizeof(padding), (int)k->cfg->agent.request_timeout * 1000, &left, err);
	veil_agent_client_release(&agent);
	if (rc < 0)
		return -1;
	if (left.processes_left != 0 || left.mounts_left != 0 || left.containers_left != 0)
		return veil_fail(err, 0, "the guest still has %u process(es), %u mount(s) and %u container(s) after the scrub",
				 left.processes_left, left.mounts_left, left.containers_left);
	log_debug("cached VM %s: scrubbed, %" PRIu64 " KiB free", k->name, left.mem_free_kib);
	return 0;
}

/* What the guest holds of its containers goes, and so do the devices
 * plugged for them; the VM is left running. */
static int reset(struct keeper *k, veil_err_t *err)
{
	int rc = agent_scrub(k, err);
	veil_trace_phase("unplug");
	return rc < 0 ? -1 : k->vm.hv->unplug_all(&k->vm, err);
}

/* The warm-up containers: runc's default spec running the program of the
 * factory's image, without a terminal (as bench/ and podman start theirs). */
static int warm_up_spec(struct oci_spec *spec, veil_err_t *err)
{
	cleanup_free char *json = oci_spec_default_json();
	if (json == NULL || oci_spec_parse(json, strlen(json), spec, err) < 0)
		return json == NULL ? veil_fail(err, ENOMEM, "warm-up spec") : -1;
	char *program = strdup(CACHE_WARM_UP_PROGRAM);
	if (program == NULL)
		return veil_fail(err, ENOMEM, "warm-up spec");
	free(spec->process->args[0]);
	spec->process->args[0] = program;
	spec->process->terminal = false;
	return 0;
}

/* One container, created, run with its output on streams (which the agent
 * relays and we ignore: the program writes nothing) and waited for. */
static int warm_up_container(struct veil_agent_client *agent, const char *id, const struct oci_spec *spec, int timeout_ms,
			     veil_err_t *err)
{
	const struct veil_agent_streams streams = {
		.out = veil_agent_new_io_stream(agent), .err = veil_agent_new_io_stream(agent),
	};
	int exit_code = -1, signal = 0;
	if (veil_agent_create_container(agent, id, spec, &(const struct veil_container_fs){ .rootfs_serial = VEIL_ROOTFS_SERIAL },
					true, NULL, NULL, 0, timeout_ms, err) < 0 ||
	    veil_agent_exec(agent, id, "", spec->process, NULL, &streams, timeout_ms, err) < 0 ||
	    veil_agent_wait(agent, id, "", timeout_ms, &exit_code, &signal, err) < 0)
		return veil_fail_context(err, "warm-up container %s", id);
	if (exit_code != 0 || signal != 0)
		return veil_fail(err, 0, "warm-up container %s ended with %s %d", id, signal != 0 ? "signal" : "status",
				 signal != 0 ? signal : exit_code);
	return 0;
}

/* Throwaway containers through the guest paths of a tenant's start (the
 * rootfs slot, the erofs mount, a writable layer's overlay for one and a
 * read-only root for the other, as podman's and runc's default specs have,
 * namespaces, cgroups, fork, exec, output streams and exit), so that a fresh
 * QEMU's TCG has translated them before a tenant waits on them; then the
 * scrub a returned VM gets, with its checks. The VM is then what a tenant's
 * scrubbed VM is, without a tenant. */
static int warm_up(struct keeper *k, const char *image, veil_err_t *err)
{
	struct veil_vm *vm = &k->vm;
	long long t0 = veil_now_ms();
	veil_trace_phase("warm-up");
	const struct veil_disk rootfs = { .path = image, .serial = VEIL_ROOTFS_SERIAL, .readonly = true };
	__attribute__((cleanup(oci_spec_free))) struct oci_spec spec = { 0 };
	if (vm->hv->hotplug_disk(vm, &rootfs, err) < 0 || warm_up_spec(&spec, err) < 0)
		return veil_fail_context(err, "warming up");
	struct veil_agent_client agent;
	veil_agent_client_init(&agent, vm->agent_fd, vm->pidfd, CACHE_KEEPER_FD);
	const int timeout_ms = (int)k->cfg->agent.request_timeout * 1000;
	spec.root_readonly = false;
	int rc = warm_up_container(&agent, "veil-warm-up-rw", &spec, timeout_ms, err);
	spec.root_readonly = true;
	if (rc == 0)
		rc = warm_up_container(&agent, "veil-warm-up-ro", &spec, timeout_ms, err);
	veil_agent_client_release(&agent);
	long long ran = veil_now_ms();
	veil_trace_phase("warm-up.scrub");
	if (rc < 0 || reset(k, err) < 0)
		return veil_fail_context(err, "warming up");
	k->warmed = true;
	log_info("cached VM %s: warmed up in %lld ms (containers %lld ms, scrub %lld ms)", k->name, veil_now_ms() - t0,
		 ran - t0, veil_now_ms() - ran);
	return 0;
}

/* A returned VM: the tenant's processes, mounts and devices go, and the VM
 * is pooled again. Any failure ends the VM instead. */
static int scrub(struct keeper *k, int control_fd, int agent_fd, veil_err_t *err)
{
	long long t0 = veil_now_ms();
	veil_trace_start("scrub");
	veil_trace_label("scrubbed");
	struct veil_vm *vm = &k->vm;
	vm->control_fd = control_fd;
	vm->agent_fd = agent_fd;
	prctl(PR_SET_NAME, CACHE_KEEPER_POOLED);
	int rc = reset(k, err);
	veil_trace_phase("pause");
	if (rc < 0 || vm->hv->pause(vm, err) < 0)
		return veil_fail_context(err, "scrubbing cached VM %s", k->name);
	k->scrubs++;
	long long took = veil_now_ms() - t0;
	log_info("cached VM %s: scrubbed after tenant %u in %lld ms", k->name, k->scrubs, took);
	rc = hand_over(k, took, err);
	veil_trace_finish("vm", k->name);
	return rc;
}

/* Until QEMU exits or the last holder of the lifeline lets go. */
static void keep(struct keeper *k)
{
	struct veil_vm *vm = &k->vm;
	for (;;) {
		struct pollfd pfds[2] = {
			{ .fd = CACHE_KEEPER_FD, .events = POLLIN },
			{ .fd = vm->pidfd, .events = POLLIN },
		};
		if (poll(pfds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("cached VM %s: poll: %s", k->name, strerror(errno));
			return;
		}
		if (pfds[1].revents) {
			int status = 0;
			waitpid(vm->pid, &status, 0);
			vm->pid = 0;
			log_info("cached VM %s: QEMU exited (%s %d)", k->name, WIFSIGNALED(status) ? "signal" : "status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return;
		}
		json_object *msg = NULL;
		int fds[VEIL_CTL_MAX_FDS];
		veil_err_t err = NULL;
		int rc = veil_ctl_recv(CACHE_KEEPER_FD, &msg, fds, 0, &err);
		veil_error_free(&err);
		if (rc < 0 || msg == NULL) {
			veil_ctl_close_fds(fds);
			log_debug("cached VM %s: released by its holder", k->name);
			return;
		}
		/* From the factory: a client took the VM, or gave it back (with
		 * its control and agent channels) to be scrubbed. */
		bool returned = json_object_object_get_ex(msg, "scrub", NULL) && fds[0] >= 0 && fds[1] >= 0;
		json_object_put(msg);
		for (int i = returned ? 2 : 0; i < VEIL_CTL_MAX_FDS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (!returned) {
			prctl(PR_SET_NAME, CACHE_KEEPER_CLAIMED);
			continue;
		}
		if (scrub(k, fds[0], fds[1], &err) < 0) {
			log_warn("%s", err->msg);
			veil_error_free(&err);
			return;
		}
	}
}

static void remove_console(const char *console)
{
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
}

static int check_control_socket(veil_err_t *err)
{
	struct stat st;
	if (fstat(CACHE_KEEPER_FD, &st) < 0 || !S_ISSOCK(st.st_mode))
		return veil_fail(err, EBADF, "no control socket on fd %d (run by the factory only)", CACHE_KEEPER_FD);
	fcntl(CACHE_KEEPER_FD, F_SETFD, FD_CLOEXEC);
	return 0;
}

int veil_factory_keeper(const struct veil_config *cfg, const char *name, const char *console, bool clone,
			const char *warm_up_image, veil_err_t *err)
{
	prctl(PR_SET_NAME, CACHE_KEEPER_POOLED);
	if (check_control_socket(err) < 0)
		return -1;
	struct keeper k = { .cfg = cfg, .name = name, .cloned = clone };
	veil_vm_init(&k.vm);
	struct veil_template tmpl;
	long long t0 = veil_now_ms();
	/* The factory checked the template: its paths are all a clone needs. */
	int rc = clone ? veil_template_locate(&tmpl, cfg->factory.template_path, err) : 0;
	if (rc == 0)
		rc = boot(&k.vm, cfg, clone ? &tmpl : NULL, name, console, err);
	if (rc == 0 && warm_up_image != NULL)
		rc = warm_up(&k, warm_up_image, err);
	if (rc == 0) {
		veil_trace_phase("pause");
		rc = k.vm.hv->pause(&k.vm, err);
	}
	if (rc == 0)
		rc = hand_over(&k, veil_now_ms() - t0, err);
	veil_trace_finish("vm", name);
	if (rc == 0) {
		log_debug("cached VM %s: QEMU %d ready in %lld ms", name, (int)k.vm.pid, veil_now_ms() - t0);
		keep(&k);
	} else {
		veil_fail_context(err, "cached VM %s", name);
		log_console_tail(console);
	}
	if (k.vm.hv != NULL)
		k.vm.hv->teardown(&k.vm);
	remove_console(console);
	return rc;
}

int veil_factory_build_template(const struct veil_config *cfg, const char *console, veil_err_t *err)
{
	if (check_control_socket(err) < 0)
		return -1;
	struct veil_template tmpl;
	struct veil_template_info info;
	struct veil_vm_config vmc;
	const struct veil_hypervisor *hv = veil_hypervisor_configured(cfg, err);
	/* The control socket aborts the build when the factory goes away. */
	int rc = hv != NULL ? veil_template_configured(&tmpl, cfg, console, &vmc, err) : -1;
	if (rc == 0)
		rc = veil_template_build(&tmpl, hv, &vmc, CACHE_KEEPER_FD, (int)cfg->agent.dial_timeout * 1000, &info,
					 err);
	if (rc < 0)
		log_console_tail(console);
	unlink(console);
	return rc;
}
