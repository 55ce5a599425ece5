#include "runtime/monitor_msg.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/control.h"
#include "runtime/state.h"

static const char *const op_names[] = {
	[VEIL_MONITOR_STATE] = "state", [VEIL_MONITOR_START] = "start",   [VEIL_MONITOR_KILL] = "kill",
	[VEIL_MONITOR_PAUSE] = "pause", [VEIL_MONITOR_RESUME] = "resume", [VEIL_MONITOR_EXEC] = "exec",
	[VEIL_MONITOR_RESIZE] = "resize", [VEIL_MONITOR_PS] = "ps",
	[VEIL_MONITOR_JOIN] = "join",
};
#define N_OPS (sizeof(op_names) / sizeof(op_names[0]))

json_object *veil_monitor_request_encode(const struct veil_monitor_request *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "op", json_object_new_string(op_names[r->op]));
	if (r->op == VEIL_MONITOR_KILL) {
		json_object_object_add(o, "signal", json_object_new_int(r->signal));
		json_object_object_add(o, "all", json_object_new_boolean(r->all));
	}
	if (r->exec_id != NULL)
		json_object_object_add(o, "exec_id", json_object_new_string(r->exec_id));
	if (r->process != NULL)
		json_object_object_add(o, "process", json_object_get(r->process));
	if (r->op == VEIL_MONITOR_JOIN) {
		json_object_object_add(o, "container_id", json_object_new_string(r->container_id));
		json_object_object_add(o, "bundle", json_object_new_string(r->bundle));
		json_object_object_add(o, "start", json_object_new_boolean(r->start));
	}
	return o;
}

/* 1 with *v if key is there with this type, 0 if absent, -1 with *err if of another type. */
static int member(json_object *o, const char *key, json_type type, json_object **v, veil_err_t *err)
{
	if (!json_object_object_get_ex(o, key, v))
		return 0;
	if (!json_object_is_type(*v, type))
		return veil_fail(err, EPROTO, "monitor request: \"%s\" is of the wrong type", key);
	return 1;
}

static int decode_join(json_object *msg, struct veil_monitor_request *r, veil_err_t *err)
{
	json_object *v;
	int rc;
	if ((rc = member(msg, "container_id", json_type_string, &v, err)) <= 0)
		return rc < 0 ? -1 : veil_fail(err, EPROTO, "join: no container_id");
	r->container_id = json_object_get_string(v);
	if ((rc = member(msg, "bundle", json_type_string, &v, err)) <= 0)
		return rc < 0 ? -1 : veil_fail(err, EPROTO, "join: no bundle");
	r->bundle = json_object_get_string(v);
	if ((rc = member(msg, "start", json_type_boolean, &v, err)) < 0)
		return -1;
	r->start = rc == 1 && json_object_get_boolean(v);
	return 0;
}

int veil_monitor_request_decode(json_object *msg, struct veil_monitor_request *r, veil_err_t *err)
{
	*r = (struct veil_monitor_request){ .signal = SIGTERM, .exec_id = "" };
	json_object *v;
	int rc = member(msg, "op", json_type_string, &v, err);
	if (rc <= 0)
		return rc < 0 ? -1 : veil_fail(err, EPROTO, "unknown request");
	const char *op = json_object_get_string(v);
	size_t i = 0;
	while (i < N_OPS && strcmp(op_names[i], op) != 0)
		i++;
	if (i == N_OPS)
		return veil_fail(err, EPROTO, "unknown request");
	r->op = (enum veil_monitor_op)i;
	if ((rc = member(msg, "signal", json_type_int, &v, err)) < 0)
		return -1;
	if (rc == 1) {
		int64_t sig = json_object_get_int64(v);
		if (sig < 1 || sig > 64)
			return veil_fail(err, EINVAL, "invalid signal");
		r->signal = (int)sig;
	}
	if ((rc = member(msg, "all", json_type_boolean, &v, err)) < 0)
		return -1;
	r->all = rc == 1 && json_object_get_boolean(v);
	if ((rc = member(msg, "exec_id", json_type_string, &v, err)) < 0)
		return -1;
	if (rc == 1)
		r->exec_id = json_object_get_string(v);
	if ((rc = member(msg, "process", json_type_object, &r->process, err)) < 0)
		return -1;
	if (rc == 0)
		r->process = NULL;
	if (r->op == VEIL_MONITOR_EXEC && r->process == NULL)
		return veil_fail(err, EPROTO, "exec: no process");
	return r->op == VEIL_MONITOR_JOIN ? decode_join(msg, r, err) : 0;
}

json_object *veil_monitor_reply_encode(const struct veil_monitor_reply *r)
{
	json_object *o = veil_ctl_ok_reply();
	if (r->status[0] != '\0')
		json_object_object_add(o, "status", json_object_new_string(r->status));
	if (r->n_pids > 0) {
		json_object *pids = json_object_new_array();
		for (size_t i = 0; i < r->n_pids; i++)
			json_object_array_add(pids, json_object_new_int(r->pids[i]));
		json_object_object_add(o, "pids", pids);
	}
	if (r->n_processes > 0) {
		json_object *procs = json_object_new_array();
		for (size_t i = 0; i < r->n_processes; i++) {
			const struct veil_monitor_process *p = &r->processes[i];
			json_object *e = json_object_new_object();
			json_object_object_add(e, "pid", json_object_new_int(p->pid));
			json_object_object_add(e, "ppid", json_object_new_int(p->ppid));
			json_object_object_add(e, "uid", json_object_new_int64(p->uid));
			json_object_object_add(e, "cpu_ticks", json_object_new_uint64(p->cpu_ticks));
			json_object_object_add(e, "cmd", json_object_new_string(p->cmd));
			json_object_array_add(procs, e);
		}
		json_object_object_add(o, "processes", procs);
	}
	return o;
}

static void decode_process(json_object *e, struct veil_monitor_process *p)
{
	json_object *v;
	if (json_object_object_get_ex(e, "pid", &v))
		p->pid = (pid_t)json_object_get_int(v);
	if (json_object_object_get_ex(e, "ppid", &v))
		p->ppid = (pid_t)json_object_get_int(v);
	if (json_object_object_get_ex(e, "uid", &v))
		p->uid = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(e, "cpu_ticks", &v))
		p->cpu_ticks = json_object_get_uint64(v);
	if (json_object_object_get_ex(e, "cmd", &v) && json_object_is_type(v, json_type_string))
		snprintf(p->cmd, sizeof(p->cmd), "%s", json_object_get_string(v));
}

int veil_monitor_reply_decode(json_object *msg, struct veil_monitor_reply *r, veil_err_t *err)
{
	memset(r, 0, sizeof(*r));
	json_object *v;
	if (json_object_object_get_ex(msg, "error", &v))
		return veil_fail(err, 0, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(msg, "status", &v) && json_object_is_type(v, json_type_string))
		snprintf(r->status, sizeof(r->status), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(msg, "pids", &v) && json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n && r->n_pids < VEIL_MONITOR_MAX_PIDS; i++)
			r->pids[r->n_pids++] = (pid_t)json_object_get_int(json_object_array_get_idx(v, i));
	}
	if (json_object_object_get_ex(msg, "processes", &v) && json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n && r->n_processes < VEIL_MONITOR_MAX_PROCESSES; i++)
			decode_process(json_object_array_get_idx(v, i), &r->processes[r->n_processes++]);
	}
	return 0;
}

int veil_monitor_call(const char *root, const char *id, const struct veil_monitor_request *req,
		      struct veil_monitor_reply *reply, veil_err_t *err)
{
	cleanup_free char *sock = veil_state_file(root, id, "monitor.sock");
	json_object *msg = veil_monitor_request_encode(req);
	json_object *answer = NULL;
	int rc = veil_ctl_call(sock, msg, NULL, 0, &answer, err);
	json_object_put(msg);
	static struct veil_monitor_reply ignored;
	if (rc == 0)
		rc = veil_monitor_reply_decode(answer, reply != NULL ? reply : &ignored, err);
	json_object_put(answer);
	return rc;
}

json_object *veil_monitor_exit_encode(const struct veil_exit_status *st)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "exited", json_object_new_boolean(1));
	json_object_object_add(o, "exit_code", json_object_new_int(st->exit_code));
	json_object_object_add(o, "signal", json_object_new_int(st->signal));
	return o;
}

int veil_monitor_exit_decode(json_object *msg, struct veil_exit_status *st)
{
	if (!json_object_object_get_ex(msg, "exited", NULL))
		return 0;
	*st = (struct veil_exit_status){
		.exit_code = json_object_get_int(json_object_object_get(msg, "exit_code")),
		.signal = json_object_get_int(json_object_object_get(msg, "signal")),
	};
	return 1;
}

int veil_monitor_client(const char *sock, const struct veil_monitor_request *req, const int fds[3], int signal_fd,
			void (*started)(void *arg), void *arg, veil_err_t *err)
{
	cleanup_close int conn = veil_ctl_connect(sock, err);
	if (conn < 0)
		return -1;
	json_object *msg = veil_monitor_request_encode(req);
	int rc = veil_ctl_send(conn, msg, fds, 3, err);
	json_object_put(msg);
	if (rc < 0)
		return -1;
	int got[VEIL_CTL_MAX_FDS];
	if (veil_ctl_recv(conn, &msg, got, -1, err) < 0)
		return -1;
	if (msg == NULL)
		return veil_fail(err, 0, "the container monitor exited");
	static struct veil_monitor_reply reply;
	rc = veil_monitor_reply_decode(msg, &reply, err);
	json_object_put(msg);
	if (rc < 0)
		return -1;
	if (started != NULL)
		started(arg);
	for (;;) {
		struct pollfd pfds[2] = { { .fd = conn, .events = POLLIN }, { .fd = signal_fd, .events = POLLIN } };
		if (poll(pfds, 2, -1) < 0 && errno != EINTR)
			return veil_fail(err, errno, "poll");
		if (pfds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				const struct veil_monitor_request forward = {
					.op = si.ssi_signo == SIGWINCH ? VEIL_MONITOR_RESIZE : VEIL_MONITOR_KILL,
					.signal = (int)si.ssi_signo, .exec_id = req->exec_id,
				};
				json_object *fwd = veil_monitor_request_encode(&forward);
				if (veil_ctl_send(conn, fwd, NULL, 0, err) < 0)
					veil_error_free(err);
				json_object_put(fwd);
			}
		}
		if (!(pfds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (veil_ctl_recv(conn, &msg, got, 0, err) < 0)
			return -1;
		if (msg == NULL)
			return veil_fail(err, 0, "the container stopped");
		struct veil_exit_status st;
		int exited = veil_monitor_exit_decode(msg, &st);
		json_object_put(msg); /* if not the exit, a reply to a forwarded signal */
		if (exited)
			return veil_exit_status_code(&st);
	}
}
