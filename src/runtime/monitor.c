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

#include "attest/initdata.h"
#include "hv/tee.h"
#include "lib/cleanup.h"
#include "lib/control.h"
#include "lib/host_cgroup.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/trace.h"
#include "runtime/hooks.h"
#include "runtime/confidential.h"
#include "runtime/join.h"
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

/* A container in the monitor's VM: the monitor's own (ctrs[0]), or one that
 * joined it (runtime/join.h), whose own monitor is a stand-in process: its
 * `veil create` claimed the ID, the stand-in's pid is the container's, and
 * this monitor serves the container's control socket. */
struct ctr {
	char *id;
	char *bundle;
	char *rootfs;
	const struct oci_spec *spec;
	struct oci_spec joined_spec; /* a joined container's, loaded from its bundle */
	enum status status;
	struct proc procs[MAX_PROCS];
	struct veil_exit_status init_status;
	char created[64];   /* RFC 3339, as written to state.json */
	int listen_fd;
	char *sock_path;
	bool joined;        /* in the VM of ctrs[0]; the strings and joined_spec are owned */
	int standin;        /* a joined container's stand-in's connection, -1 once closed */
};

struct conn {
	int fd;             /* -1 when free */
	pid_t peer;
	struct ctr *c;      /* the container whose socket it came in on */
};

struct monitor {
	const struct veil_monitor_opts *o;
	struct veil_sandbox sb;
	struct ctr *ctrs[VEIL_SANDBOX_MAX_CONTAINERS]; /* [0]: the own container; NULL: free */
	struct conn conns[MAX_CONNS];
	bool vm_paused;     /* the whole VM is stopped, not a container frozen in it */
	bool done;
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

static struct proc *proc_alloc(struct ctr *c)
{
	for (int i = INIT + 1; i < MAX_PROCS; i++) {
		if (!c->procs[i].used) {
			struct proc *p = &c->procs[i];
			memset(p, 0, sizeof(*p));
			p->used = true;
			p->conn = -1;
			p->fds[0] = p->fds[1] = p->fds[2] = -1;
			return p;
		}
	}
	return NULL;
}

static struct proc *proc_find(struct ctr *c, const char *exec_id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (c->procs[i].used && strcmp(c->procs[i].exec_id, exec_id) == 0)
			return &c->procs[i];
	return NULL;
}

/* The init's slot, its relay on the container's stdio (fds owned by the slot if owned). */
static void init_proc(struct monitor *m, struct ctr *c, const int stdio[3], bool owned)
{
	struct proc *init = &c->procs[INIT];
	init->used = true;
	init->conn = -1;
	for (int i = 0; i < 3; i++)
		init->fds[i] = owned ? stdio[i] : -1;
	veil_relay_init(&init->relay, &m->sb.agent, c->id, "", c->spec->process->terminal, stdio[0], stdio[1], stdio[2]);
}

static int exec_process(struct monitor *m, struct ctr *c, struct proc *p, const struct oci_process *process,
			veil_err_t *err)
{
	/* An exec inherits what its process.json leaves out from the container's process. */
	const struct oci_process *init = c->spec->process;
	if (veil_sandbox_exec(&m->sb, &p->relay, process, process == init ? NULL : init, err) < 0)
		return -1;
	if (process->terminal)
		veil_relay_resize(&p->relay);
	return 0;
}

static void send_exit(struct monitor *m, int conn, const struct veil_exit_status *st)
{
	if (conn < 0 || m->conns[conn].fd < 0)
		return;
	json_object *msg = veil_monitor_exit_encode(st);
	veil_err_t err = NULL;
	if (veil_ctl_send(m->conns[conn].fd, msg, NULL, 0, &err) < 0)
		veil_error_free(&err);
	json_object_put(msg);
}

static void notify_exit(struct monitor *m, struct proc *p)
{
	send_exit(m, p->conn, &p->relay.status);
}

/* ---- lifecycle ---- */

/* The container's state as state.json records it; strings are borrowed. */
static struct veil_state ctr_state(struct monitor *m, struct ctr *c)
{
	pid_t pid = !c->joined ? getpid() : c->standin >= 0 ? m->conns[c->standin].peer : 0;
	return (struct veil_state){
		.id = c->id, .bundle = c->bundle, .rootfs = c->rootfs, .created = c->created, .pid = pid,
		.pid_start = veil_process_start_time(pid), .annotations = c->spec->annotations,
		.cgroup_path = !c->joined ? (char *)m->o->cgroup_path : NULL,
	};
}

static void state_json_text(struct monitor *m, struct ctr *c, const char *status, char **out)
{
	struct veil_state s = ctr_state(m, c);
	json_object *o = veil_state_oci_json(&s, status);
	*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int run_hooks(struct monitor *m, struct ctr *c, const char *stage, const struct oci_hook *hooks, size_t n,
		     veil_err_t *err)
{
	if (n == 0)
		return 0;
	cleanup_free char *state = NULL;
	state_json_text(m, c, status_names[c->status], &state);
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

static int start_init(struct monitor *m, struct ctr *c, veil_err_t *err)
{
	bool own = !c->joined;
	if (own)
		warn_unconnected_interfaces(m);
	struct proc *init = &c->procs[INIT];
	if (own)
		veil_trace_phase("start");
	if (exec_process(m, c, init, c->spec->process, err) < 0)
		return veil_fail_context(err, "starting the container process");
	if (own)
		veil_trace_phase("first_output");
	c->status = RUNNING;
	/* OCI: a failing poststart hook is logged; the container keeps running. */
	veil_err_t hook_err = NULL;
	if (run_hooks(m, c, "poststart", c->spec->hooks_poststart, c->spec->n_poststart, &hook_err) < 0)
		log_warn("%s", hook_err->msg);
	veil_error_free(&hook_err);
	return 0;
}

static void ctr_free(struct ctr *c)
{
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->sock_path);
	}
	free(c->sock_path);
	if (c->joined) {
		oci_spec_free(&c->joined_spec);
		free(c->id);
		free(c->bundle);
		free(c->rootfs);
	}
	free(c);
}

/* Every process of c is reported gone with status (the init's to its
 * stand-in, if it joined the VM). */
static void ctr_stopped(struct monitor *m, struct ctr *c, struct veil_exit_status status)
{
	c->init_status = status;
	c->status = STOPPED;
	veil_state_mark_stopped(m->o->root, c->id);
	for (int i = INIT + 1; i < MAX_PROCS; i++) {
		struct proc *p = &c->procs[i];
		if (!p->used)
			continue;
		if (!p->relay.exited) {
			p->relay.exited = true;
			p->relay.status = (struct veil_exit_status){ .signal = SIGKILL };
		}
		notify_exit(m, p);
		proc_release(m, p);
	}
	if (c->procs[INIT].used)
		proc_release(m, &c->procs[INIT]);
	send_exit(m, c->standin, &status);
}

/* A joined container is over: gone from the guest; the VM and the other
 * containers go on. Its connections are answered, then closed by sweep. */
static void leave(struct monitor *m, struct ctr *c, struct veil_exit_status status)
{
	ctr_stopped(m, c, status);
	veil_err_t err = NULL;
	if (veil_sandbox_remove_container(&m->sb, c->id, &err) < 0) {
		log_warn("container %s: %s", c->id, err->msg);
		veil_error_free(&err);
	}
}

static void conn_close(struct monitor *m, int i);

/* Joined containers that are over are forgotten, with their connections. */
static void sweep(struct monitor *m)
{
	for (size_t k = 1; k < VEIL_SANDBOX_MAX_CONTAINERS; k++) {
		struct ctr *c = m->ctrs[k];
		if (c == NULL || c->status != STOPPED)
			continue;
		for (int i = 0; i < MAX_CONNS; i++)
			if (m->conns[i].fd >= 0 && m->conns[i].c == c)
				conn_close(m, i);
		m->ctrs[k] = NULL;
		ctr_free(c);
	}
}

/* The own container is over: every container is reported gone (the joined
 * ones killed) and the VM goes with them. */
static void stop(struct monitor *m, struct veil_exit_status status)
{
	if (m->done)
		return;
	/* The exit is reported: what follows is teardown. */
	veil_trace_rename_phase("first_output", "exit");
	veil_trace_phase("teardown");
	for (size_t i = 1; i < VEIL_SANDBOX_MAX_CONTAINERS; i++)
		if (m->ctrs[i] != NULL)
			ctr_stopped(m, m->ctrs[i], (struct veil_exit_status){ .signal = SIGKILL });
	ctr_stopped(m, m->ctrs[0], status);
	veil_sandbox_release(&m->sb, m->o->cfg);
	m->done = true;
}

static void end(struct monitor *m, struct ctr *c, struct veil_exit_status status)
{
	if (c == m->ctrs[0])
		stop(m, status);
	else
		leave(m, c, status);
}

static size_t joined_count(const struct monitor *m)
{
	size_t n = 0;
	for (size_t i = 1; i < VEIL_SANDBOX_MAX_CONTAINERS; i++)
		n += m->ctrs[i] != NULL;
	return n;
}

static json_object *error_reply(veil_err_t *err)
{
	json_object *reply = veil_ctl_error_reply((*err)->msg);
	veil_error_free(err);
	return reply;
}

static json_object *handle_kill(struct monitor *m, struct ctr *c, const struct veil_monitor_request *req)
{
	int sig = req->signal;
	bool all = req->all;
	const char *exec_id = req->exec_id;
	struct proc *p = proc_find(c, exec_id);
	if (p == NULL)
		return veil_ctl_error_reply("no such process");
	/* A container whose process has not started, or whose VM is frozen, ends with the VM. */
	if (c->status == CREATED || (c->status == PAUSED && sig == SIGKILL && exec_id[0] == '\0')) {
		end(m, c, (struct veil_exit_status){ .signal = sig });
		return veil_ctl_ok_reply();
	}
	if (c->status == PAUSED || exec_id[0] != '\0') {
		/* Delivered when the guest runs again; never block on a frozen guest. */
		veil_relay_signal(&p->relay, sig, all);
		return veil_ctl_ok_reply();
	}
	veil_err_t err = NULL;
	if (veil_agent_signal(&m->sb.agent, c->id, exec_id, sig, all, m->sb.request_timeout_ms, &err) < 0)
		return error_reply(&err);
	return veil_ctl_ok_reply();
}

/* The VM is paused whole while it holds the own container alone; a
 * container among others is frozen in the guest, and the rest run on. */
static json_object *handle_pause(struct monitor *m, struct ctr *c, bool pause)
{
	enum status from = pause ? RUNNING : PAUSED;
	if (c->status != from)
		return veil_ctl_error_reply(pause ? "container not running" : "container not paused");
	veil_err_t err = NULL;
	const struct veil_hypervisor *hv = m->sb.vm.hv;
	bool whole_vm = pause ? c == m->ctrs[0] && joined_count(m) == 0 : m->vm_paused;
	int rc;
	if (whole_vm)
		rc = pause ? hv->pause(&m->sb.vm, &err) : hv->resume(&m->sb.vm, &err);
	else
		rc = veil_agent_freeze_container(&m->sb.agent, c->id, pause, m->sb.request_timeout_ms, &err);
	if (rc < 0)
		return error_reply(&err);
	c->status = pause ? PAUSED : RUNNING;
	if (whole_vm)
		m->vm_paused = pause;
	/* The guest's clock stood still while the VM was stopped: Hello, marked
	 * resumed, lets it catch up (and reseeds its RNG). */
	if (!pause && whole_vm && veil_agent_hello(&m->sb.agent, m->sb.request_timeout_ms, &err) < 0) {
		log_warn("container %s: the guest's clock was not resynchronised after resume: %s", m->sb.id, err->msg);
		veil_error_free(&err);
	}
	return veil_ctl_ok_reply();
}

static json_object *handle_exec(struct monitor *m, struct ctr *c, int conn, const struct veil_monitor_request *req,
				int fds[VEIL_CTL_MAX_FDS])
{
	const char *exec_id = req->exec_id;
	veil_err_t err = NULL;
	if (c->status != RUNNING)
		return veil_ctl_error_reply("cannot exec in a container that is not running");
	if (exec_id[0] == '\0' || veil_validate_id(exec_id, &err) < 0 || proc_find(c, exec_id) != NULL) {
		veil_error_free(&err);
		return veil_ctl_error_reply("invalid or duplicate exec id");
	}
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
		return veil_ctl_error_reply("exec needs three stdio fds");
	struct oci_process *process = NULL;
	if (oci_process_from_json(req->process, &process, &err) < 0)
		return error_reply(&err);
	struct proc *p = proc_alloc(c);
	if (p == NULL) {
		oci_process_free(process);
		return veil_ctl_error_reply("too many processes in the container");
	}
	snprintf(p->exec_id, sizeof(p->exec_id), "%s", exec_id);
	memcpy(p->fds, fds, sizeof(p->fds));
	fds[0] = fds[1] = fds[2] = -1;
	p->conn = conn;
	veil_relay_init(&p->relay, &m->sb.agent, c->id, p->exec_id, process->terminal, p->fds[0], p->fds[1],
			p->fds[2]);
	int rc = exec_process(m, c, p, process, &err);
	oci_process_free(process);
	if (rc < 0) {
		proc_release(m, p);
		return error_reply(&err);
	}
	return veil_ctl_ok_reply();
}

/* PS: the host processes that stand for the container's, which runc's ps
 * --format json lists and callers pair with the host's ps(1) (docker top):
 * its monitor (a joined container's stand-in), the VM's process (with the
 * VM's own container), the exec clients attached. Then, while it runs, the
 * container's processes in the guest, as the guest sees them. */
static json_object *handle_ps(struct monitor *m, struct ctr *c)
{
	static struct veil_monitor_reply reply;
	memset(&reply, 0, sizeof(reply));
	reply.pids[reply.n_pids++] = ctr_state(m, c).pid;
	if (!c->joined && m->sb.vm.pid > 0)
		reply.pids[reply.n_pids++] = m->sb.vm.pid;
	for (int i = INIT + 1; i < MAX_PROCS; i++) {
		struct proc *p = &c->procs[i];
		if (p->used && !p->relay.exited && p->conn >= 0 && m->conns[p->conn].fd >= 0)
			reply.pids[reply.n_pids++] = m->conns[p->conn].peer;
	}
	snprintf(reply.status, sizeof(reply.status), "%s", status_names[c->status]);
	if (c->status != RUNNING)
		return veil_monitor_reply_encode(&reply);
	Veil__Agent__V1__ListProcessesResponse *list = NULL;
	veil_err_t err = NULL;
	if (veil_agent_list_processes(&m->sb.agent, c->id, m->sb.request_timeout_ms, &list, &err) < 0)
		return error_reply(&err);
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

/* ---- joining containers ---- */

static struct ctr *ctr_new(void)
{
	struct ctr *c = calloc(1, sizeof(*c));
	if (c == NULL)
		abort();
	c->listen_fd = -1;
	c->standin = -1;
	return c;
}

static const char *annotation(const struct oci_spec *spec, const char *key)
{
	json_object *v = NULL;
	if (spec->annotations != NULL && json_object_object_get_ex(spec->annotations, key, &v))
		return json_object_get_string(v);
	return "";
}

/* What the own container's VM was launched with must be the joining one's:
 * a confidential VM's init-data is measured into its attestation. Secrets
 * are fetched for the VM's own container only. */
static int check_confidential(const struct oci_spec *own, const struct oci_spec *other, const char *own_id,
			      veil_err_t *err)
{
	static const char *const init_data[] = { VEIL_INITDATA_ANNOTATION, VEIL_ANNOTATION_INIT_DATA };
	for (size_t i = 0; i < sizeof(init_data) / sizeof(init_data[0]); i++)
		if (strcmp(annotation(own, init_data[i]), annotation(other, init_data[i])) != 0)
			return veil_fail(err, 0,
					 "the VM of container %s was launched with other init-data (%s) than this container's: "
					 "a confidential VM is joined only with the same",
					 own_id, init_data[i]);
	if (other->annotations == NULL)
		return 0;
	json_object_object_foreach(other->annotations, key, value)
	{
		(void)value;
		if (strncmp(key, VEIL_ANNOTATION_SECRET_PREFIX, strlen(VEIL_ANNOTATION_SECRET_PREFIX)) == 0)
			return veil_fail(err, 0,
					 "annotation %s: secrets are fetched for the VM's own container (%s), not for one "
					 "that joins it",
					 key, own_id);
	}
	return 0;
}

/* The container the request names, created in this VM; on failure nothing
 * of it is left (its state directory is its `veil create`'s). */
static int join(struct monitor *m, struct ctr *c, const struct veil_monitor_request *req, veil_err_t *err)
{
	struct ctr *own = m->ctrs[0];
	if (own->status == STOPPED)
		return veil_fail(err, 0, "container %s has stopped", own->id);
	if (m->vm_paused)
		return veil_fail(err, 0, "the VM of container %s is paused", own->id);
	size_t slot = 1;
	while (slot < VEIL_SANDBOX_MAX_CONTAINERS && m->ctrs[slot] != NULL)
		slot++;
	if (slot == VEIL_SANDBOX_MAX_CONTAINERS)
		return veil_fail(err, 0, "at most %d containers per VM", VEIL_SANDBOX_MAX_CONTAINERS);
	if (veil_validate_id(req->container_id, err) < 0)
		return -1;
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_CONTAINERS; i++)
		if (m->ctrs[i] != NULL && strcmp(m->ctrs[i]->id, req->container_id) == 0)
			return veil_fail(err, 0, "container with id exists: %s", req->container_id);
	if ((c->id = strdup(req->container_id)) == NULL || (c->bundle = strdup(req->bundle)) == NULL)
		return veil_fail(err, ENOMEM, "container %s", req->container_id);
	if (oci_spec_load_bundle(c->bundle, &c->joined_spec, err) < 0)
		return -1;
	c->spec = &c->joined_spec;
	if (c->spec->process == NULL)
		return veil_fail(err, 0, "config.json: process is required to run a container");
	if ((c->rootfs = oci_spec_rootfs_path(c->spec, c->bundle)) == NULL)
		return veil_fail(err, ENOMEM, "rootfs path");
	/* Its namespace paths are judged again here, where they must name this monitor. */
	struct veil_join j;
	if (veil_join_find(m->o->root, &c->joined_spec, &j, err) < 0)
		return -1;
	if (strcmp(j.owner, own->id) != 0)
		return veil_fail(err, 0, "container %s names no namespace of container %s", c->id, own->id);
	if (check_confidential(own->spec, c->spec, own->id, err) < 0)
		return -1;
	/* Its own monitor stand-in wrote state.json; the control socket is served here. */
	veil_rfc3339_now(c->created, sizeof(c->created));
	if ((c->sock_path = veil_state_file(m->o->root, c->id, "monitor.sock")) == NULL)
		return veil_fail(err, ENOMEM, "monitor socket path");
	const struct veil_joined_namespaces shared = { .container_id = own->id, .types = j.shared, .n_types = j.n_shared };
	if (veil_sandbox_add_container(&m->sb, c->id, c->spec, c->rootfs, &shared, err) < 0)
		return -1;
	if ((c->listen_fd = veil_ctl_listen(c->sock_path, err)) < 0 ||
	    run_hooks(m, c, "createRuntime", c->spec->hooks_create_runtime, c->spec->n_create_runtime, err) < 0 ||
	    run_hooks(m, c, "createContainer", c->spec->hooks_create_container, c->spec->n_create_container, err) < 0 ||
	    run_hooks(m, c, "prestart", c->spec->hooks_prestart, c->spec->n_prestart, err) < 0) {
		veil_err_t rm_err = NULL;
		if (veil_sandbox_remove_container(&m->sb, c->id, &rm_err) < 0)
			veil_error_free(&rm_err);
		return -1;
	}
	m->ctrs[slot] = c;
	return 0;
}

/* JOIN on the own container's socket: from then on the connection is the
 * stand-in's, its requests (forwarded signals) address the new container,
 * and the container's exit status is its last message. */
static json_object *handle_join(struct monitor *m, int conn, const struct veil_monitor_request *req,
				int fds[VEIL_CTL_MAX_FDS])
{
	if (m->conns[conn].c != m->ctrs[0])
		return veil_ctl_error_reply("join: only through the socket of the VM's own container");
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
		return veil_ctl_error_reply("join needs three stdio fds");
	struct ctr *c = ctr_new();
	c->joined = true;
	c->standin = conn;
	veil_err_t err = NULL;
	if (join(m, c, req, &err) < 0) {
		ctr_free(c);
		return error_reply(&err);
	}
	init_proc(m, c, fds, true);
	fds[0] = fds[1] = fds[2] = -1;
	c->status = CREATED;
	m->conns[conn].c = c;
	log_info("container %s: created in the VM of container %s", c->id, m->ctrs[0]->id);
	if (req->start && start_init(m, c, &err) < 0) {
		json_object *reply = error_reply(&err);
		c->standin = -1; /* the error is its answer */
		leave(m, c, (struct veil_exit_status){ .exit_code = 1 });
		return reply;
	}
	return veil_ctl_ok_reply();
}

static json_object *handle_request(struct monitor *m, int conn, const struct veil_monitor_request *req,
				   int fds[VEIL_CTL_MAX_FDS])
{
	struct ctr *c = m->conns[conn].c;
	switch (req->op) {
	case VEIL_MONITOR_STATE: {
		struct veil_monitor_reply reply = { 0 };
		snprintf(reply.status, sizeof(reply.status), "%s", status_names[c->status]);
		return veil_monitor_reply_encode(&reply);
	}
	case VEIL_MONITOR_START: {
		if (c->status != CREATED)
			return veil_ctl_error_reply(c->status == STOPPED ? "cannot start a container that has stopped"
									 : "cannot start an already running container");
		veil_err_t err = NULL;
		if (start_init(m, c, &err) < 0) {
			json_object *reply = error_reply(&err);
			end(m, c, (struct veil_exit_status){ .exit_code = 1 });
			return reply;
		}
		return veil_ctl_ok_reply();
	}
	case VEIL_MONITOR_KILL:
		return handle_kill(m, c, req);
	case VEIL_MONITOR_PAUSE:
	case VEIL_MONITOR_RESUME:
		return handle_pause(m, c, req->op == VEIL_MONITOR_PAUSE);
	case VEIL_MONITOR_EXEC:
		return handle_exec(m, c, conn, req, fds);
	case VEIL_MONITOR_RESIZE: {
		struct proc *p = proc_find(c, req->exec_id);
		if (p != NULL)
			veil_relay_resize(&p->relay);
		return veil_ctl_ok_reply();
	}
	case VEIL_MONITOR_PS:
		return handle_ps(m, c);
	case VEIL_MONITOR_JOIN:
		return handle_join(m, conn, req, fds);
	}
	return veil_ctl_error_reply("unknown request");
}

/* ---- control connections ---- */

static void conn_close(struct monitor *m, int i)
{
	struct ctr *c = m->conns[i].c;
	close(m->conns[i].fd);
	m->conns[i].fd = -1;
	m->conns[i].c = NULL;
	for (size_t k = 0; k < VEIL_SANDBOX_MAX_CONTAINERS; k++) {
		struct ctr *other = m->ctrs[k];
		for (int p = 0; other != NULL && p < MAX_PROCS; p++)
			if (other->procs[p].used && other->procs[p].conn == i)
				other->procs[p].conn = -1;
	}
	/* The stand-in is the container as its caller sees it: gone, so is the container. */
	if (c != NULL && c->standin == i) {
		c->standin = -1;
		if (c->status != STOPPED) {
			log_warn("container %s: its monitor exited; the container is removed from the VM", c->id);
			leave(m, c, (struct veil_exit_status){ .signal = SIGKILL });
		}
	}
}

static void accept_conn(struct monitor *m, struct ctr *c)
{
	veil_err_t err = NULL;
	pid_t peer;
	int fd = veil_ctl_accept(c->listen_fd, &peer, &err);
	if (fd < 0) {
		log_warn("%s", err->msg);
		veil_error_free(&err);
		return;
	}
	for (int i = 0; i < MAX_CONNS; i++) {
		if (m->conns[i].fd < 0) {
			m->conns[i] = (struct conn){ .fd = fd, .peer = peer, .c = c };
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
	if (veil_monitor_request_decode(req, &request, &err) < 0)
		reply = error_reply(&err);
	else
		reply = handle_request(m, i, &request, fds);
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
	struct ctr *c = m->ctrs[0];
	if (sig == SIGWINCH) {
		veil_relay_resize(&c->procs[INIT].relay);
		return;
	}
	if (c->status == RUNNING || c->status == PAUSED) {
		log_debug("forwarding signal %d to container %s", sig, c->id);
		veil_relay_signal(&c->procs[INIT].relay, sig, false);
	} else if (c->status == CREATED) {
		stop(m, (struct veil_exit_status){ .signal = sig });
	}
}

/* ---- the loop ---- */

enum { PFD_AGENT, PFD_VM, PFD_FS, PFD_SIGNAL, PFD_CONNS, PFD_LISTEN = PFD_CONNS + MAX_CONNS,
       PFD_STDIN = PFD_LISTEN + VEIL_SANDBOX_MAX_CONTAINERS,
       PFD_COUNT = PFD_STDIN + VEIL_SANDBOX_MAX_CONTAINERS * MAX_PROCS };

static int loop_once(struct monitor *m, veil_err_t *err)
{
	static struct pollfd pfds[PFD_COUNT];
	pfds[PFD_AGENT] = (struct pollfd){ .fd = m->sb.agent.fd, .events = POLLIN };
	pfds[PFD_VM] = (struct pollfd){ .fd = m->sb.vm.pidfd, .events = POLLIN };
	pfds[PFD_FS] = (struct pollfd){ .fd = m->sb.virtiofsd.pidfd, .events = POLLIN };
	pfds[PFD_SIGNAL] = (struct pollfd){ .fd = m->o->signal_fd, .events = POLLIN };
	for (int i = 0; i < MAX_CONNS; i++)
		pfds[PFD_CONNS + i] = (struct pollfd){ .fd = m->conns[i].fd, .events = POLLIN };
	for (size_t k = 0; k < VEIL_SANDBOX_MAX_CONTAINERS; k++) {
		struct ctr *c = m->ctrs[k];
		pfds[PFD_LISTEN + k] = (struct pollfd){ .fd = c != NULL ? c->listen_fd : -1, .events = POLLIN };
		for (int i = 0; i < MAX_PROCS; i++) {
			struct proc *p = c != NULL ? &c->procs[i] : NULL;
			/* A frozen guest cannot take input; leave it in the pipe. */
			int fd = p != NULL && p->used && c->status == RUNNING ? veil_relay_stdin_fd(&p->relay) : -1;
			pfds[PFD_STDIN + k * MAX_PROCS + i] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
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
	for (size_t k = 0; k < VEIL_SANDBOX_MAX_CONTAINERS; k++)
		if (m->ctrs[k] != NULL && m->ctrs[k]->listen_fd == pfds[PFD_LISTEN + k].fd &&
		    (pfds[PFD_LISTEN + k].revents & POLLIN))
			accept_conn(m, m->ctrs[k]);
	for (int i = 0; i < MAX_CONNS && !m->done; i++)
		if (m->conns[i].fd >= 0 && m->conns[i].fd == pfds[PFD_CONNS + i].fd &&
		    (pfds[PFD_CONNS + i].revents & (POLLIN | POLLHUP | POLLERR)))
			serve_conn(m, i);
	for (size_t k = 0; k < VEIL_SANDBOX_MAX_CONTAINERS && !m->done; k++) {
		for (int i = 0; i < MAX_PROCS && m->ctrs[k] != NULL; i++) {
			struct proc *p = &m->ctrs[k]->procs[i];
			const struct pollfd *pfd = &pfds[PFD_STDIN + k * MAX_PROCS + i];
			if (p->used && pfd->fd >= 0 && pfd->fd == veil_relay_stdin_fd(&p->relay) &&
			    (pfd->revents & (POLLIN | POLLHUP | POLLERR)) && veil_relay_forward_stdin(&p->relay, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* Exit statuses that arrived: execs are reported to their clients, an init
 * ends its container (the own one's, the VM). */
static void reap(struct monitor *m)
{
	for (size_t k = VEIL_SANDBOX_MAX_CONTAINERS; k-- > 0 && !m->done;) {
		struct ctr *c = m->ctrs[k];
		if (c == NULL)
			continue;
		for (int i = INIT + 1; i < MAX_PROCS; i++) {
			struct proc *p = &c->procs[i];
			if (p->used && p->relay.exited) {
				notify_exit(m, p);
				proc_release(m, p);
			}
		}
		if (c->procs[INIT].used && c->procs[INIT].relay.exited)
			end(m, c, c->procs[INIT].relay.status);
	}
}

static void report_ready(int creator_fd, const char *error)
{
	if (creator_fd < 0)
		return;
	char msg[1100];
	int n = snprintf(msg, sizeof(msg), "%s%s\n", error ? "error: " : "ok", error ? error : "");
	(void)!write(creator_fd, msg, (size_t)n);
}

/* Until the creator has recorded us (pid file, state), dying with it is what
 * keeps a killed `veil create` from leaving a VM behind. The creator waits
 * for our confirmation, so it cannot exit before we stop dying with it. */
static void release_from_creator(int creator_fd)
{
	if (creator_fd < 0)
		return;
	char byte;
	ssize_t n;
	do
		n = read(creator_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1) {
		prctl(PR_SET_PDEATHSIG, 0);
		(void)!write(creator_fd, "r", 1);
	}
	close(creator_fd);
}

static int write_state(const struct veil_monitor_opts *o, char *created, size_t len, veil_err_t *err)
{
	veil_rfc3339_now(created, len);
	const struct veil_state s = {
		.id = (char *)o->id, .bundle = (char *)o->bundle, .rootfs = (char *)o->rootfs, .created = created,
		.pid = getpid(), .pid_start = veil_process_start_time(getpid()), .annotations = o->spec->annotations,
		.cgroup_path = (char *)o->cgroup_path,
	};
	return veil_state_write(o->root, &s, err);
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
	struct ctr *c = m->ctrs[0];
	/* The monitor first: a QEMU it boots is born in the cgroup and the netns. */
	if (write_state(o, c->created, sizeof(c->created), err) < 0 || join_host_cgroup(m, getpid(), err) < 0 ||
	    enter_new_netns(spec, err) < 0)
		return -1;
	const struct veil_sandbox_opts sandbox = {
		.id = o->id, .spec = spec, .rootfs = o->rootfs, .memory_limit = spec->resources.memory_limit,
		.cpu_quota = spec->resources.cpu_quota, .cpu_period = spec->resources.cpu_period, .signal_fd = o->signal_fd,
		.pod = veil_join_is_infra(spec), .joinable = true,
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
	init_proc(m, c, o->stdio, false);
	c->sock_path = veil_state_file(o->root, o->id, "monitor.sock");
	if ((c->listen_fd = veil_ctl_listen(c->sock_path, err)) < 0)
		return -1;
	c->status = CREATED;
	if (run_hooks(m, c, "createRuntime", spec->hooks_create_runtime, spec->n_create_runtime, err) < 0 ||
	    run_hooks(m, c, "createContainer", spec->hooks_create_container, spec->n_create_container, err) < 0 ||
	    run_hooks(m, c, "prestart", spec->hooks_prestart, spec->n_prestart, err) < 0)
		return -1;
	return 0;
}

int veil_monitor_run(const struct veil_monitor_opts *o, veil_err_t *err)
{
	struct monitor m = { .o = o };
	veil_vm_init(&m.sb.vm);
	veil_agent_client_init(&m.sb.agent, -1, -1, -1);
	for (int i = 0; i < MAX_CONNS; i++)
		m.conns[i].fd = -1;
	struct ctr *own = m.ctrs[0] = ctr_new();
	own->id = (char *)o->id;
	own->bundle = (char *)o->bundle;
	own->rootfs = (char *)o->rootfs;
	own->spec = o->spec;

	int rc = create(&m, err);
	if (rc == 0 && o->start_now)
		rc = start_init(&m, own, err);
	else if (rc == 0)
		veil_trace_phase("created"); /* until `veil start` */
	report_ready(o->creator_fd, rc < 0 ? (*err)->msg : NULL);
	if (rc < 0) {
		veil_sandbox_destroy(&m.sb);
		goto out;
	}
	release_from_creator(o->creator_fd);

	while (!m.done) {
		veil_err_t loop_err = NULL;
		if (loop_once(&m, &loop_err) < 0) {
			log_error("container %s: %s", o->id, loop_err->msg);
			veil_error_free(&loop_err);
			stop(&m, (struct veil_exit_status){ .signal = SIGKILL });
			break;
		}
		reap(&m);
		sweep(&m);
	}
	rc = veil_exit_status_code(&own->init_status);
out:
	for (int i = 0; i < MAX_CONNS; i++)
		if (m.conns[i].fd >= 0)
			close(m.conns[i].fd);
	for (size_t k = 1; k < VEIL_SANDBOX_MAX_CONTAINERS; k++)
		if (m.ctrs[k] != NULL)
			ctr_free(m.ctrs[k]);
	ctr_free(own);
	return rc;
}

/* ---- a container in another container's VM ---- */

/* The owner created the container: `veil create` may record us and return. */
static void joined(void *arg)
{
	int *creator_fd = arg;
	report_ready(*creator_fd, NULL);
	release_from_creator(*creator_fd);
	*creator_fd = -1;
}

int veil_monitor_join(const struct veil_monitor_opts *o, const struct veil_join *j, veil_err_t *err)
{
	char created[64];
	int creator_fd = o->creator_fd;
	cleanup_free char *sock = veil_state_file(o->root, j->owner, "monitor.sock");
	const struct veil_monitor_request req = {
		.op = VEIL_MONITOR_JOIN, .container_id = o->id, .bundle = o->bundle, .start = o->start_now,
	};
	/* The host cgroup holds the VM's QEMU, which is the owner's. */
	struct veil_monitor_opts standin = *o;
	standin.cgroup_path = NULL;
	int rc = write_state(&standin, created, sizeof(created), err);
	if (rc == 0)
		rc = veil_monitor_client(sock, &req, o->stdio, o->signal_fd, joined, &creator_fd, err);
	if (rc < 0) {
		veil_fail_context(err, "joining the VM of container %s", j->owner);
		report_ready(creator_fd, (*err)->msg);
	}
	return rc;
}
