#include "shim/task.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/cgroups/v2/stats/metrics.pb-c.h"
#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "lib/log.h"
#include "proto/rpc.h"
#include "shim/events.h"

#ifndef VEIL_VERSION
#define VEIL_VERSION "unknown"
#endif

/* ---- answers ---- */

static void reply_ok(struct shim_service *svc, const struct veil_ttrpc_call *call, const ProtobufCMessage *resp)
{
	veil_ttrpc_reply(svc->server, call, VEIL_GRPC_OK, NULL, resp);
}

__attribute__((format(printf, 4, 5))) static void reply_error(struct shim_service *svc,
							       const struct veil_ttrpc_call *call, int code,
							       const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("ttrpc error %d: %s", code, msg);
	veil_ttrpc_reply(svc->server, call, code, msg, NULL);
}

/* A failure of the pod, classified by its errnum (shim_pod_ops). */
static void reply_err(struct shim_service *svc, const struct veil_ttrpc_call *call, veil_err_t *err)
{
	int code;
	switch ((*err)->errnum) {
	case ENOENT:
		code = VEIL_GRPC_NOT_FOUND;
		break;
	case EEXIST:
		code = VEIL_GRPC_ALREADY_EXISTS;
		break;
	case EINVAL:
		code = VEIL_GRPC_INVALID_ARGUMENT;
		break;
	case ENOTSUP:
		code = VEIL_GRPC_UNIMPLEMENTED;
		break;
	case EBUSY:
		code = VEIL_GRPC_FAILED_PRECONDITION;
		break;
	default:
		code = VEIL_GRPC_INTERNAL;
	}
	reply_error(svc, call, code, "%s", (*err)->msg);
	veil_error_free(err);
}

static void publish(struct shim_service *svc, const char *topic, const ProtobufCMessage *event)
{
	if (svc->publish != NULL)
		svc->publish(svc->publish_opaque, topic, event);
}

/* ---- the task table ---- */

static struct shim_task *find_task(struct shim_service *svc, const char *id)
{
	for (size_t i = 0; i < SHIM_MAX_TASKS; i++)
		if (svc->tasks[i].id != NULL && strcmp(svc->tasks[i].id, id) == 0)
			return &svc->tasks[i];
	return NULL;
}

size_t shim_service_tasks(const struct shim_service *svc)
{
	size_t n = 0;
	for (size_t i = 0; i < SHIM_MAX_TASKS; i++)
		n += svc->tasks[i].id != NULL;
	return n;
}

static struct shim_process *find_process(struct shim_task *t, const char *exec_id)
{
	if (exec_id[0] == '\0')
		return &t->init;
	for (size_t i = 0; i < SHIM_MAX_EXECS; i++)
		if (t->execs[i].used && strcmp(t->execs[i].exec_id, exec_id) == 0)
			return &t->execs[i];
	return NULL;
}

static void process_release(struct shim_process *p)
{
	free(p->stdin_path);
	free(p->stdout_path);
	free(p->stderr_path);
	memset(p, 0, sizeof(*p));
}

static int process_init(struct shim_process *p, const char *exec_id, const struct shim_stdio *io, uint32_t pid)
{
	memset(p, 0, sizeof(*p));
	p->used = true;
	snprintf(p->exec_id, sizeof(p->exec_id), "%s", exec_id);
	p->status = SHIM_CREATED;
	p->pid = pid;
	p->terminal = io->terminal;
	p->stdin_path = strdup(io->in);
	p->stdout_path = strdup(io->out);
	p->stderr_path = strdup(io->err);
	return p->stdin_path && p->stdout_path && p->stderr_path ? 0 : -1;
}

static void task_release(struct shim_task *t)
{
	for (size_t i = 0; i < SHIM_MAX_EXECS; i++)
		if (t->execs[i].used)
			process_release(&t->execs[i]);
	process_release(&t->init);
	free(t->id);
	free(t->bundle);
	memset(t, 0, sizeof(*t));
}

void shim_service_release(struct shim_service *svc)
{
	for (size_t i = 0; i < SHIM_MAX_TASKS; i++)
		if (svc->tasks[i].id != NULL)
			task_release(&svc->tasks[i]);
}

/* An ID containerd sent: what the runtime (and the guest) accept. */
static bool bad_id(struct shim_service *svc, const struct veil_ttrpc_call *call, const char *what, const char *id,
		   bool may_be_empty)
{
	if (may_be_empty && id[0] == '\0')
		return false;
	veil_err_t err = NULL;
	if (veil_validate_id(id, &err) == 0)
		return false;
	reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "%s: %s", what, err->msg);
	veil_error_free(&err);
	return true;
}

/* The task a request names, or an answer saying why there is none. */
static struct shim_task *task_of(struct shim_service *svc, const struct veil_ttrpc_call *call, const char *id)
{
	if (bad_id(svc, call, "task id", id, false))
		return NULL;
	struct shim_task *t = find_task(svc, id);
	if (t == NULL)
		reply_error(svc, call, VEIL_GRPC_NOT_FOUND, "task %s not found", id);
	return t;
}

static struct shim_process *process_of(struct shim_service *svc, const struct veil_ttrpc_call *call, const char *id,
				       const char *exec_id, struct shim_task **task)
{
	struct shim_task *t = task_of(svc, call, id);
	if (t == NULL || bad_id(svc, call, "exec id", exec_id, true))
		return NULL;
	struct shim_process *p = find_process(t, exec_id);
	if (p == NULL)
		reply_error(svc, call, VEIL_GRPC_NOT_FOUND, "process %s of task %s not found", exec_id, id);
	if (task != NULL)
		*task = t;
	return p;
}

/* The process is over: its waits are answered and TaskExit published. */
static void process_exited(struct shim_service *svc, struct shim_task *t, struct shim_process *p,
			   uint32_t exit_status)
{
	if (p->status == SHIM_STOPPED)
		return;
	p->status = SHIM_STOPPED;
	p->exit_status = exit_status;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	Google__Protobuf__Timestamp at;
	shim_timestamp_of(&p->exited_at, &at);
	Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	resp.exit_status = exit_status;
	resp.exited_at = &at;
	for (size_t i = 0; i < p->n_waits; i++)
		reply_ok(svc, &p->waits[i], &resp.base);
	p->n_waits = 0;
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	ev.container_id = t->id;
	ev.id = p->exec_id[0] ? p->exec_id : t->id;
	ev.pid = p->pid;
	ev.exit_status = exit_status;
	ev.exited_at = &at;
	publish(svc, "/tasks/exit", &ev.base);
}

void shim_service_exited(struct shim_service *svc, const char *id, const char *exec_id, uint32_t exit_status)
{
	struct shim_task *t = find_task(svc, id);
	struct shim_process *p = t ? find_process(t, exec_id) : NULL;
	if (p != NULL)
		process_exited(svc, t, p, exit_status);
}

void shim_service_oom(struct shim_service *svc, const char *id)
{
	if (find_task(svc, id) == NULL)
		return;
	Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
	ev.container_id = (char *)id;
	publish(svc, "/tasks/oom", &ev.base);
}

/* ---- the methods ---- */

static void handle_create(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__CreateTaskRequest *r = msg;
	if (bad_id(svc, call, "task id", r->id, false))
		return;
	if (r->checkpoint[0] != '\0' || r->parent_checkpoint[0] != '\0')
		return reply_error(svc, call, VEIL_GRPC_UNIMPLEMENTED,
				   "veil cannot restore a checkpoint: a container's state is inside its microVM");
	if (r->bundle[0] != '/')
		return reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "bundle %s is not an absolute path", r->bundle);
	if (find_task(svc, r->id) != NULL)
		return reply_error(svc, call, VEIL_GRPC_ALREADY_EXISTS, "task %s already exists", r->id);
	struct shim_task *t = NULL;
	for (size_t i = 0; i < SHIM_MAX_TASKS && t == NULL; i++)
		if (svc->tasks[i].id == NULL)
			t = &svc->tasks[i];
	if (t == NULL)
		return reply_error(svc, call, VEIL_GRPC_RESOURCE_EXHAUSTED, "a pod holds at most %d containers",
				   SHIM_MAX_TASKS);
	uint32_t pid = 0;
	veil_err_t err = NULL;
	if (svc->ops->create(svc->pod, r, &pid, &err) < 0)
		return reply_err(svc, call, &err);
	const struct shim_stdio io = { .in = r->stdin, .out = r->stdout, .err = r->stderr, .terminal = r->terminal };
	t->id = strdup(r->id);
	t->bundle = strdup(r->bundle);
	if (t->id == NULL || t->bundle == NULL || process_init(&t->init, "", &io, pid) < 0)
		abort();
	Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
	tio.stdin = r->stdin;
	tio.stdout = r->stdout;
	tio.stderr = r->stderr;
	tio.terminal = r->terminal;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	ev.container_id = r->id;
	ev.bundle = r->bundle;
	ev.n_rootfs = r->n_rootfs;
	ev.rootfs = r->rootfs;
	ev.io = &tio;
	ev.pid = pid;
	publish(svc, "/tasks/create", &ev.base);
	Containerd__Task__V2__CreateTaskResponse resp = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	resp.pid = pid;
	reply_ok(svc, call, &resp.base);
}

static void handle_start(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__StartRequest *r = msg;
	struct shim_task *t;
	struct shim_process *p = process_of(svc, call, r->id, r->exec_id, &t);
	if (p == NULL)
		return;
	if (p->status != SHIM_CREATED)
		return reply_error(svc, call, VEIL_GRPC_FAILED_PRECONDITION, "process %s of task %s was started already",
				   r->exec_id, r->id);
	veil_err_t err = NULL;
	if (svc->ops->start(svc->pod, r->id, r->exec_id, &err) < 0)
		return reply_err(svc, call, &err);
	p->status = SHIM_RUNNING;
	if (p->exec_id[0] == '\0') {
		Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
		ev.container_id = t->id;
		ev.pid = p->pid;
		publish(svc, "/tasks/start", &ev.base);
	} else {
		Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
		ev.container_id = t->id;
		ev.exec_id = p->exec_id;
		ev.pid = p->pid;
		publish(svc, "/tasks/exec-started", &ev.base);
	}
	Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	resp.pid = p->pid;
	reply_ok(svc, call, &resp.base);
}

static void handle_delete(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__DeleteRequest *r = msg;
	struct shim_task *t;
	struct shim_process *p = process_of(svc, call, r->id, r->exec_id, &t);
	if (p == NULL)
		return;
	if (p->status == SHIM_RUNNING || p->status == SHIM_PAUSED)
		return reply_error(svc, call, VEIL_GRPC_FAILED_PRECONDITION,
				   "cannot delete process %s of task %s: it is running", r->exec_id, r->id);
	veil_err_t err = NULL;
	if (svc->ops->remove(svc->pod, r->id, r->exec_id, &err) < 0) {
		/* Still forgotten: containerd deletes the task either way. */
		log_warn("deleting %s %s: %s", r->id, r->exec_id, err->msg);
		veil_error_free(&err);
	}
	Google__Protobuf__Timestamp at;
	shim_timestamp_of(&p->exited_at, &at);
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	resp.pid = p->pid;
	resp.exit_status = p->exit_status;
	resp.exited_at = &at;
	if (p->exec_id[0] == '\0') {
		Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
		ev.container_id = t->id;
		ev.pid = p->pid;
		ev.exit_status = p->exit_status;
		ev.exited_at = &at;
		publish(svc, "/tasks/delete", &ev.base);
	}
	reply_ok(svc, call, &resp.base);
	/* Waits of a process never started cannot be answered by its exit. */
	for (size_t i = 0; i < p->n_waits; i++)
		reply_error(svc, &p->waits[i], VEIL_GRPC_NOT_FOUND, "process %s of task %s was deleted", r->exec_id,
			    r->id);
	p->n_waits = 0;
	if (p->exec_id[0] == '\0')
		task_release(t);
	else
		process_release(p);
}

static void handle_exec(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__ExecProcessRequest *r = msg;
	struct shim_task *t = task_of(svc, call, r->id);
	if (t == NULL || bad_id(svc, call, "exec id", r->exec_id, false))
		return;
	if (t->init.status != SHIM_RUNNING)
		return reply_error(svc, call, VEIL_GRPC_FAILED_PRECONDITION, "task %s is not running", r->id);
	if (find_process(t, r->exec_id) != NULL)
		return reply_error(svc, call, VEIL_GRPC_ALREADY_EXISTS, "process %s of task %s already exists",
				   r->exec_id, r->id);
	struct shim_process *p = NULL;
	for (size_t i = 0; i < SHIM_MAX_EXECS && p == NULL; i++)
		if (!t->execs[i].used)
			p = &t->execs[i];
	if (p == NULL)
		return reply_error(svc, call, VEIL_GRPC_RESOURCE_EXHAUSTED, "task %s has %d processes already", r->id,
				   SHIM_MAX_EXECS);
	if (r->spec == NULL)
		return reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "exec %s has no process spec", r->exec_id);
	/* containerd sends the OCI process as JSON in the Any. */
	json_object *process = NULL;
	veil_err_t err = NULL;
	if (veil_json_parse((const char *)r->spec->value.data, r->spec->value.len, "process spec", &process, &err) < 0 ||
	    process == NULL) {
		reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "exec %s: %s", r->exec_id,
			    err ? err->msg : "process spec is null");
		veil_error_free(&err);
		return;
	}
	const struct shim_stdio io = { .in = r->stdin, .out = r->stdout, .err = r->stderr, .terminal = r->terminal };
	int rc = svc->ops->add_exec(svc->pod, r->id, r->exec_id, &io, process, &err);
	json_object_put(process);
	if (rc < 0)
		return reply_err(svc, call, &err);
	if (process_init(p, r->exec_id, &io, t->init.pid) < 0)
		abort();
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	ev.container_id = t->id;
	ev.exec_id = p->exec_id;
	publish(svc, "/tasks/exec-added", &ev.base);
	reply_ok(svc, call, NULL);
}

static void handle_state(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__StateRequest *r = msg;
	struct shim_task *t;
	struct shim_process *p = process_of(svc, call, r->id, r->exec_id, &t);
	if (p == NULL)
		return;
	Google__Protobuf__Timestamp at;
	shim_timestamp_of(&p->exited_at, &at);
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	resp.id = t->id;
	resp.bundle = t->bundle;
	resp.pid = p->pid;
	resp.status = (Containerd__V1__Types__Status)p->status;
	resp.stdin = p->stdin_path;
	resp.stdout = p->stdout_path;
	resp.stderr = p->stderr_path;
	resp.terminal = p->terminal;
	resp.exit_status = p->exit_status;
	resp.exited_at = &at;
	resp.exec_id = p->exec_id;
	reply_ok(svc, call, &resp.base);
}

static void handle_pids(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__PidsRequest *r = msg;
	struct shim_task *t = task_of(svc, call, r->id);
	if (t == NULL)
		return;
	/* Every process of the pod stands on the host as its VM, as in Kata. */
	Containerd__V1__Types__ProcessInfo info = CONTAINERD__V1__TYPES__PROCESS_INFO__INIT;
	info.pid = t->init.pid;
	Containerd__V1__Types__ProcessInfo *list[] = { &info };
	Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	resp.n_processes = t->init.status == SHIM_STOPPED ? 0 : 1;
	resp.processes = list;
	reply_ok(svc, call, &resp.base);
}

static void pause_or_resume(struct shim_service *svc, const struct veil_ttrpc_call *call, const char *id, bool pause)
{
	struct shim_task *t = task_of(svc, call, id);
	if (t == NULL)
		return;
	if (t->init.status != (pause ? SHIM_RUNNING : SHIM_PAUSED))
		return reply_error(svc, call, VEIL_GRPC_FAILED_PRECONDITION, "task %s is not %s", id,
				   pause ? "running" : "paused");
	veil_err_t err = NULL;
	if (svc->ops->freeze(svc->pod, id, pause, &err) < 0)
		return reply_err(svc, call, &err);
	t->init.status = pause ? SHIM_PAUSED : SHIM_RUNNING;
	if (pause) {
		Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
		ev.container_id = t->id;
		publish(svc, "/tasks/paused", &ev.base);
	} else {
		Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
		ev.container_id = t->id;
		publish(svc, "/tasks/resumed", &ev.base);
	}
	reply_ok(svc, call, NULL);
}

static void handle_pause(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	pause_or_resume(svc, call, ((const Containerd__Task__V2__PauseRequest *)msg)->id, true);
}

static void handle_resume(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	pause_or_resume(svc, call, ((const Containerd__Task__V2__ResumeRequest *)msg)->id, false);
}

static void handle_checkpoint(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	(void)msg;
	reply_error(svc, call, VEIL_GRPC_UNIMPLEMENTED,
		    "veil cannot checkpoint a container: its state is inside its microVM");
}

static void handle_kill(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__KillRequest *r = msg;
	struct shim_task *t;
	struct shim_process *p = process_of(svc, call, r->id, r->exec_id, &t);
	if (p == NULL)
		return;
	if (r->signal > 64)
		return reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "signal %u is not in 0..64", r->signal);
	if (p->status == SHIM_STOPPED) {
		/* As runc's shim: nothing left to signal is fine for all, "not found" otherwise. */
		if (r->all)
			return reply_ok(svc, call, NULL);
		return reply_error(svc, call, VEIL_GRPC_NOT_FOUND, "process already finished");
	}
	if (r->signal == 0)
		return reply_ok(svc, call, NULL);
	if (p->status == SHIM_CREATED) {
		/* Nothing runs yet: the process ends before it began, as runc's init does. */
		reply_ok(svc, call, NULL);
		process_exited(svc, t, p, 128 + r->signal);
		return;
	}
	veil_err_t err = NULL;
	if (svc->ops->signal(svc->pod, r->id, r->exec_id, (int)r->signal, r->all, &err) < 0)
		return reply_err(svc, call, &err);
	reply_ok(svc, call, NULL);
}

static void handle_resize(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__ResizePtyRequest *r = msg;
	struct shim_process *p = process_of(svc, call, r->id, r->exec_id, NULL);
	if (p == NULL)
		return;
	if (r->width > 65535 || r->height > 65535)
		return reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "terminal size %ux%u is too large", r->width,
				   r->height);
	veil_err_t err = NULL;
	if (p->status == SHIM_RUNNING && svc->ops->resize(svc->pod, r->id, r->exec_id, r->height, r->width, &err) < 0)
		return reply_err(svc, call, &err);
	reply_ok(svc, call, NULL);
}

static void handle_close_io(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__CloseIORequest *r = msg;
	struct shim_process *p = process_of(svc, call, r->id, r->exec_id, NULL);
	if (p == NULL)
		return;
	veil_err_t err = NULL;
	if (r->stdin && p->status != SHIM_STOPPED && svc->ops->close_stdin(svc->pod, r->id, r->exec_id, &err) < 0)
		return reply_err(svc, call, &err);
	reply_ok(svc, call, NULL);
}

/* A number at path (e.g. "memory", "limit") of linux.resources; 0 when absent. */
static int64_t resource(json_object *res, const char *group, const char *key)
{
	json_object *g, *v;
	if (!json_object_object_get_ex(res, group, &g) || !json_object_object_get_ex(g, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

static void handle_update(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__UpdateTaskRequest *r = msg;
	struct shim_task *t = task_of(svc, call, r->id);
	if (t == NULL)
		return;
	if (r->resources == NULL)
		return reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "update of task %s has no resources", r->id);
	/* containerd sends the OCI linux.resources as JSON in the Any. */
	json_object *res = NULL;
	veil_err_t err = NULL;
	if (veil_json_parse((const char *)r->resources->value.data, r->resources->value.len, "resources", &res, &err) <
		    0 ||
	    !json_object_is_type(res, json_type_object)) {
		json_object_put(res);
		reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "update of task %s: %s", r->id,
			    err ? err->msg : "resources must be an object");
		veil_error_free(&err);
		return;
	}
	const struct veil_agent_limits limits = {
		.memory = resource(res, "memory", "limit"),
		.cpu_quota = resource(res, "cpu", "quota"),
		.cpu_period = (uint64_t)resource(res, "cpu", "period"),
		.pids = resource(res, "pids", "limit"),
	};
	json_object_put(res);
	if (limits.memory < -1 || limits.cpu_quota < -1 || limits.pids < -1 || (int64_t)limits.cpu_period < 0)
		return reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "update of task %s: a negative limit other than -1",
				   r->id);
	if (t->init.status != SHIM_RUNNING && t->init.status != SHIM_PAUSED)
		return reply_error(svc, call, VEIL_GRPC_FAILED_PRECONDITION, "task %s is not running", r->id);
	if (svc->ops->update(svc->pod, r->id, &limits, &err) < 0)
		return reply_err(svc, call, &err);
	reply_ok(svc, call, NULL);
}

static void handle_wait(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__WaitRequest *r = msg;
	struct shim_process *p = process_of(svc, call, r->id, r->exec_id, NULL);
	if (p == NULL)
		return;
	if (p->status == SHIM_STOPPED) {
		Google__Protobuf__Timestamp at;
		shim_timestamp_of(&p->exited_at, &at);
		Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
		resp.exit_status = p->exit_status;
		resp.exited_at = &at;
		return reply_ok(svc, call, &resp.base);
	}
	if (p->n_waits == SHIM_MAX_WAITS)
		return reply_error(svc, call, VEIL_GRPC_RESOURCE_EXHAUSTED, "%d waits for process %s of task %s already",
				   SHIM_MAX_WAITS, r->exec_id, r->id);
	/* Answered when the process exits; other calls go on meanwhile. */
	p->waits[p->n_waits++] = *call;
}

static void handle_stats(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__StatsRequest *r = msg;
	struct shim_task *t = task_of(svc, call, r->id);
	if (t == NULL)
		return;
	if (t->init.status != SHIM_RUNNING && t->init.status != SHIM_PAUSED)
		return reply_error(svc, call, VEIL_GRPC_FAILED_PRECONDITION, "task %s is not running", r->id);
	struct veil_agent_stats s;
	veil_err_t err = NULL;
	if (svc->ops->stats(svc->pod, r->id, &s, &err) < 0)
		return reply_err(svc, call, &err);
	/* The guest's cgroup is v2: containerd's own type for its figures. */
	Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
	cpu.usage_usec = s.cpu_usage_usec;
	cpu.user_usec = s.cpu_user_usec;
	cpu.system_usec = s.cpu_system_usec;
	cpu.nr_periods = s.cpu_nr_periods;
	cpu.nr_throttled = s.cpu_nr_throttled;
	cpu.throttled_usec = s.cpu_throttled_usec;
	Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
	mem.usage = s.memory_usage;
	mem.usage_limit = s.memory_limit;
	mem.anon = s.memory_anon;
	mem.file = s.memory_file;
	mem.kernel_stack = s.memory_kernel_stack;
	mem.slab = s.memory_slab;
	mem.shmem = s.memory_shmem;
	mem.pgfault = s.memory_pgfault;
	mem.pgmajfault = s.memory_pgmajfault;
	Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
	pids.current = s.pids_current;
	pids.limit = s.pids_limit;
	Io__Containerd__Cgroups__V2__MemoryEvents events = IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;
	events.oom = s.oom;
	events.oom_kill = s.oom_kill;
	Io__Containerd__Cgroups__V2__Metrics metrics = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
	metrics.cpu = &cpu;
	metrics.memory = &mem;
	metrics.pids = &pids;
	metrics.memory_events = &events;
	size_t len = protobuf_c_message_get_packed_size(&metrics.base);
	cleanup_free uint8_t *value = malloc(len ? len : 1);
	if (value == NULL)
		return reply_error(svc, call, VEIL_GRPC_INTERNAL, "out of memory");
	protobuf_c_message_pack(&metrics.base, value);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = (char *)io__containerd__cgroups__v2__metrics__descriptor.name;
	any.value.data = value;
	any.value.len = len;
	Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	resp.stats = &any;
	reply_ok(svc, call, &resp.base);
}

static void handle_connect(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__ConnectRequest *r = msg;
	struct shim_task *t = task_of(svc, call, r->id);
	if (t == NULL)
		return;
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	resp.shim_pid = (uint32_t)getpid();
	resp.task_pid = t->init.pid;
	resp.version = (char *)VEIL_VERSION;
	reply_ok(svc, call, &resp.base);
}

static void handle_shutdown(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg)
{
	const Containerd__Task__V2__ShutdownRequest *r = msg;
	/* A pod's shim serves its other containers on: containerd asks after
	 * every task's removal. */
	if (shim_service_tasks(svc) == 0 || r->now)
		svc->done = true;
	reply_ok(svc, call, NULL);
}

struct method {
	const char *name;
	const ProtobufCMessageDescriptor *request;
	void (*handle)(struct shim_service *svc, const struct veil_ttrpc_call *call, const void *msg);
};

static const struct method methods[] = {
	{ "State", &containerd__task__v2__state_request__descriptor, handle_state },
	{ "Create", &containerd__task__v2__create_task_request__descriptor, handle_create },
	{ "Start", &containerd__task__v2__start_request__descriptor, handle_start },
	{ "Delete", &containerd__task__v2__delete_request__descriptor, handle_delete },
	{ "Pids", &containerd__task__v2__pids_request__descriptor, handle_pids },
	{ "Pause", &containerd__task__v2__pause_request__descriptor, handle_pause },
	{ "Resume", &containerd__task__v2__resume_request__descriptor, handle_resume },
	{ "Checkpoint", &containerd__task__v2__checkpoint_task_request__descriptor, handle_checkpoint },
	{ "Kill", &containerd__task__v2__kill_request__descriptor, handle_kill },
	{ "Exec", &containerd__task__v2__exec_process_request__descriptor, handle_exec },
	{ "ResizePty", &containerd__task__v2__resize_pty_request__descriptor, handle_resize },
	{ "CloseIO", &containerd__task__v2__close_iorequest__descriptor, handle_close_io },
	{ "Update", &containerd__task__v2__update_task_request__descriptor, handle_update },
	{ "Wait", &containerd__task__v2__wait_request__descriptor, handle_wait },
	{ "Stats", &containerd__task__v2__stats_request__descriptor, handle_stats },
	{ "Connect", &containerd__task__v2__connect_request__descriptor, handle_connect },
	{ "Shutdown", &containerd__task__v2__shutdown_request__descriptor, handle_shutdown },
};
_Static_assert(sizeof(methods) / sizeof(methods[0]) == 17, "the Task service has 17 methods");

void shim_service_handle(void *opaque, struct veil_ttrpc_server *s, const struct veil_ttrpc_call *call,
			 const char *service, const char *method, const uint8_t *payload, size_t len)
{
	struct shim_service *svc = opaque;
	svc->server = s;
	if (strcmp(service, SHIM_TASK_SERVICE) != 0)
		return reply_error(svc, call, VEIL_GRPC_UNIMPLEMENTED, "service %.100s is not served here", service);
	const struct method *m = NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && m == NULL; i++)
		if (strcmp(methods[i].name, method) == 0)
			m = &methods[i];
	if (m == NULL)
		return reply_error(svc, call, VEIL_GRPC_UNIMPLEMENTED, "%s has no method %.100s", SHIM_TASK_SERVICE, method);
	char why[160];
	ProtobufCMessage *req = veil_rpc_unpack_message(m->request, payload, len, false, why, sizeof(why));
	if (req == NULL)
		return reply_error(svc, call, VEIL_GRPC_INVALID_ARGUMENT, "%s: %s", m->name, why);
	log_debug("%s", m->name);
	m->handle(svc, call, req);
	protobuf_c_message_free_unpacked(req, NULL);
}
