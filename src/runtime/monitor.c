#include "runtime/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "hv/tee.h"
#include "lib/cleanup.h"
#include "lib/control.h"
#include "lib/host_cgroup.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/trace.h"
#include "runtime/hooks.h"
#include "runtime/monitor_msg.h"
#include "runtime/sandbox.h"
#include "runtime/view.h"
#include "runtime/state.h"
#include "runtime/stdio_relay.h"

#define MAX_PROCS 64
#define MAX_CONNS 32
_Static_assert(MAX_PROCS <= VEIL_MONITOR_MAX_PIDS, "ps lists the monitor and every exec client");
#define INIT 0

enum status { CREATED, RUNNING, PAUSED, STOPPED };
static const char *const status_names[] = { "created", "running", "paused", "stopped" };

struct proc {
	bool used;
	char exec_id[VEIL_ID_MAX + 8];
	struct veil_relay relay;
	int conn;           /* the exec client waiting for the exit status, -1 if none */
	int fds[3];         /* host fds received for an exec, owned */
};

struct conn {
	int fd;             /* -1 when free */
	pid_t peer;
};

struct monitor {
	const struct veil_monitor_opts *o;
	struct veil_sandbox sb;
	enum status status;
	int listen_fd;
	char *sock_path;
	struct proc procs[MAX_PROCS];
	struct conn conns[MAX_CONNS];
	bool done;
	struct veil_exit_status init_status;
	char created[64];   /* RFC 3339, as written to state.json */
};

int veil_monitor_block_signals(veil_err_t *err)
{
	static const int taken[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	return veil_signalfd_for(taken, sizeof(taken) / sizeof(taken[0]), err);
}

/* ---- processes ---- */

static void proc_release(struct monitor *m, struct proc *p)
{
	veil_sandbox_detach(&m->sb, &p->relay);
	veil_relay_release(&p->relay);
	for (int i = 0; i < 3; i++)
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	p->used = false;
}

static struct proc *proc_alloc(struct monitor *m)
{
	for (int i = INIT + 1; i < MAX_PROCS; i++) {
		if (!m->procs[i].used) {
			struct proc *p = &m->procs[i];
			memset(p, 0, sizeof(*p));
			p->used = true;
			p->conn = -1;
			p->fds[0] = p->fds[1] = p->fds[2] = -1;
			return p;
		}
	}
	return NULL;
}

static struct proc *proc_find(struct monitor *m, const char *exec_id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (m->procs[i].used && strcmp(m->procs[i].exec_id, exec_id) == 0)
			return &m->procs[i];
	return NULL;
}

static int exec_process(struct monitor *m, struct proc *p, const struct oci_process *process, veil_err_t *err)
{
	/* An exec inherits what its process.json leaves out from the container's process. */
	const struct oci_process *init = m->o->spec->process;
	if (veil_sandbox_exec(&m->sb, &p->relay, process, process == init ? NULL : init, err) < 0)
		return -1;
	if (process->terminal)
		veil_relay_resize(&p->relay);
	return 0;
}

static void notify_exit(struct monitor *m, struct proc *p)
{
	if (p->conn < 0 || m->conns[p->conn].fd < 0)
		return;
	json_object *msg = veil_monitor_exit_encode(&p->relay.status);
	veil_err_t err = NULL;
	if (veil_ctl_send(m->conns[p->conn].fd, msg, NULL, 0, &err) < 0)
		veil_error_free(&err);
	json_object_put(msg);
}

/* ---- lifecycle ---- */

/* The container's state as state.json records it; strings are borrowed. */
static struct veil_state monitor_state(struct monitor *m)
{
	return (struct veil_state){
		.id = (char *)m->o->id, .bundle = (char *)m->o->bundle, .rootfs = (char *)m->o->rootfs,
		.created = m->created, .pid = getpid(), .pid_start = veil_process_start_time(getpid()),
		.cgroup_path = (char *)m->o->cgroup_path,
		.annotations = m->o->spec->annotations,
	};
}

static void state_json_text(struct monitor *m, const char *status, char **out)
{
	struct veil_state s = monitor_state(m);
	json_object *o = veil_state_oci_json(&s, status);
	*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int run_hooks(struct monitor *m, const char *stage, const struct oci_hook *hooks, size_t n,
		     veil_err_t *err)
{
	if (n == 0)
		return 0;
	cleanup_free char *state = NULL;
	state_json_text(m, status_names[m->status], &state);
	return veil_hooks_run(stage, hooks, n, state, err);
}

/* Whether the spec asks for a network namespace of the container's own,
 * rather than handing the VM an existing one by path. */
static bool wants_new_netns(const struct oci_spec *spec)
{
	for (size_t i = 0; i < spec->n_namespaces; i++)
		if (strcmp(spec->namespaces[i], "network") == 0)
			return spec->namespace_paths == NULL || spec->namespace_paths[i] == NULL;
	return false;
}

/* Callers configure the container's network in /proc/<the pid veil
 * reports>/ns/net between create and start (buildah does): that must be a
 * namespace of the container's own, as with runc, never the host's. */
static int enter_new_netns(const struct oci_spec *spec, veil_err_t *err)
{
	if (!wants_new_netns(spec))
		return 0;
	/* A confidential VM's TEE service still reaches the KBS from here. */
	int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (here < 0)
		return veil_fail(err, errno, "/proc/self/ns/net");
	if (unshare(CLONE_NEWNET) < 0) {
		close(here);
		return veil_fail(err, errno, "creating the container's network namespace on the host");
	}
	veil_tee_service_set_netns(here);
	return 0;
}

/* What was put into that namespace after the VM booted has no way into it:
 * a NIC for it would have needed a spare PCIe port at boot. Said, not hidden. */
static void warn_unconnected_interfaces(struct monitor *m)
{
	if (!wants_new_netns(m->o->spec))
		return;
	struct if_nameindex *ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i != NULL && i->if_index != 0; i++)
		if (strcmp(i->if_name, "lo") != 0)
			log_warn("container %s: interface %s, added to its network namespace after create, is not connected "
				 "to the VM",
				 m->sb.id, i->if_name);
	if (ifs != NULL)
		if_freenameindex(ifs);
}

static int start_init(struct monitor *m, veil_err_t *err)
{
	warn_unconnected_interfaces(m);
	struct proc *init = &m->procs[INIT];
	veil_trace_phase("start");
	if (exec_process(m, init, m->o->spec->process, err) < 0)
		return veil_fail_context(err, "starting the container process");
	veil_trace_phase("first_output");
	m->status = RUNNING;
	/* OCI: a failing poststart hook is logged; the container keeps running. */
	veil_err_t hook_err = NULL;
	if (run_hooks(m, "poststart", m->o->spec->hooks_poststart, m->o->spec->n_poststart, &hook_err) < 0)
		log_warn("%s", hook_err->msg);
	veil_error_free(&hook_err);
	return 0;
}

/* The container is over: every process is reported gone and the VM goes with it. */
static void stop(struct monitor *m, struct veil_exit_status status)
{
	if (m->status == STOPPED)
		return;
	/* The exit is reported: what follows is teardown. */
	veil_trace_rename_phase("first_output", "exit");
	veil_trace_phase("teardown");
	m->init_status = status;
	m->status = STOPPED;
	veil_state_mark_stopped(m->o->root, m->o->id);
	for (int i = INIT + 1; i < MAX_PROCS; i++) {
		struct proc *p = &m->procs[i];
		if (!p->used)
			continue;
		if (!p->relay.exited) {
			p->relay.exited = true;
			p->relay.status = (struct veil_exit_status){ .signal = SIGKILL };
		}
		notify_exit(m, p);
		proc_release(m, p);
	}
	veil_sandbox_release(&m->sb, m->o->cfg);
	m->done = true;
}

static json_object *handle_kill(struct monitor *m, const struct veil_monitor_request *req)
{
	int sig = req->signal;
	bool all = req->all;
	const char *exec_id = req->exec_id;
	struct proc *p = proc_find(m, exec_id);
	if (p == NULL)
		return veil_ctl_error_reply("no such process");
	/* A container whose process has not started, or whose VM is frozen, ends with the VM. */
	if (m->status == CREATED || (m->status == PAUSED && sig == SIGKILL && exec_id[0] == '\0')) {
		stop(m, (struct veil_exit_status){ .signal = sig });
		return veil_ctl_ok_reply();
	}
	if (m->status == PAUSED || exec_id[0] != '\0') {
		/* Delivered when the guest runs again; never block on a frozen guest. */
		veil_relay_signal(&p->relay, sig, all);
		return veil_ctl_ok_reply();
	}
	veil_err_t err = NULL;
	if (veil_agent_signal(&m->sb.agent, m->sb.id, exec_id, sig, all, m->sb.request_timeout_ms, &err) < 0) {
		json_object *reply = veil_ctl_error_reply(err->msg);
		veil_error_free(&err);
		return reply;
	}
	return veil_ctl_ok_reply();
}

static json_object *handle_vm_state(struct monitor *m, bool pause)
{
	enum status from = pause ? RUNNING : PAUSED;
	if (m->status != from)
		return veil_ctl_error_reply(pause ? "container not running" : "container not paused");
	veil_err_t err = NULL;
	const struct veil_hypervisor *hv = m->sb.vm.hv;
	if ((pause ? hv->pause(&m->sb.vm, &err) : hv->resume(&m->sb.vm, &err)) < 0) {
		json_object *reply = veil_ctl_error_reply(err->msg);
		veil_error_free(&err);
		return reply;
	}
	m->status = pause ? PAUSED : RUNNING;
	/* The guest's clock stood still while the VM was stopped: Hello, marked
	 * resumed, lets it catch up (and reseeds its RNG). */
	if (!pause && veil_agent_hello(&m->sb.agent, m->sb.request_timeout_ms, &err) < 0) {
		log_warn("container %s: the guest's clock was not resynchronised after resume: %s", m->sb.id, err->msg);
		veil_error_free(&err);
	}
	return veil_ctl_ok_reply();
}

static json_object *handle_exec(struct monitor *m, int conn, const struct veil_monitor_request *req,
				int fds[VEIL_CTL_MAX_FDS])
{
	const char *exec_id = req->exec_id;
	veil_err_t err = NULL;
	if (m->status != RUNNING)
		return veil_ctl_error_reply("cannot exec in a container that is not running");
	if (exec_id[0] == '\0' || veil_validate_id(exec_id, &err) < 0 || proc_find(m, exec_id) != NULL) {
		veil_error_free(&err);
		return veil_ctl_error_reply("invalid or duplicate exec id");
	}
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
		return veil_ctl_error_reply("exec needs three stdio fds");
	struct oci_process *process = NULL;
	if (oci_process_from_json(req->process, &process, &err) < 0) {
		json_object *reply = veil_ctl_error_reply(err->msg);
		veil_error_free(&err);
		return reply;
	}
	struct proc *p = proc_alloc(m);
	if (p == NULL) {
		oci_process_free(process);
		return veil_ctl_error_reply("too many processes in the container");
	}
	snprintf(p->exec_id, sizeof(p->exec_id), "%s", exec_id);
	memcpy(p->fds, fds, sizeof(p->fds));
	fds[0] = fds[1] = fds[2] = -1;
	p->conn = conn;
	veil_relay_init(&p->relay, &m->sb.agent, m->sb.id, p->exec_id, process->terminal, p->fds[0], p->fds[1],
			p->fds[2]);
	int rc = exec_process(m, p, process, &err);
	oci_process_free(process);
	if (rc < 0) {
		json_object *reply = veil_ctl_error_reply(err->msg);
		veil_error_free(&err);
		proc_release(m, p);
		return reply;
	}
	return veil_ctl_ok_reply();
}

/* The container's processes as the guest sees them, as Kata's shim lists
 * them: their pids are the guest's. Created, not started: none yet. */
/* PS: the host processes that stand for the container's, which runc's ps
 * --format json lists and callers pair with the host's ps(1) (docker top):
 * this monitor, the VM's process, the exec clients attached. Then, while it
 * runs, the container's processes in the guest, as the guest sees them. */
static json_object *handle_ps(struct monitor *m)
{
	static struct veil_monitor_reply reply;
	memset(&reply, 0, sizeof(reply));
	reply.pids[reply.n_pids++] = getpid();
	if (m->sb.vm.pid > 0)
		reply.pids[reply.n_pids++] = m->sb.vm.pid;
	for (int i = INIT + 1; i < MAX_PROCS; i++) {
		struct proc *p = &m->procs[i];
		if (p->used && !p->relay.exited && p->conn >= 0 && m->conns[p->conn].fd >= 0)
			reply.pids[reply.n_pids++] = m->conns[p->conn].peer;
	}
	snprintf(reply.status, sizeof(reply.status), "%s", status_names[m->status]);
	if (m->status != RUNNING)
		return veil_monitor_reply_encode(&reply);
	Veil__Agent__V1__ListProcessesResponse *list = NULL;
	veil_err_t err = NULL;
	if (veil_agent_list_processes(&m->sb.agent, m->sb.id, m->sb.request_timeout_ms, &list, &err) < 0) {
		json_object *r = veil_ctl_error_reply(err->msg);
		veil_error_free(&err);
		return r;
	}
	for (size_t i = 0; i < list->n_processes && reply.n_processes < VEIL_MONITOR_MAX_PROCESSES; i++) {
		const Veil__Agent__V1__ProcessInfo *p = list->processes[i];
		struct veil_monitor_process *out = &reply.processes[reply.n_processes++];
		*out = (struct veil_monitor_process){ .pid = (pid_t)p->pid, .ppid = (pid_t)p->ppid, .uid = p->uid,
						      .cpu_ticks = p->cpu_ticks };
		snprintf(out->cmd, sizeof(out->cmd), "%s", p->cmdline[0] != '\0' ? p->cmdline : p->comm);
	}
	protobuf_c_message_free_unpacked(&list->base, NULL);
	return veil_monitor_reply_encode(&reply);
}

static json_object *handle_request(struct monitor *m, int conn, const struct veil_monitor_request *req,
				   int fds[VEIL_CTL_MAX_FDS])
{
	switch (req->op) {
	case VEIL_MONITOR_STATE: {
		struct veil_monitor_reply reply = { 0 };
		snprintf(reply.status, sizeof(reply.status), "%s", status_names[m->status]);
		return veil_monitor_reply_encode(&reply);
	}
	case VEIL_MONITOR_START: {
		if (m->status != CREATED)
			return veil_ctl_error_reply(m->status == STOPPED ? "cannot start a container that has stopped"
									 : "cannot start an already running container");
		veil_err_t err = NULL;
		if (start_init(m, &err) < 0) {
			json_object *reply = veil_ctl_error_reply(err->msg);
			veil_error_free(&err);
			stop(m, (struct veil_exit_status){ .exit_code = 1 });
			return reply;
		}
		return veil_ctl_ok_reply();
	}
	case VEIL_MONITOR_KILL:
		return handle_kill(m, req);
	case VEIL_MONITOR_PAUSE:
	case VEIL_MONITOR_RESUME:
		return handle_vm_state(m, req->op == VEIL_MONITOR_PAUSE);
	case VEIL_MONITOR_EXEC:
		return handle_exec(m, conn, req, fds);
	case VEIL_MONITOR_RESIZE: {
		struct proc *p = proc_find(m, req->exec_id);
		if (p != NULL)
			veil_relay_resize(&p->relay);
		return veil_ctl_ok_reply();
	}
	case VEIL_MONITOR_PS:
		return handle_ps(m);
	}
	return veil_ctl_error_reply("unknown request");
}

/* ---- control connections ---- */

static void conn_close(struct monitor *m, int i)
{
	close(m->conns[i].fd);
	m->conns[i].fd = -1;
	for (int p = 0; p < MAX_PROCS; p++)
		if (m->procs[p].used && m->procs[p].conn == i)
			m->procs[p].conn = -1;
}

static void accept_conn(struct monitor *m)
{
	veil_err_t err = NULL;
	pid_t peer;
	int fd = veil_ctl_accept(m->listen_fd, &peer, &err);
	if (fd < 0) {
		log_warn("%s", err->msg);
		veil_error_free(&err);
		return;
	}
	for (int i = 0; i < MAX_CONNS; i++) {
		if (m->conns[i].fd < 0) {
			m->conns[i] = (struct conn){ .fd = fd, .peer = peer };
			return;
		}
	}
	log_warn("too many control connections; refusing pid %d", peer);
	close(fd);
}

static void serve_conn(struct monitor *m, int i)
{
	json_object *req = NULL;
	int fds[VEIL_CTL_MAX_FDS];
	veil_err_t err = NULL;
	if (veil_ctl_recv(m->conns[i].fd, &req, fds, 0, &err) < 0 || req == NULL) {
		if (err != NULL)
			log_warn("control: %s", err->msg);
		veil_error_free(&err);
		conn_close(m, i);
		return;
	}
	struct veil_monitor_request request;
	json_object *reply;
	if (veil_monitor_request_decode(req, &request, &err) < 0) {
		reply = veil_ctl_error_reply(err->msg);
		veil_error_free(&err);
	} else {
		reply = handle_request(m, i, &request, fds);
	}
	for (int f = 0; f < VEIL_CTL_MAX_FDS; f++)
		if (fds[f] >= 0)
			close(fds[f]);
	if (m->conns[i].fd >= 0 && veil_ctl_send(m->conns[i].fd, reply, NULL, 0, &err) < 0) {
		veil_error_free(&err);
		conn_close(m, i);
	}
	json_object_put(reply);
	json_object_put(req);
}

/* ---- signals ---- */

static void take_signal(struct monitor *m)
{
	struct signalfd_siginfo si;
	if (read(m->o->signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	int sig = (int)si.ssi_signo;
	if (sig == SIGWINCH) {
		veil_relay_resize(&m->procs[INIT].relay);
		return;
	}
	if (m->status == RUNNING || m->status == PAUSED) {
		log_debug("forwarding signal %d to container %s", sig, m->o->id);
		veil_relay_signal(&m->procs[INIT].relay, sig, false);
	} else if (m->status == CREATED) {
		stop(m, (struct veil_exit_status){ .signal = sig });
	}
}

/* ---- the loop ---- */

enum { PFD_AGENT, PFD_VM, PFD_FS, PFD_SIGNAL, PFD_LISTEN, PFD_CONNS, PFD_STDIN = PFD_CONNS + MAX_CONNS,
       PFD_COUNT = PFD_STDIN + MAX_PROCS };

static int loop_once(struct monitor *m, veil_err_t *err)
{
	struct pollfd pfds[PFD_COUNT];
	pfds[PFD_AGENT] = (struct pollfd){ .fd = m->sb.agent.fd, .events = POLLIN };
	pfds[PFD_VM] = (struct pollfd){ .fd = m->sb.vm.pidfd, .events = POLLIN };
	pfds[PFD_FS] = (struct pollfd){ .fd = m->sb.virtiofsd.pidfd, .events = POLLIN };
	pfds[PFD_SIGNAL] = (struct pollfd){ .fd = m->o->signal_fd, .events = POLLIN };
	pfds[PFD_LISTEN] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
	for (int i = 0; i < MAX_CONNS; i++)
		pfds[PFD_CONNS + i] = (struct pollfd){ .fd = m->conns[i].fd, .events = POLLIN };
	for (int i = 0; i < MAX_PROCS; i++) {
		struct proc *p = &m->procs[i];
		/* A frozen guest cannot take input; leave it in the pipe. */
		int fd = p->used && m->status == RUNNING ? veil_relay_stdin_fd(&p->relay) : -1;
		pfds[PFD_STDIN + i] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	if (poll(pfds, PFD_COUNT, -1) < 0)
		return errno == EINTR ? 0 : veil_fail(err, errno, "poll");

	if (pfds[PFD_AGENT].revents & (POLLIN | POLLHUP | POLLERR)) {
		if (veil_sandbox_pump(&m->sb, err) < 0)
			return -1;
	} else if (pfds[PFD_VM].revents & POLLIN) {
		return veil_fail(err, 0, "the VM exited while the container was running");
	}
	/* The guest's requests to a daemon that is gone would wait forever. */
	if ((pfds[PFD_FS].revents & POLLIN) && veil_virtiofsd_check(&m->sb.virtiofsd, err) < 0)
		return veil_fail_context(err, "the container's shared tree is gone");
	if (pfds[PFD_SIGNAL].revents & POLLIN)
		take_signal(m);
	if (m->done)
		return 0;
	if (pfds[PFD_LISTEN].revents & POLLIN)
		accept_conn(m);
	for (int i = 0; i < MAX_CONNS && !m->done; i++)
		if (m->conns[i].fd >= 0 && (pfds[PFD_CONNS + i].revents & (POLLIN | POLLHUP | POLLERR)))
			serve_conn(m, i);
	for (int i = 0; i < MAX_PROCS && !m->done; i++) {
		struct proc *p = &m->procs[i];
		if (p->used && (pfds[PFD_STDIN + i].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    veil_relay_forward_stdin(&p->relay, err) < 0)
			return -1;
	}
	return 0;
}

/* Exit statuses that arrived: execs are reported to their clients, the init ends the container. */
static void reap(struct monitor *m)
{
	for (int i = INIT + 1; i < MAX_PROCS; i++) {
		struct proc *p = &m->procs[i];
		if (p->used && p->relay.exited) {
			notify_exit(m, p);
			proc_release(m, p);
		}
	}
	if (m->procs[INIT].relay.exited)
		stop(m, m->procs[INIT].relay.status);
}

static void report_ready(const struct veil_monitor_opts *o, const char *error)
{
	if (o->creator_fd < 0)
		return;
	char msg[1100];
	int n = snprintf(msg, sizeof(msg), "%s%s\n", error ? "error: " : "ok", error ? error : "");
	(void)!write(o->creator_fd, msg, (size_t)n);
}

/* Until the creator has recorded us (pid file, state), dying with it is what
 * keeps a killed `veil create` from leaving a VM behind. The creator waits
 * for our confirmation, so it cannot exit before we stop dying with it. */
static void release_from_creator(const struct veil_monitor_opts *o)
{
	if (o->creator_fd < 0)
		return;
	char byte;
	ssize_t n;
	do
		n = read(o->creator_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1) {
		prctl(PR_SET_PDEATHSIG, 0);
		(void)!write(o->creator_fd, "r", 1);
	}
	close(o->creator_fd);
}

static int write_state(struct monitor *m, veil_err_t *err)
{
	veil_rfc3339_now(m->created, sizeof(m->created));
	struct veil_state s = monitor_state(m);
	return veil_state_write(m->o->root, &s, err);
}

/* The host cgroup, where podman's and the kubelet's accounting look: the
 * container's memory limit becomes the VM's memory plus QEMU's own overhead,
 * its CPU quota the whole VM's. */
static int join_host_cgroup(struct monitor *m, pid_t pid, veil_err_t *err)
{
	const struct veil_monitor_opts *o = m->o;
	if (o->cgroup_path == NULL)
		return 0;
	const struct oci_resources *r = &o->spec->resources;
	uint32_t memory_mib = veil_sandbox_memory_mib(o->cfg, o->spec);
	struct veil_cgroup_limits limits = {
		.memory_bytes = r->memory_limit > 0 ? ((int64_t)memory_mib + o->cfg->qemu.memory_overhead) << 20 : 0,
		.cpu_quota_us = r->cpu_quota > 0 ? r->cpu_quota : 0,
		.cpu_period_us = r->cpu_period,
	};
	struct veil_cgroup_hierarchy h[VEIL_CGROUP_HIERARCHIES_MAX];
	size_t n;
	if (veil_cgroup_hierarchies(h, VEIL_CGROUP_HIERARCHIES_MAX, &n, err) < 0)
		return -1;
	return veil_cgroup_enter(h, n, o->cgroup_path, pid, &limits, err);
}

static int create(struct monitor *m, veil_err_t *err)
{
	const struct veil_monitor_opts *o = m->o;
	const struct oci_spec *spec = o->spec;
	/* The monitor first: a QEMU it boots is born in the cgroup and the netns. */
	if (write_state(m, err) < 0 || join_host_cgroup(m, getpid(), err) < 0 || enter_new_netns(spec, err) < 0)
		return -1;
	const struct veil_sandbox_opts sandbox = {
		.id = o->id, .spec = spec, .rootfs = o->rootfs, .memory_limit = spec->resources.memory_limit,
		.cpu_quota = spec->resources.cpu_quota, .cpu_period = spec->resources.cpu_period, .signal_fd = o->signal_fd,
	};
	if (veil_sandbox_create(&m->sb, o->cfg, o->root, &sandbox, err) < 0)
		return -1;
	/* A VM from the factory was born elsewhere. */
	if (join_host_cgroup(m, m->sb.vm.pid, err) < 0)
		return -1;
	/* Where podman cp looks for a running container's files. */
	veil_err_t view_err = NULL;
	if (m->sb.volumes.shared && veil_view_enter(o->rootfs, spec, &m->sb.volumes, m->sb.dir, &view_err) < 0) {
		log_warn("container %s: %s", o->id, view_err->msg);
		veil_error_free(&view_err);
	}
	struct proc *init = &m->procs[INIT];
	init->used = true;
	init->conn = -1;
	init->fds[0] = init->fds[1] = init->fds[2] = -1;
	veil_relay_init(&init->relay, &m->sb.agent, m->sb.id, "", spec->process->terminal, o->stdio[0], o->stdio[1],
			o->stdio[2]);
	m->sock_path = veil_state_file(o->root, o->id, "monitor.sock");
	if ((m->listen_fd = veil_ctl_listen(m->sock_path, err)) < 0)
		return -1;
	m->status = CREATED;
	if (run_hooks(m, "createRuntime", spec->hooks_create_runtime, spec->n_create_runtime, err) < 0 ||
	    run_hooks(m, "createContainer", spec->hooks_create_container, spec->n_create_container, err) < 0 ||
	    run_hooks(m, "prestart", spec->hooks_prestart, spec->n_prestart, err) < 0)
		return -1;
	return 0;
}

int veil_monitor_run(const struct veil_monitor_opts *o, veil_err_t *err)
{
	struct monitor m = { .o = o, .listen_fd = -1 };
	veil_vm_init(&m.sb.vm);
	veil_agent_client_init(&m.sb.agent, -1, -1, -1);
	for (int i = 0; i < MAX_CONNS; i++)
		m.conns[i].fd = -1;

	int rc = create(&m, err);
	if (rc == 0 && o->start_now)
		rc = start_init(&m, err);
	else if (rc == 0)
		veil_trace_phase("created"); /* until `veil start` */
	report_ready(o, rc < 0 ? (*err)->msg : NULL);
	if (rc < 0) {
		veil_sandbox_destroy(&m.sb);
		goto out;
	}
	release_from_creator(o);

	while (!m.done) {
		veil_err_t loop_err = NULL;
		if (loop_once(&m, &loop_err) < 0) {
			log_error("container %s: %s", o->id, loop_err->msg);
			veil_error_free(&loop_err);
			stop(&m, (struct veil_exit_status){ .signal = SIGKILL });
			break;
		}
		reap(&m);
	}
	rc = veil_exit_status_code(&m.init_status);
out:
	for (int i = 0; i < MAX_CONNS; i++)
		if (m.conns[i].fd >= 0)
			close(m.conns[i].fd);
	if (m.listen_fd >= 0) {
		close(m.listen_fd);
		unlink(m.sock_path);
	}
	free(m.sock_path);
	return rc;
}
