/* Talking to the factory: claims for containers' starts, and `veil factory
 * status` and `destroy`. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/factory.h"
#include "cache/instance.h"
#include "cache/template.h"
#include "lib/cleanup.h"
#include "lib/control.h"
#include "lib/log.h"
#include "lib/spawn.h"

/* The factory answers from its poll loop at once; this only bounds a wedged one. */
#define REPLY_TIMEOUT_MS 5000
/* Writing out a whole guest's memory. */
#define DUMP_TIMEOUT_MS 120000
/* Its shutdown: keepers' grace period plus the leftover sweep, with slack. */
#define STOP_TIMEOUT_MS 15000

/* 1 with *fd connected to a factory we trust (root or our uid: it hands us
 * VMs to run containers in); 0 if none listens. *fd is the caller's to close. */
static int connect_factory(const struct cache_instance *in, int *fd, veil_err_t *err)
{
	veil_err_t cerr = NULL;
	*fd = veil_ctl_connect(in->endpoint, &cerr);
	if (*fd < 0) {
		int e = cerr->errnum;
		if (e == ENOENT || e == ECONNREFUSED) {
			veil_error_free(&cerr);
			return 0;
		}
		*err = cerr;
		return -1;
	}
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(*fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return veil_fail(err, errno, "SO_PEERCRED on %s", in->endpoint);
	if (cred.uid != 0 && cred.uid != geteuid())
		return veil_fail(err, EPERM, "%s is served by uid %u, neither root nor us: not trusted", in->endpoint,
				 (unsigned)cred.uid);
	return 1;
}

/* One reply record within timeout_ms; a reply {"error": ...} becomes *err. */
static int receive_within(int fd, json_object **msg, int fds[VEIL_CTL_MAX_FDS], int timeout_ms, veil_err_t *err)
{
	if (veil_ctl_recv(fd, msg, fds, timeout_ms, err) < 0) {
		if ((*err)->errnum == ETIMEDOUT) {
			veil_error_free(err);
			return veil_fail(err, ETIMEDOUT, "the factory did not answer within %d ms", timeout_ms);
		}
		return -1;
	}
	if (*msg == NULL)
		return veil_fail(err, ECONNRESET, "the factory closed the connection");
	json_object *why;
	if (json_object_object_get_ex(*msg, "error", &why)) {
		veil_fail(err, EPROTO, "the factory refused the request: %.200s", json_object_get_string(why));
		json_object_put(*msg);
		*msg = NULL;
		veil_ctl_close_fds(fds);
		return -1;
	}
	return 0;
}

static int receive(int fd, json_object **msg, int fds[VEIL_CTL_MAX_FDS], veil_err_t *err)
{
	return receive_within(fd, msg, fds, REPLY_TIMEOUT_MS, err);
}

/* The kernel's word on which process a pidfd names; 0 once it has exited. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	cleanup_fclose FILE *f = fopen(path, "re");
	long pid = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Pid: %ld", &pid) == 1)
			break;
	return pid > 0 ? (pid_t)pid : 0;
}

/* The VM's shape as the factory compares it, and a connection to the
 * factory: 1 connected, 0 with why (none is running), -1 on error. */
static int connect_with_shape(const struct veil_vm_shape *vm_shape, struct cache_shape *shape, int *fd, char *why,
			      size_t why_len, veil_err_t *err)
{
	struct cache_instance in;
	if (cache_shape_of(&vm_shape->vm, shape, err) < 0 || cache_instance_init(&in, vm_shape->cache_endpoint, err) < 0)
		return -1;
	int rc = connect_factory(&in, fd, err);
	if (rc == 0)
		snprintf(why, why_len, "factory not running on %s", in.endpoint);
	return rc;
}

/* Returns 1 with the VM's fds in lifeline/control/agent/pidfd, 0 with why. */
static int request_vm(int fd, const struct cache_shape *shape, int vm_fds[4], uint32_t *root_ports, char *why,
		      size_t why_len, veil_err_t *err)
{
	json_object *req = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_CLAIM, .shape = *shape });
	int rc = veil_ctl_send(fd, req, NULL, 0, err);
	json_object_put(req);
	json_object *msg = NULL;
	int fds[VEIL_CTL_MAX_FDS], pidfd[VEIL_CTL_MAX_FDS];
	if (rc < 0 || receive(fd, &msg, fds, err) < 0)
		return -1;
	struct cache_claim_reply r;
	if (cache_claim_reply_decode(msg, &r, err) < 0) {
		rc = -1;
	} else if (!r.granted) {
		snprintf(why, why_len, "factory: %s", r.reason);
		rc = 0;
	} else if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
		rc = veil_fail(err, EPROTO, "the factory granted a VM without its channels");
	} else {
		rc = 1;
	}
	*root_ports = r.root_ports;
	json_object_put(msg);
	if (rc != 1) {
		veil_ctl_close_fds(fds);
		return rc;
	}
	/* Dropping the lifeline on any failure below lets the VM die: nothing leaks. */
	if (receive(fd, &msg, pidfd, err) < 0) {
		veil_ctl_close_fds(fds);
		return -1;
	}
	json_object_put(msg);
	if (pidfd[0] < 0) {
		veil_ctl_close_fds(fds);
		veil_ctl_close_fds(pidfd);
		return veil_fail(err, EPROTO, "the factory sent no pidfd");
	}
	for (int i = 1; i < VEIL_CTL_MAX_FDS; i++)
		if (pidfd[i] >= 0)
			close(pidfd[i]);
	memcpy(vm_fds, fds, 3 * sizeof(int));
	vm_fds[3] = pidfd[0];
	return 1;
}

int veil_cache_claim(const struct veil_vm_shape *vm_shape, struct veil_vm *vm, char *why, size_t why_len,
		     veil_err_t *err)
{
	veil_vm_init(vm);
	if (vm_shape->cache_endpoint == NULL) {
		snprintf(why, why_len, "VM cache off ([factory] vm_cache_number = 0)");
		return 0;
	}
	struct cache_shape shape;
	cleanup_close int fd = -1;
	int rc = connect_with_shape(vm_shape, &shape, &fd, why, why_len, err);
	if (rc <= 0)
		return rc;
	int fds[4] = { -1, -1, -1, -1 };
	uint32_t root_ports = 0;
	veil_err_t cerr = NULL;
	rc = request_vm(fd, &shape, fds, &root_ports, why, why_len, &cerr);
	if (rc < 0) {
		/* A factory in trouble must not fail the container: it boots its own VM. */
		log_warn("VM cache: %s", cerr->msg);
		snprintf(why, why_len, "%s", cerr->msg);
		veil_error_free(&cerr);
		return 0;
	}
	if (rc == 0)
		return 0;
	vm->hv = vm_shape->hv;
	vm->lifeline_fd = fds[0];
	vm->control_fd = fds[1];
	vm->agent_fd = fds[2];
	vm->pidfd = fds[3];
	vm->pid = pidfd_pid(vm->pidfd);
	vm->root_ports = root_ports;
	/* As every VM of the cache (veil_cache_vm_config). */
	vm->rootfs_slot = true;
	if (vm->pid == 0) {
		vm->hv->teardown(vm);
		snprintf(why, why_len, "the claimed VM had exited");
		return 0;
	}
	log_debug("VM cache: claimed QEMU %d", (int)vm->pid);
	return 1;
}

int veil_factory_status(const struct veil_config *cfg, struct cache_status *st, veil_err_t *err)
{
	struct cache_instance in;
	if (cache_instance_init(&in, cfg->factory.vm_cache_endpoint, err) < 0)
		return -1;
	cleanup_close int fd = -1;
	int rc = connect_factory(&in, &fd, err);
	if (rc <= 0)
		return rc;
	json_object *req = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_STATUS });
	rc = veil_ctl_send(fd, req, NULL, 0, err);
	json_object_put(req);
	json_object *msg = NULL;
	int fds[VEIL_CTL_MAX_FDS];
	if (rc < 0 || receive(fd, &msg, fds, err) < 0)
		return -1;
	veil_ctl_close_fds(fds);
	rc = cache_status_decode(msg, st, err);
	json_object_put(msg);
	return rc < 0 ? -1 : 1;
}

int veil_cache_return(const struct veil_vm_shape *vm_shape, struct veil_vm *vm, char *why, size_t why_len,
		      veil_err_t *err)
{
	struct cache_request req = { .op = CACHE_OP_RETURN, .qemu_pid = vm->pid };
	if (vm->lifeline_fd < 0 || vm_shape->cache_endpoint == NULL) {
		snprintf(why, why_len, "the VM did not come from the factory");
		return 0;
	}
	cleanup_close int fd = -1;
	int rc = connect_with_shape(vm_shape, &req.shape, &fd, why, why_len, err);
	if (rc <= 0)
		return rc;
	json_object *msg = cache_request_encode(&req);
	const int fds[] = { vm->lifeline_fd, vm->control_fd, vm->agent_fd };
	rc = veil_ctl_send(fd, msg, fds, 3, err);
	json_object_put(msg);
	msg = NULL;
	int got[VEIL_CTL_MAX_FDS];
	if (rc < 0 || receive(fd, &msg, got, err) < 0)
		return -1;
	veil_ctl_close_fds(got);
	struct cache_claim_reply r;
	rc = cache_claim_reply_decode(msg, &r, err);
	if (rc == 0 && !r.granted)
		snprintf(why, why_len, "factory: %s", r.reason);
	rc = rc < 0 ? -1 : r.granted ? 1 : 0;
	json_object_put(msg);
	if (rc == 1) {
		/* The factory holds the VM now: drop our channels without killing it. */
		vm->pid = 0;
		vm->hv->teardown(vm);
	}
	return rc;
}

int veil_factory_dump(const struct veil_config *cfg, pid_t qemu_pid, int out_fd, pid_t *dumped, veil_err_t *err)
{
	struct cache_instance in;
	if (cache_instance_init(&in, cfg->factory.vm_cache_endpoint, err) < 0)
		return -1;
	cleanup_close int fd = -1;
	int rc = connect_factory(&in, &fd, err);
	if (rc == 0)
		return veil_fail(err, ECONNREFUSED, "no factory is running on %s", in.endpoint);
	if (rc < 0)
		return -1;
	json_object *msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_DUMP, .qemu_pid = qemu_pid });
	rc = veil_ctl_send(fd, msg, &out_fd, 1, err);
	json_object_put(msg);
	msg = NULL;
	int got[VEIL_CTL_MAX_FDS];
	if (rc < 0 || receive_within(fd, &msg, got, DUMP_TIMEOUT_MS, err) < 0)
		return -1;
	veil_ctl_close_fds(got);
	json_object *v;
	rc = json_object_object_get_ex(msg, "dumped", &v) && json_object_is_type(v, json_type_int) ? 0 : -1;
	if (rc == 0)
		*dumped = (pid_t)json_object_get_int(v);
	json_object_put(msg);
	return rc == 0 ? 0 : veil_fail(err, EPROTO, "the factory's reply to a dump names no VM");
}

static bool wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int rc;
	while ((rc = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	return rc > 0;
}

/* SIGTERM lets the daemon release its pool and remove its files itself. */
static int stop_daemon(const struct cache_instance *in, pid_t pid, veil_err_t *err)
{
	cleanup_close int pidfd = veil_pidfd_open(pid);
	if (pidfd < 0)
		return errno == ESRCH ? 0 : veil_fail(err, errno, "pidfd_open %d", (int)pid);
	/* Still the holder now that the pidfd pins it: not a reused pid. */
	if (cache_lock_holder(in) != pid)
		return 0;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
		return veil_fail(err, errno, "signalling the factory (pid %d)", (int)pid);
	if (wait_exit(pidfd, STOP_TIMEOUT_MS))
		return 0;
	log_warn("factory %d did not stop within %d ms: killing it", (int)pid, STOP_TIMEOUT_MS);
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	wait_exit(pidfd, STOP_TIMEOUT_MS);
	return 0;
}

int veil_factory_destroy(const struct veil_config *cfg, bool *was_running, veil_err_t *err)
{
	struct cache_instance in;
	*was_running = false;
	if (cache_instance_init(&in, cfg->factory.vm_cache_endpoint, err) < 0)
		return -1;
	pid_t pid = cache_lock_holder(&in);
	if (pid > 0) {
		*was_running = true;
		if (stop_daemon(&in, pid, err) < 0)
			return -1;
	}
	/* Whatever the daemon could not do (it was killed, say) is done here. */
	pid_t holder;
	cleanup_close int lock_fd = cache_lock(&in, &holder, err);
	if (lock_fd < 0)
		return -1;
	cache_cleanup_leftovers(&in);
	cache_remove_files(&in);
	struct veil_template tmpl;
	if (cfg->factory.enable_template &&
	    (veil_template_locate(&tmpl, cfg->factory.template_path, err) < 0 || veil_template_remove(&tmpl, err) < 0))
		return -1;
	return 0;
}
