#include "agent/dispatch.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "agent/cgroup.h"
#include "agent/confidential.h"
#include "agent/channel.h"
#include "agent/container.h"
#include "agent/hello.h"
#include "agent/log.h"
#include "agent/network.h"
#include "agent/ps.h"
#include "agent/rootfs.h"
#include "agent/scrub.h"
#include "agent/spawn.h"
#include "agent/trace.h"
#include "agent/validate.h"
#include "agent/wipe.h"
#include "proto/rpc.h"

/* A WaitProcess whose response is withheld. Keyed by ids rather than by
 * process, so that waiting for an init that has not started yet works. */
struct pending_wait {
	struct pending_wait *next;
	uint32_t stream;
	uint64_t received_ns; /* for its span */
	char container_id[AGENT_ID_MAX + 1];
	char exec_id[AGENT_ID_MAX + 1];
};

/* Each costs memory and a look-up whenever a process changes, and the host
 * chooses how many it sends: at most as many as there can be processes, and
 * a few per process, so that waits for one cannot crowd out the others'. */
#define MAX_PENDING_WAITS (AGENT_MAX_CONTAINERS * AGENT_MAX_PROCESSES)
#define MAX_WAITS_PER_PROCESS 8

static struct pending_wait *waits;
static size_t n_waits;
/* agent_process_changes() when the pending waits were last looked at. */
static unsigned long waits_checked;

/* OOM kills not yet reported to the host, oldest first, and the GetOOMEvent
 * requests waiting for one. Both bounded: a host that never asks loses the
 * oldest kills, one that asks too often is told so. */
#define MAX_OOM_EVENTS 64
#define MAX_OOM_WAITS 8
static char oom_events[MAX_OOM_EVENTS][AGENT_ID_MAX + 1];
static size_t n_oom_events;
static uint32_t oom_waits[MAX_OOM_WAITS];
static size_t n_oom_waits;

/* What a handler answers: code 0 with resp, or an error code with a message. */
struct reply {
	int code;
	veil_err_t err;
	const ProtobufCMessage *resp;
};

/* The answer to the request on stream, method (its name for the trace),
 * which arrived at received_ns. */
static void respond(uint32_t stream, int method, uint64_t received_ns, int code, const char *message,
		    const ProtobufCMessage *resp)
{
	size_t len;
	Veil__Agent__V1__Span **spans;
	size_t n_spans = agent_trace_collect(veil_method_name(method), received_ns, &spans);
	uint8_t *buf = veil_rpc_pack_traced_response(code, message, resp, spans, n_spans, &len);
	if (buf == NULL)
		agent_fatal("cannot pack a response");
	agent_channel_send(VEIL_FRAME_RESPONSE, 0, stream, buf, len);
	/* An error message may quote the request. */
	agent_wipe_free(buf);
}

__attribute__((format(printf, 3, 4))) static int fail(struct reply *r, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->code = code;
	return veil_fail(&r->err, 0, "%s", msg);
}

/* ---- lookups ---- */

static struct agent_container *find_container(const char *id, struct reply *r)
{
	struct agent_container *c = agent_container_find(id);
	if (c == NULL)
		fail(r, VEIL_RPC_NOT_FOUND, "container %s not found", id);
	return c;
}

/* The process a request names, which must have been started. */
static struct agent_process *find_process(const char *container_id, const char *exec_id, struct reply *r)
{
	struct agent_container *c = find_container(container_id, r);
	if (c == NULL)
		return NULL;
	struct agent_process *p = agent_container_process(c, exec_id);
	if (p == NULL && exec_id[0] == '\0')
		fail(r, VEIL_RPC_FAILED_PRECONDITION, "container %s has not been started", container_id);
	else if (p == NULL)
		fail(r, VEIL_RPC_NOT_FOUND, "process %s not found", exec_id);
	return p;
}

/* Whether p still claims stream id s; a process whose exit was reported and
 * whose streams are closed gives its ids back. */
static bool holds_stream(const struct agent_process *p, uint32_t s)
{
	if (p->delivered && agent_process_done(p))
		return false;
	return p->in.stream == s || p->out[0].stream == s || p->out[1].stream == s;
}

static struct agent_process *stream_owner(uint32_t s)
{
	for (struct agent_container *c = agent_container_first(); c != NULL; c = c->next)
		for (struct agent_process *p = c->processes; p != NULL; p = p->next)
			if (holds_stream(p, s))
				return p;
	return NULL;
}

/* ---- waits ---- */

static void fill_exit(const struct agent_process *p, Veil__Agent__V1__WaitProcessResponse *resp)
{
	if (WIFSIGNALED(p->wstatus)) {
		resp->signal = WTERMSIG(p->wstatus);
		/* As a shell reports it, for hosts that only look at the exit code. */
		resp->exit_code = 128 + resp->signal;
	} else {
		resp->exit_code = WEXITSTATUS(p->wstatus);
	}
}

/* Returns true (and answers) if the wait is over. */
static bool try_answer(const struct pending_wait *w)
{
	struct agent_container *c = agent_container_find(w->container_id);
	if (c == NULL) {
		respond(w->stream, VEIL_METHOD_WAIT_PROCESS, w->received_ns, VEIL_RPC_NOT_FOUND, "container was destroyed",
			NULL);
		return true;
	}
	struct agent_process *p = agent_container_process(c, w->exec_id);
	if (p == NULL || !agent_process_done(p))
		return false;
	/* The host takes the VM down once the init has gone: whatever of its
	 * writable layer is on a disk must be there by then. */
	if (w->exec_id[0] == '\0')
		agent_rootfs_sync(c->id);
	Veil__Agent__V1__WaitProcessResponse resp = VEIL__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;
	fill_exit(p, &resp);
	p->delivered = true;
	respond(w->stream, VEIL_METHOD_WAIT_PROCESS, w->received_ns, VEIL_RPC_OK, NULL, &resp.base);
	return true;
}

void agent_dispatch_answer_waits(void)
{
	/* Only an exit, closed output or a container gone can end a wait. */
	if (waits_checked == agent_process_changes())
		return;
	waits_checked = agent_process_changes();
	for (struct pending_wait **pp = &waits; *pp != NULL;) {
		struct pending_wait *w = *pp;
		if (try_answer(w)) {
			*pp = w->next;
			n_waits--;
			agent_wipe_free(w);
		} else {
			pp = &w->next;
		}
	}
}

static void answer_oom_waits(void)
{
	while (n_oom_waits > 0 && n_oom_events > 0) {
		Veil__Agent__V1__GetOOMEventResponse resp = VEIL__AGENT__V1__GET_OOMEVENT_RESPONSE__INIT;
		resp.container_id = oom_events[0];
		respond(oom_waits[0], VEIL_METHOD_GET_OOM_EVENT, agent_trace_now(), VEIL_RPC_OK, NULL, &resp.base);
		memmove(oom_events[0], oom_events[1], --n_oom_events * sizeof(oom_events[0]));
		memmove(&oom_waits[0], &oom_waits[1], --n_oom_waits * sizeof(oom_waits[0]));
	}
}

static void forget_oom_events(void)
{
	explicit_bzero(oom_events, sizeof(oom_events));
	n_oom_events = 0;
}

void agent_dispatch_memory_events(struct agent_container *c)
{
	if (!agent_container_oom_killed(c))
		return;
	agent_log_debug("container %s: a process was killed for lack of memory", c->id);
	if (n_oom_events == MAX_OOM_EVENTS)
		memmove(oom_events[0], oom_events[1], --n_oom_events * sizeof(oom_events[0]));
	snprintf(oom_events[n_oom_events++], sizeof(oom_events[0]), "%s", c->id);
	answer_oom_waits();
}

void agent_dispatch_disconnect(void)
{
	n_oom_waits = 0;
	forget_oom_events();
	while (waits != NULL) {
		struct pending_wait *w = waits;
		waits = w->next;
		agent_wipe_free(w);
	}
	n_waits = 0;
	for (struct agent_container *c = agent_container_first(); c != NULL; c = c->next)
		for (struct agent_process *p = c->processes; p != NULL; p = p->next)
			agent_process_detach(p);
}

/* ---- handlers: each returns 0 with r->resp, or -1 with r->code and r->err ---- */

static int handle_hello(const Veil__Agent__V1__HelloRequest *req, struct reply *r)
{
	static Veil__Agent__V1__HelloResponse resp;
	resp = (Veil__Agent__V1__HelloResponse)VEIL__AGENT__V1__HELLO_RESPONSE__INIT;
	agent_trace_set(req->trace);
	if (agent_hello(req, &resp, &r->code, &r->err) < 0)
		return -1;
	r->resp = &resp.base;
	return 0;
}

static int handle_create(ProtobufCMessage **msg, struct reply *r)
{
	static Veil__Agent__V1__CreateContainerResponse resp = VEIL__AGENT__V1__CREATE_CONTAINER_RESPONSE__INIT;
	Veil__Agent__V1__CreateContainerRequest *req = (Veil__Agent__V1__CreateContainerRequest *)*msg;
	if (agent_confidential_check_create(req, &r->code, &r->err) < 0)
		return -1;
	struct agent_container *c = agent_container_create(req, agent_confidential_has_secrets(req), &r->code, &r->err);
	if (c == NULL)
		return -1;
	*msg = NULL; /* the container keeps the request as its spec */
	/* A container whose secrets cannot be had does not exist. */
	if (agent_confidential_fetch_secrets(c, req, &r->code, &r->err) < 0) {
		agent_container_remove(c);
		return -1;
	}
	agent_confidential_container_created();
	r->resp = &resp.base;
	return 0;
}

static int check_exec_target(struct agent_container *c, const Veil__Agent__V1__ExecProcessRequest *req,
			     struct reply *r)
{
	struct agent_process *init = agent_container_process(c, "");
	if (req->exec_id[0] == '\0' && init != NULL)
		return fail(r, VEIL_RPC_ALREADY_EXISTS, "container %s has already been started", c->id);
	if (req->exec_id[0] != '\0') {
		if (init == NULL || init->exited)
			return fail(r, VEIL_RPC_FAILED_PRECONDITION, "container %s is not running", c->id);
		if (agent_container_process(c, req->exec_id) != NULL)
			return fail(r, VEIL_RPC_ALREADY_EXISTS, "process %s already exists", req->exec_id);
	}
	const uint32_t streams[3] = { req->stdin_stream, req->stdout_stream, req->stderr_stream };
	for (int i = 0; i < 3; i++) {
		if (streams[i] != 0 && stream_owner(streams[i]) != NULL)
			return fail(r, VEIL_RPC_ALREADY_EXISTS, "stream %u is already in use", streams[i]);
	}
	if (!agent_container_make_room(c))
		return fail(r, VEIL_RPC_FAILED_PRECONDITION, "container %s has too many processes", c->id);
	return 0;
}

static int handle_exec(const Veil__Agent__V1__ExecProcessRequest *req, struct reply *r)
{
	static Veil__Agent__V1__ExecProcessResponse resp;
	struct agent_container *c = find_container(req->container_id, r);
	if (c == NULL || check_exec_target(c, req, r) < 0)
		return -1;
	if (req->exec_id[0] != '\0' ? agent_confidential_exec_allowed(&r->code, &r->err) < 0
				     : agent_confidential_own_secrets(c, req->process->uid, req->process->gid, &r->code,
								      &r->err) < 0)
		return -1;
	struct agent_process *p = agent_process_new(req->exec_id);
	if (p == NULL) {
		r->code = VEIL_RPC_INTERNAL;
		return veil_fail(&r->err, ENOMEM, "process");
	}
	if (agent_spawn(c, req, p, &r->code, &r->err) < 0) {
		agent_process_free(p);
		return -1;
	}
	agent_container_add_process(c, p);
	agent_log_debug("container %s: started %s pid %d", c->id, req->exec_id[0] ? req->exec_id : "init", p->pid);
	resp = (Veil__Agent__V1__ExecProcessResponse)VEIL__AGENT__V1__EXEC_PROCESS_RESPONSE__INIT;
	resp.pid = (uint32_t)p->pid;
	r->resp = &resp.base;
	return 0;
}

/* How many pending waits are for the process w is for. */
static size_t waits_for(const struct pending_wait *w)
{
	size_t n = 0;
	for (const struct pending_wait *p = waits; p != NULL; p = p->next)
		n += strcmp(p->container_id, w->container_id) == 0 && strcmp(p->exec_id, w->exec_id) == 0;
	return n;
}

/* Returns 1 when the response is withheld, 0/-1 as the other handlers. */
static int handle_wait(uint32_t stream, uint64_t received_ns, const Veil__Agent__V1__WaitProcessRequest *req,
		       struct reply *r)
{
	struct agent_container *c = find_container(req->container_id, r);
	if (c == NULL)
		return -1;
	if (req->exec_id[0] != '\0' && agent_container_process(c, req->exec_id) == NULL)
		return fail(r, VEIL_RPC_NOT_FOUND, "process %s not found", req->exec_id);
	struct pending_wait now = { .stream = stream, .received_ns = received_ns };
	snprintf(now.container_id, sizeof(now.container_id), "%s", req->container_id);
	snprintf(now.exec_id, sizeof(now.exec_id), "%s", req->exec_id);
	if (try_answer(&now))
		return 1;
	if (n_waits >= MAX_PENDING_WAITS)
		return fail(r, VEIL_RPC_RESOURCE_EXHAUSTED, "%d WaitProcess requests are pending already",
			    MAX_PENDING_WAITS);
	if (waits_for(&now) >= MAX_WAITS_PER_PROCESS)
		return fail(r, VEIL_RPC_RESOURCE_EXHAUSTED, "%d WaitProcess requests for this process are pending already",
			    MAX_WAITS_PER_PROCESS);
	struct pending_wait *w = malloc(sizeof(*w));
	if (w == NULL) {
		r->code = VEIL_RPC_INTERNAL;
		return veil_fail(&r->err, ENOMEM, "wait");
	}
	*w = now;
	w->next = waits;
	waits = w;
	n_waits++;
	return 1;
}

static int handle_signal(const Veil__Agent__V1__SignalProcessRequest *req, struct reply *r)
{
	static Veil__Agent__V1__SignalProcessResponse resp = VEIL__AGENT__V1__SIGNAL_PROCESS_RESPONSE__INIT;
	/* With all, the container must be running, whatever exec_id says. */
	struct agent_process *p = find_process(req->container_id, req->all ? "" : req->exec_id, r);
	if (p == NULL)
		return -1;
	if (p->exited)
		return fail(r, VEIL_RPC_FAILED_PRECONDITION, "process has exited");
	r->code = VEIL_RPC_INTERNAL;
	if (req->all && agent_cgroup_signal(req->container_id, (int)req->signal, &r->err) < 0)
		return -1;
	if (!req->all && kill(p->pid, (int)req->signal) < 0)
		return veil_fail(&r->err, errno, "kill %d", p->pid);
	r->resp = &resp.base;
	return 0;
}

static int handle_resize(const Veil__Agent__V1__ResizeTerminalRequest *req, struct reply *r)
{
	static Veil__Agent__V1__ResizeTerminalResponse resp = VEIL__AGENT__V1__RESIZE_TERMINAL_RESPONSE__INIT;
	struct agent_process *p = find_process(req->container_id, req->exec_id, r);
	if (p == NULL)
		return -1;
	if (p->tty < 0)
		return fail(r, VEIL_RPC_FAILED_PRECONDITION, "process has no terminal");
	struct winsize ws = { .ws_row = (unsigned short)req->rows, .ws_col = (unsigned short)req->cols };
	if (ioctl(p->tty, TIOCSWINSZ, &ws) < 0) {
		r->code = VEIL_RPC_INTERNAL;
		return veil_fail(&r->err, errno, "TIOCSWINSZ");
	}
	r->resp = &resp.base;
	return 0;
}

/* Forgets a container whose processes were killed. Waiters get the exit
 * statuses, with the streams closed first as always; those still waiting once
 * the container is gone (an init never started, a process that survived the
 * kill) get NOT_FOUND. */
static void forget_container(struct agent_container *c)
{
	for (struct agent_process *p = c->processes; p != NULL; p = p->next)
		agent_process_close_outputs(p);
	agent_dispatch_answer_waits();
	agent_container_remove(c);
	agent_dispatch_answer_waits();
}

static int handle_destroy(const Veil__Agent__V1__DestroyContainerRequest *req, struct reply *r)
{
	static Veil__Agent__V1__DestroyContainerResponse resp = VEIL__AGENT__V1__DESTROY_CONTAINER_RESPONSE__INIT;
	struct agent_container *c = find_container(req->container_id, r);
	if (c == NULL)
		return -1;
	agent_container_kill(c);
	forget_container(c);
	r->resp = &resp.base;
	return 0;
}

static int handle_update(const Veil__Agent__V1__UpdateContainerRequest *req, struct reply *r)
{
	static Veil__Agent__V1__UpdateContainerResponse resp = VEIL__AGENT__V1__UPDATE_CONTAINER_RESPONSE__INIT;
	struct agent_container *c = find_container(req->container_id, r);
	if (c == NULL)
		return -1;
	r->code = VEIL_RPC_INTERNAL;
	if (agent_cgroup_set_limits(c->id, req->resources, &r->err) < 0)
		return -1;
	r->resp = &resp.base;
	return 0;
}

static int handle_freeze(const Veil__Agent__V1__FreezeContainerRequest *req, struct reply *r)
{
	static Veil__Agent__V1__FreezeContainerResponse resp = VEIL__AGENT__V1__FREEZE_CONTAINER_RESPONSE__INIT;
	struct agent_container *c = find_container(req->container_id, r);
	if (c == NULL)
		return -1;
	r->code = VEIL_RPC_INTERNAL;
	if (agent_cgroup_freeze(c->id, req->frozen, &r->err) < 0)
		return -1;
	r->resp = &resp.base;
	return 0;
}

static int handle_stats(const Veil__Agent__V1__StatsContainerRequest *req, struct reply *r)
{
	static Veil__Agent__V1__StatsContainerResponse resp;
	resp = (Veil__Agent__V1__StatsContainerResponse)VEIL__AGENT__V1__STATS_CONTAINER_RESPONSE__INIT;
	struct agent_container *c = find_container(req->container_id, r);
	if (c == NULL)
		return -1;
	r->code = VEIL_RPC_INTERNAL;
	if (agent_cgroup_stats(c->id, &resp, &r->err) < 0)
		return -1;
	r->resp = &resp.base;
	return 0;
}

/* Returns 1: the response is withheld until an OOM kill. */
static int handle_get_oom_event(uint32_t stream, struct reply *r)
{
	if (n_oom_waits >= MAX_OOM_WAITS)
		return fail(r, VEIL_RPC_RESOURCE_EXHAUSTED, "%d GetOOMEvent requests are pending already", MAX_OOM_WAITS);
	oom_waits[n_oom_waits++] = stream;
	answer_oom_waits();
	return 1;
}

static int handle_configure_interface(const Veil__Agent__V1__ConfigureInterfaceRequest *req, struct reply *r)
{
	static Veil__Agent__V1__ConfigureInterfaceResponse resp = VEIL__AGENT__V1__CONFIGURE_INTERFACE_RESPONSE__INIT;
	if (agent_configure_interface(req, &r->code, &r->err) < 0)
		return -1;
	r->resp = &resp.base;
	return 0;
}

/* Answers at once, as the response owns memory that only this call frees. */
static int handle_list_processes(uint32_t stream, uint64_t received_ns, const Veil__Agent__V1__ListProcessesRequest *req,
				 struct reply *r)
{
	if (find_container(req->container_id, r) == NULL)
		return -1;
	Veil__Agent__V1__ListProcessesResponse resp;
	int rc = agent_list_processes(req->container_id, &resp, &r->err);
	if (rc == 0)
		respond(stream, VEIL_METHOD_LIST_PROCESSES, received_ns, VEIL_RPC_OK, NULL, &resp.base);
	agent_list_processes_free(&resp);
	if (rc < 0) {
		r->code = VEIL_RPC_INTERNAL;
		return -1;
	}
	return 1;
}

static void handle_shutdown(uint32_t stream, uint64_t received_ns)
{
	Veil__Agent__V1__ShutdownResponse resp = VEIL__AGENT__V1__SHUTDOWN_RESPONSE__INIT;
	respond(stream, VEIL_METHOD_SHUTDOWN, received_ns, VEIL_RPC_OK, NULL, &resp.base);
	agent_channel_drain(1000);
	agent_log_debug("shutdown requested");
	agent_poweroff();
}

static int handle_scrub(const Veil__Agent__V1__ScrubRequest *req, struct reply *r)
{
	static Veil__Agent__V1__ScrubResponse resp;
	resp = (Veil__Agent__V1__ScrubResponse)VEIL__AGENT__V1__SCRUB_RESPONSE__INIT;
	agent_trace_set(req->trace);
	int kill = agent_trace_begin("kill");
	agent_scrub_processes();
	agent_trace_end(kill);
	int unmount = agent_trace_begin("containers");
	for (struct agent_container *c; (c = agent_container_first()) != NULL;)
		forget_container(c);
	agent_trace_end(unmount);
	forget_oom_events();
	int rc = agent_scrub_guest(&resp, &r->err);
	/* Called from here, it wipes the depth at which earlier handlers' frames lay. */
	agent_scrub_wipe_stack();
	agent_confidential_scrubbed(rc == 0 && resp.processes_left == 0 && resp.mounts_left == 0 &&
				    resp.containers_left == 0);
	if (rc < 0) {
		r->code = VEIL_RPC_INTERNAL;
		return -1;
	}
	r->resp = &resp.base;
	return 0;
}

static int run_handler(int method, uint32_t stream, uint64_t received_ns, ProtobufCMessage **msg, struct reply *r)
{
	const void *m = *msg;
	switch ((enum veil_method)method) {
	case VEIL_METHOD_HELLO:
		return handle_hello(m, r);
	case VEIL_METHOD_CREATE_CONTAINER:
		return handle_create(msg, r);
	case VEIL_METHOD_EXEC_PROCESS:
		return handle_exec(m, r);
	case VEIL_METHOD_WAIT_PROCESS:
		return handle_wait(stream, received_ns, m, r);
	case VEIL_METHOD_SIGNAL_PROCESS:
		return handle_signal(m, r);
	case VEIL_METHOD_RESIZE_TERMINAL:
		return handle_resize(m, r);
	case VEIL_METHOD_DESTROY_CONTAINER:
		return handle_destroy(m, r);
	case VEIL_METHOD_CONFIGURE_INTERFACE:
		return handle_configure_interface(m, r);
	case VEIL_METHOD_SCRUB:
		return handle_scrub(m, r);
	case VEIL_METHOD_LIST_PROCESSES:
		return handle_list_processes(stream, received_ns, m, r);
	case VEIL_METHOD_UPDATE_CONTAINER:
		return handle_update(m, r);
	case VEIL_METHOD_STATS_CONTAINER:
		return handle_stats(m, r);
	case VEIL_METHOD_GET_OOM_EVENT:
		return handle_get_oom_event(stream, r);
	case VEIL_METHOD_FREEZE_CONTAINER:
		return handle_freeze(m, r);
	case VEIL_METHOD_SHUTDOWN:
		handle_shutdown(stream, received_ns);
		break;
	case VEIL_METHOD_COUNT:
		break;
	}
	return fail(r, VEIL_RPC_UNIMPLEMENTED, "unknown method");
}

static void handle_request(uint32_t stream, const uint8_t *payload, size_t len)
{
	uint64_t received_ns = agent_trace_now();
	int method, code;
	char why[160];
	ProtobufCMessage *msg =
		veil_rpc_unpack_request(&agent_wipe_allocator, payload, len, &method, &code, why, sizeof(why));
	if (msg == NULL) {
		agent_log_error("request on stream %u rejected: %s", stream, why);
		respond(stream, method, received_ns, code, why, NULL);
		return;
	}
	struct reply r = { .code = VEIL_RPC_OK };
	int rc = agent_validate_request(method, msg, &r.code, &r.err);
	if (rc == 0)
		rc = run_handler(method, stream, received_ns, &msg, &r);
	if (rc < 0) {
		agent_log_debug("%s on stream %u: %s", veil_method_name(method), stream, r.err->msg);
		respond(stream, method, received_ns, r.code, r.err->msg, NULL);
	} else if (rc == 0) {
		respond(stream, method, received_ns, VEIL_RPC_OK, NULL, r.resp);
	}
	agent_wipe_error(&r.err);
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, &agent_wipe_allocator);
}

static void handle_data(const struct veil_frame_header *h, const uint8_t *payload)
{
	struct agent_process *p = stream_owner(h->stream_id);
	/* Unknown streams are normal: input can race with the process's exit. */
	if (p == NULL || p->in.stream != h->stream_id)
		return;
	agent_process_stdin_data(p, h->flags, payload, h->length);
}

void agent_dispatch_frame(const struct veil_frame_header *h, const uint8_t *payload)
{
	switch (h->type) {
	case VEIL_FRAME_REQUEST:
		handle_request(h->stream_id, payload, h->length);
		break;
	case VEIL_FRAME_DATA:
		handle_data(h, payload);
		break;
	default:
		agent_log_error("ignoring frame of type %u on stream %u from the host", h->type, h->stream_id);
		break;
	}
}
