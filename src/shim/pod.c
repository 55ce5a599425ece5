#include "shim/pod.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "runtime/state.h"

/* How long the output of a process that exited may take to reach its reader. */
#define FLUSH_AT_EXIT_MS 2000
/* A mount's data (overlay's lowerdir and so on) goes to the kernel in one page. */
#define MOUNT_DATA_MAX 4095

const char *shim_annotation(const struct oci_spec *spec, const char *containerd_key, const char *crio_key)
{
	json_object *v;
	if (spec->annotations == NULL)
		return NULL;
	if (json_object_object_get_ex(spec->annotations, containerd_key, &v) ||
	    (crio_key != NULL && json_object_object_get_ex(spec->annotations, crio_key, &v)))
		return json_object_get_string(v);
	return NULL;
}

int shim_pod_init(struct shim_pod *pod, const struct veil_config *cfg, const char *ns, int signal_fd,
		  struct shim_service *svc, veil_err_t *err)
{
	memset(pod, 0, sizeof(*pod));
	pod->cfg = cfg;
	pod->ns = ns;
	pod->signal_fd = signal_fd;
	pod->svc = svc;
	if (asprintf(&pod->state_root, "%s/containerd/%s", cfg->runtime.state_dir, ns) < 0)
		return veil_fail(err, ENOMEM, "state directory");
	return 0;
}

static struct shim_container *find_container(struct shim_pod *pod, const char *id)
{
	for (size_t i = 0; i < SHIM_MAX_TASKS; i++)
		if (pod->containers[i].id != NULL && strcmp(pod->containers[i].id, id) == 0)
			return &pod->containers[i];
	return NULL;
}

static struct shim_proc *find_proc(struct shim_pod *pod, const char *id, const char *exec_id)
{
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++) {
		struct shim_proc *p = &pod->procs[i];
		if (p->used && strcmp(p->id, id) == 0 && strcmp(p->exec_id, exec_id) == 0)
			return p;
	}
	return NULL;
}

static struct shim_proc *new_proc(struct shim_pod *pod, const char *id, const char *exec_id, veil_err_t *err)
{
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++) {
		struct shim_proc *p = &pod->procs[i];
		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		snprintf(p->id, sizeof(p->id), "%s", id);
		snprintf(p->exec_id, sizeof(p->exec_id), "%s", exec_id);
		shim_io_init(&p->io);
		return p;
	}
	return veil_fail_tagged(err, EBUSY, "the pod runs %d processes already", SHIM_MAX_PROCS), NULL;
}

static void proc_release(struct shim_pod *pod, struct shim_proc *p)
{
	/* A logger exits once its pipes close; it is reaped then. */
	for (size_t i = 0; i < SHIM_MAX_PROCS && p->io.logger > 0; i++) {
		if (pod->loggers[i] == 0) {
			pod->loggers[i] = p->io.logger;
			p->io.logger = 0;
		}
	}
	if (p->started)
		veil_sandbox_detach(&pod->sb, &p->relay);
	veil_relay_release(&p->relay);
	shim_io_close(&p->io);
	oci_process_free(p->process);
	memset(p, 0, sizeof(*p));
}

/* ---- rootfs: containerd's mounts, made at the bundle's rootfs as its runc shim does ---- */

struct mount_flag {
	const char *name;
	bool clear;
	unsigned long flag;
};

static const struct mount_flag mount_flags[] = {
	{ "ro", false, MS_RDONLY },	      { "rw", true, MS_RDONLY },	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },	      { "nodev", false, MS_NODEV },	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },	      { "exec", true, MS_NOEXEC },	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },    { "noatime", false, MS_NOATIME }, { "atime", true, MS_NOATIME },
	{ "nodiratime", false, MS_NODIRATIME }, { "relatime", false, MS_RELATIME }, { "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME }, { "bind", false, MS_BIND }, { "rbind", false, MS_BIND | MS_REC },
};

static int mount_one(const Containerd__Types__Mount *m, const char *target, veil_err_t *err)
{
	unsigned long flags = 0;
	char data[MOUNT_DATA_MAX + 1] = "";
	size_t len = 0;
	for (size_t i = 0; i < m->n_options; i++) {
		const char *o = m->options[i];
		const struct mount_flag *f = NULL;
		for (size_t k = 0; k < sizeof(mount_flags) / sizeof(mount_flags[0]) && f == NULL; k++)
			if (strcmp(mount_flags[k].name, o) == 0)
				f = &mount_flags[k];
		if (f != NULL) {
			flags = f->clear ? flags & ~f->flag : flags | f->flag;
			continue;
		}
		int n = snprintf(data + len, sizeof(data) - len, "%s%s", len ? "," : "", o);
		if (n < 0 || (size_t)n >= sizeof(data) - len)
			return veil_fail(err, E2BIG, "rootfs mount options longer than %d bytes", MOUNT_DATA_MAX);
		len += (size_t)n;
	}
	const char *type = m->type[0] ? m->type : NULL;
	if (mount(m->source, target, (flags & MS_BIND) ? NULL : type, flags & ~(unsigned long)MS_RDONLY,
		  (flags & MS_BIND) ? NULL : data) < 0)
		return veil_fail(err, errno, "mounting %s (%s) on %s", m->source, m->type, target);
	/* A bind mount takes its read-only flag in a remount. */
	if ((flags & MS_RDONLY) &&
	    mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY | (flags & MS_BIND), (flags & MS_BIND) ? NULL : data) < 0) {
		int e = errno;
		umount2(target, MNT_DETACH);
		return veil_fail(err, e, "remounting %s read-only", target);
	}
	return 0;
}

static void unmount_all(const char *target, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (umount2(target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			log_warn("unmounting %s: %s", target, strerror(errno));
}

/* ---- creating ---- */

static int64_t annotation_number(const struct oci_spec *spec, const char *key)
{
	const char *v = shim_annotation(spec, key, NULL);
	if (v == NULL)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < 0) {
		log_warn("annotation %s=%s is not a number; ignored", key, v);
		return 0;
	}
	return n;
}

static int write_pid_record(const char *dir, veil_err_t *err)
{
	char path[PATH_MAX], text[64];
	int len = snprintf(text, sizeof(text), "%d %llu\n", (int)getpid(), veil_process_start_time(getpid()));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, SHIM_PID_RECORD) >= sizeof(path))
		return veil_fail(err, ENAMETOOLONG, "%s: path too long", dir);
	return veil_write_file_atomic(path, text, (size_t)len, err);
}

/* The sandbox for the first container: a pod's (CRI's sandbox container)
 * sized from the pod's annotations, or a lone container's sized from its
 * own limits, as the CLI sizes one. */
static int create_sandbox(struct shim_pod *pod, const char *id, const struct oci_spec *spec, const char *rootfs,
			  veil_err_t *err)
{
	const char *type = shim_annotation(spec, SHIM_ANNOTATION_CONTAINER_TYPE, SHIM_ANNOTATION_CRIO_CONTAINER_TYPE);
	if (type != NULL && strcmp(type, "sandbox") != 0)
		return veil_fail_tagged(err, EINVAL, "container %s joins pod %s, whose sandbox this shim does not serve", id,
				 shim_annotation(spec, SHIM_ANNOTATION_SANDBOX_ID, SHIM_ANNOTATION_CRIO_SANDBOX_ID));
	pod->is_pod = type != NULL;
	struct veil_sandbox_opts opts = { .id = id, .spec = spec, .rootfs = rootfs, .pod = pod->is_pod,
					  .signal_fd = pod->signal_fd };
	if (pod->is_pod) {
		opts.memory_limit = annotation_number(spec, SHIM_ANNOTATION_SANDBOX_MEMORY);
		opts.cpu_quota = annotation_number(spec, SHIM_ANNOTATION_SANDBOX_CPU_QUOTA);
		opts.cpu_period = (uint64_t)annotation_number(spec, SHIM_ANNOTATION_SANDBOX_CPU_PERIOD);
	} else {
		opts.memory_limit = spec->resources.memory_limit;
		opts.cpu_quota = spec->resources.cpu_quota;
		opts.cpu_period = spec->resources.cpu_period;
	}
	if (veil_claim_id(pod->state_root, id, err) < 0)
		return -1;
	if (asprintf(&pod->sandbox_dir, "%s/%s", pod->state_root, id) < 0)
		abort();
	if (write_pid_record(pod->sandbox_dir, err) < 0 ||
	    veil_sandbox_create(&pod->sb, pod->cfg, pod->state_root, &opts, err) < 0) {
		veil_remove_tree(pod->sandbox_dir);
		free(pod->sandbox_dir);
		pod->sandbox_dir = NULL;
		return -1;
	}
	pod->have_sandbox = true;
	return 0;
}

static void ask_for_oom(struct shim_pod *pod)
{
	veil_err_t err = NULL;
	if (veil_agent_oom_event_send(&pod->sb.agent, &pod->oom_request, &err) < 0) {
		log_warn("OOM events: %s", err->msg);
		veil_error_free(&err);
		pod->oom_request = 0;
	}
}

/* Answers to what the pod asked the agent itself: the OOM events. */
static void on_response(void *opaque, uint32_t request_id, const uint8_t *payload, size_t len)
{
	struct shim_pod *pod = opaque;
	if (request_id != pod->oom_request)
		return;
	char id[VEIL_ID_MAX + 1];
	veil_err_t err = NULL;
	if (veil_agent_oom_event_result(payload, len, id, sizeof(id), &err) < 0) {
		log_warn("OOM events: %s", err->msg);
		veil_error_free(&err);
		pod->oom_request = 0;
		return;
	}
	log_info("container %s: a process was killed for lack of memory", id);
	shim_service_oom(pod->svc, id);
	ask_for_oom(pod);
}

static int pod_create(void *opaque, const Containerd__Task__V2__CreateTaskRequest *r, uint32_t *pid, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	if (pod->vm_gone)
		return veil_fail_tagged(err, EBUSY, "the pod's VM has exited");
	if (pod->have_sandbox && !pod->is_pod)
		return veil_fail_tagged(err, EINVAL, "container %s cannot join %s, which is not a pod", r->id, pod->sb.id);
	struct shim_container *c = NULL;
	for (size_t i = 0; i < SHIM_MAX_TASKS && c == NULL; i++)
		if (pod->containers[i].id == NULL)
			c = &pod->containers[i];
	if (c == NULL)
		return veil_fail_tagged(err, EBUSY, "a pod holds at most %d containers", SHIM_MAX_TASKS);
	struct oci_spec spec;
	if (oci_spec_load_bundle(r->bundle, &spec, err) < 0)
		return -1;
	int rc = -1;
	struct shim_proc *p = NULL;
	cleanup_free char *rootfs = oci_spec_rootfs_path(&spec, r->bundle);
	if (rootfs == NULL || spec.process == NULL) {
		veil_fail_tagged(err, EINVAL, "bundle %s: %s", r->bundle, rootfs == NULL ? "no root" : "no process");
		goto out;
	}
	const char *sandbox_id = shim_annotation(&spec, SHIM_ANNOTATION_SANDBOX_ID, SHIM_ANNOTATION_CRIO_SANDBOX_ID);
	if (pod->have_sandbox && sandbox_id != NULL && strcmp(sandbox_id, pod->sb.id) != 0) {
		veil_fail_tagged(err, EINVAL, "container %s belongs to pod %s, not %s", r->id, sandbox_id, pod->sb.id);
		goto out;
	}
	if ((p = new_proc(pod, r->id, "", err)) == NULL ||
	    shim_io_open(&p->io, r->stdin, r->stdout, r->stderr, r->id, pod->ns, err) < 0)
		goto out;
	/* The image is a copy: the mounts are needed only while it is made. */
	for (size_t i = 0; i < r->n_rootfs; i++) {
		if (mount_one(r->rootfs[i], rootfs, err) < 0) {
			unmount_all(rootfs, i);
			goto out;
		}
	}
	if (!pod->have_sandbox) {
		/* CRI makes the sandbox (pause) container's root read-only and binds
		 * host files (/etc/resolv.conf...) its image may have no mount point
		 * for. The guest copies them in, which needs a writable root to make
		 * the mount points, as runc makes them before it remounts the root
		 * read-only; the pause process writes nothing, inside the VM. */
		if (shim_annotation(&spec, SHIM_ANNOTATION_CONTAINER_TYPE, SHIM_ANNOTATION_CRIO_CONTAINER_TYPE) != NULL)
			spec.root_readonly = false;
		rc = create_sandbox(pod, r->id, &spec, rootfs, err);
		if (rc == 0) {
			pod->sb.response = on_response;
			pod->sb.opaque = pod;
			ask_for_oom(pod);
		}
	} else {
		/* CRI's containers join the sandbox's namespaces by path (the host's
		 * /proc/PID/ns/...), which mean nothing in a guest: each gets its own
		 * uts, ipc and pid namespaces, with the pod's hostname; the network
		 * is the pod's, the guest's own. */
		for (size_t i = 0; spec.namespace_paths != NULL && i < spec.n_namespaces; i++) {
			if (strcmp(spec.namespaces[i], "network") != 0) {
				free(spec.namespace_paths[i]);
				spec.namespace_paths[i] = NULL;
			}
		}
		struct shim_container *sandbox = find_container(pod, pod->sb.id);
		if (spec.hostname == NULL && sandbox != NULL && sandbox->spec.hostname != NULL &&
		    (spec.hostname = strdup(sandbox->spec.hostname)) == NULL)
			abort();
		rc = veil_sandbox_add_container(&pod->sb, r->id, &spec, rootfs, NULL, err);
	}
	unmount_all(rootfs, r->n_rootfs);
out:
	if (rc < 0) {
		if (p != NULL)
			proc_release(pod, p);
		oci_spec_free(&spec);
		return -1;
	}
	c->id = strdup(r->id);
	c->spec = spec;
	if (c->id == NULL)
		abort();
	*pid = (uint32_t)pod->sb.vm.pid;
	return 0;
}

static int pod_add_exec(void *opaque, const char *id, const char *exec_id, const struct shim_stdio *io,
			json_object *process, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	if (find_container(pod, id) == NULL)
		return veil_fail_tagged(err, ENOENT, "container %s not found", id);
	struct oci_process *parsed;
	veil_err_t bad = NULL;
	if (oci_process_from_json(process, &parsed, &bad) < 0) {
		veil_fail_tagged(err, EINVAL, "%s", bad->msg);
		veil_error_free(&bad);
		return -1;
	}
	struct shim_proc *p = new_proc(pod, id, exec_id, err);
	if (p == NULL) {
		oci_process_free(parsed);
		return -1;
	}
	p->process = parsed;
	if (shim_io_open(&p->io, io->in, io->out, io->err, id, pod->ns, err) < 0) {
		proc_release(pod, p);
		return -1;
	}
	return 0;
}

static int pod_start(void *opaque, const char *id, const char *exec_id, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	struct shim_proc *p = find_proc(pod, id, exec_id);
	struct shim_container *c = find_container(pod, id);
	if (p == NULL || c == NULL)
		return veil_fail_tagged(err, ENOENT, "process %s of container %s not found", exec_id, id);
	if (pod->vm_gone)
		return veil_fail_tagged(err, EBUSY, "the pod's VM has exited");
	const struct oci_process *process = p->process ? p->process : c->spec.process;
	veil_relay_init(&p->relay, &pod->sb.agent, p->id, p->exec_id, process->terminal, p->io.in, p->io.out,
			p->io.err);
	p->relay.queue_output = true;
	/* An exec inherits what its process leaves out from the container's init. */
	if (veil_sandbox_exec(&pod->sb, &p->relay, process, p->process ? c->spec.process : NULL, err) < 0)
		return -1;
	p->started = true;
	return 0;
}

static struct shim_proc *running_proc(struct shim_pod *pod, const char *id, const char *exec_id, veil_err_t *err)
{
	struct shim_proc *p = find_proc(pod, id, exec_id);
	if (p == NULL || !p->started)
		return veil_fail_tagged(err, ENOENT, "process %s of container %s is not running", exec_id, id), NULL;
	if (pod->vm_gone || p->relay.exited)
		return veil_fail_tagged(err, ENOENT, "process already finished"), NULL;
	return p;
}

static int pod_signal(void *opaque, const char *id, const char *exec_id, int sig, bool all, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	if (running_proc(pod, id, exec_id, err) == NULL)
		return -1;
	return veil_agent_signal(&pod->sb.agent, id, exec_id, sig, all, pod->sb.request_timeout_ms, err);
}

static int pod_remove(void *opaque, const char *id, const char *exec_id, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	struct shim_proc *p = find_proc(pod, id, exec_id);
	if (p != NULL)
		proc_release(pod, p);
	if (exec_id[0] != '\0')
		return 0;
	/* The init takes its container, and any exec left of it, along. */
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++)
		if (pod->procs[i].used && strcmp(pod->procs[i].id, id) == 0)
			proc_release(pod, &pod->procs[i]);
	struct shim_container *c = find_container(pod, id);
	if (c == NULL)
		return veil_fail_tagged(err, ENOENT, "container %s not found", id);
	free(c->id);
	c->id = NULL;
	oci_spec_free(&c->spec);
	if (pod->vm_gone || !veil_sandbox_has_container(&pod->sb, id))
		return 0;
	return veil_sandbox_remove_container(&pod->sb, id, err);
}

static int pod_freeze(void *opaque, const char *id, bool frozen, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	if (running_proc(pod, id, "", err) == NULL)
		return -1;
	return veil_agent_freeze_container(&pod->sb.agent, id, frozen, pod->sb.request_timeout_ms, err);
}

static int pod_resize(void *opaque, const char *id, const char *exec_id, unsigned rows, unsigned cols,
		      veil_err_t *err)
{
	struct shim_proc *p = running_proc(opaque, id, exec_id, err);
	if (p == NULL)
		return -1;
	veil_relay_resize_to(&p->relay, rows, cols);
	return 0;
}

static int pod_close_stdin(void *opaque, const char *id, const char *exec_id, veil_err_t *err)
{
	struct shim_proc *p = running_proc(opaque, id, exec_id, err);
	if (p == NULL)
		return -1;
	return p->relay.in_fd < 0 ? 0 : veil_relay_close_stdin(&p->relay, err);
}

static int pod_update(void *opaque, const char *id, const struct veil_agent_limits *limits, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	if (running_proc(pod, id, "", err) == NULL)
		return -1;
	return veil_agent_update_container(&pod->sb.agent, id, limits, pod->sb.request_timeout_ms, err);
}

static int pod_stats(void *opaque, const char *id, struct veil_agent_stats *out, veil_err_t *err)
{
	struct shim_pod *pod = opaque;
	if (running_proc(pod, id, "", err) == NULL)
		return -1;
	return veil_agent_stats(&pod->sb.agent, id, out, pod->sb.request_timeout_ms, err);
}

const struct shim_pod_ops shim_pod_ops = {
	.create = pod_create,
	.add_exec = pod_add_exec,
	.start = pod_start,
	.signal = pod_signal,
	.remove = pod_remove,
	.freeze = pod_freeze,
	.resize = pod_resize,
	.close_stdin = pod_close_stdin,
	.update = pod_update,
	.stats = pod_stats,
};

/* ---- the loop's part ---- */

static bool any_backlogged(const struct shim_pod *pod)
{
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++)
		if (pod->procs[i].started && veil_relay_backlogged(&pod->procs[i].relay))
			return true;
	return false;
}

size_t shim_pod_poll_fds(struct shim_pod *pod, struct pollfd *pfds)
{
	bool live = pod->have_sandbox && !pod->vm_gone;
	/* Past a backlog the agent is not read, and the guest holds output back. */
	pfds[0] = (struct pollfd){ .fd = live && !any_backlogged(pod) ? pod->sb.agent.fd : -1, .events = POLLIN };
	pfds[1] = (struct pollfd){ .fd = live ? pod->sb.vm.pidfd : -1, .events = POLLIN };
	size_t n = 2;
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++) {
		struct shim_proc *p = &pod->procs[i];
		if (!p->used || !p->started || p->reported)
			continue;
		const int fds[3] = { live ? veil_relay_stdin_fd(&p->relay) : -1, veil_relay_output_fd(&p->relay, 0),
				     veil_relay_output_fd(&p->relay, 1) };
		for (int s = 0; s < 3; s++) {
			if (fds[s] < 0)
				continue;
			pfds[n] = (struct pollfd){ .fd = fds[s], .events = s == 0 ? POLLIN : POLLOUT };
			pod->slots[n - 2].proc = p;
			pod->slots[n - 2].stream = s;
			n++;
		}
	}
	return n;
}

/* Output left when a process exits goes out, unless its reader takes
 * nothing for a while; then its fds close. */
static void finish_output(struct shim_proc *p)
{
	for (int s = 0; s < 2; s++) {
		int fd;
		while ((fd = veil_relay_output_fd(&p->relay, s)) >= 0) {
			struct pollfd w = { .fd = fd, .events = POLLOUT };
			if (poll(&w, 1, FLUSH_AT_EXIT_MS) <= 0) {
				log_warn("container %s: dropping output its reader does not take", p->id);
				break;
			}
			veil_relay_flush_output(&p->relay, s);
		}
	}
	shim_io_close(&p->io);
	p->relay.in_fd = p->relay.out_fd = p->relay.err_fd = -1;
}

/* The VM is gone: every process of the pod is reported killed (Kata #10969). */
static void vm_gone(struct shim_pod *pod, const char *why)
{
	if (pod->vm_gone)
		return;
	log_error("pod %s: %s; its containers are reported killed", pod->sb.id, why);
	pod->vm_gone = true;
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++) {
		struct shim_proc *p = &pod->procs[i];
		if (!p->used || p->reported)
			continue;
		if (p->started && !p->relay.exited) {
			p->relay.exited = true;
			p->relay.status = (struct veil_exit_status){ .signal = SIGKILL };
		} else if (!p->started) {
			p->reported = true;
			shim_io_close(&p->io);
			shim_service_exited(pod->svc, p->id, p->exec_id, 128 + SIGKILL);
		}
	}
}

void shim_pod_report_exits(struct shim_pod *pod)
{
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++) {
		struct shim_proc *p = &pod->procs[i];
		if (!p->used || !p->started || p->reported || !p->relay.exited)
			continue;
		p->reported = true;
		finish_output(p);
		shim_service_exited(pod->svc, p->id, p->exec_id, (uint32_t)veil_exit_status_code(&p->relay.status));
	}
}

void shim_pod_poll_done(struct shim_pod *pod, const struct pollfd *pfds, size_t n)
{
	veil_err_t err = NULL;
	if (pfds[0].fd >= 0 && (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    veil_sandbox_pump(&pod->sb, &err) < 0) {
		vm_gone(pod, err->msg);
		veil_error_free(&err);
	}
	if (pfds[1].fd >= 0 && (pfds[1].revents & POLLIN))
		vm_gone(pod, "the VM exited");
	for (size_t i = 2; i < n; i++) {
		struct shim_proc *p = pod->slots[i - 2].proc;
		if (pfds[i].revents == 0 || !p->used || p->reported)
			continue;
		int s = pod->slots[i - 2].stream;
		if (s > 0) {
			veil_relay_flush_output(&p->relay, s - 1);
		} else if (!pod->vm_gone && veil_relay_forward_stdin(&p->relay, &err) < 0) {
			vm_gone(pod, err->msg);
			veil_error_free(&err);
		}
	}
	shim_pod_report_exits(pod);
}

void shim_pod_reap(struct shim_pod *pod)
{
	/* By pid: QEMU is a child too, and its teardown reaps it. */
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++) {
		struct shim_proc *p = &pod->procs[i];
		if (p->used && p->io.logger > 0 && waitpid(p->io.logger, NULL, WNOHANG) == p->io.logger)
			p->io.logger = 0;
		if (pod->loggers[i] > 0 && waitpid(pod->loggers[i], NULL, WNOHANG) == pod->loggers[i])
			pod->loggers[i] = 0;
	}
}

void shim_pod_release(struct shim_pod *pod)
{
	for (size_t i = 0; i < SHIM_MAX_PROCS; i++)
		if (pod->procs[i].used)
			proc_release(pod, &pod->procs[i]);
	for (size_t i = 0; i < SHIM_MAX_TASKS; i++) {
		if (pod->containers[i].id != NULL) {
			free(pod->containers[i].id);
			pod->containers[i].id = NULL;
			oci_spec_free(&pod->containers[i].spec);
		}
	}
	if (pod->have_sandbox)
		veil_sandbox_release(&pod->sb, pod->cfg);
	pod->have_sandbox = false;
	if (pod->sandbox_dir != NULL)
		veil_remove_tree(pod->sandbox_dir);
	/* <state_dir>/containerd/<namespace>, and its parent, while they hold no other pod. */
	if (pod->state_root != NULL && rmdir(pod->state_root) == 0) {
		char *slash = strrchr(pod->state_root, '/');
		*slash = '\0';
		rmdir(pod->state_root);
	}
	free(pod->sandbox_dir);
	free(pod->state_root);
	pod->sandbox_dir = pod->state_root = NULL;
}
