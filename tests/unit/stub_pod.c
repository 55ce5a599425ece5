#include "stub_pod.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/oci_spec.h"

/* Notes the call; -1 if the script said it fails. */
static int note(struct stub_pod *s, unsigned *counter, const char *id, const char *exec_id, veil_err_t *err)
{
	(*counter)++;
	snprintf(s->last_id, sizeof(s->last_id), "%s", id);
	snprintf(s->last_exec, sizeof(s->last_exec), "%s", exec_id);
	if (s->fail_next == 0)
		return 0;
	int e = s->fail_next;
	s->fail_next = 0;
	return veil_fail_tagged(err, e, "the stub was told to fail");
}

static int stub_create(void *pod, const Containerd__Task__V2__CreateTaskRequest *req, uint32_t *pid, veil_err_t *err)
{
	*pid = STUB_POD_PID;
	return note(pod, &((struct stub_pod *)pod)->creates, req->id, "", err);
}

static int stub_add_exec(void *pod, const char *id, const char *exec_id, const struct shim_stdio *io,
			 json_object *process, veil_err_t *err)
{
	(void)io;
	struct oci_process *p = NULL;
	veil_err_t bad = NULL;
	if (oci_process_from_json(process, &p, &bad) < 0) {
		veil_fail_tagged(err, EINVAL, "%s", bad->msg);
		veil_error_free(&bad);
		return -1;
	}
	oci_process_free(p);
	return note(pod, &((struct stub_pod *)pod)->execs, id, exec_id, err);
}

static int stub_start(void *pod, const char *id, const char *exec_id, veil_err_t *err)
{
	return note(pod, &((struct stub_pod *)pod)->starts, id, exec_id, err);
}

static int stub_signal(void *pod, const char *id, const char *exec_id, int sig, bool all, veil_err_t *err)
{
	struct stub_pod *s = pod;
	s->last_signal = sig;
	s->last_all = all;
	return note(s, &s->signals, id, exec_id, err);
}

static int stub_remove(void *pod, const char *id, const char *exec_id, veil_err_t *err)
{
	return note(pod, &((struct stub_pod *)pod)->removes, id, exec_id, err);
}

static int stub_freeze(void *pod, const char *id, bool frozen, veil_err_t *err)
{
	struct stub_pod *s = pod;
	s->last_frozen = frozen;
	return note(s, &s->freezes, id, "", err);
}

static int stub_resize(void *pod, const char *id, const char *exec_id, unsigned rows, unsigned cols, veil_err_t *err)
{
	struct stub_pod *s = pod;
	s->last_rows = rows;
	s->last_cols = cols;
	return note(s, &s->resizes, id, exec_id, err);
}

static int stub_close_stdin(void *pod, const char *id, const char *exec_id, veil_err_t *err)
{
	return note(pod, &((struct stub_pod *)pod)->closes, id, exec_id, err);
}

static int stub_update(void *pod, const char *id, const struct veil_agent_limits *limits, veil_err_t *err)
{
	struct stub_pod *s = pod;
	s->last_limits = *limits;
	return note(s, &s->updates, id, "", err);
}

static int stub_stats(void *pod, const char *id, struct veil_agent_stats *out, veil_err_t *err)
{
	memset(out, 0, sizeof(*out));
	out->memory_usage = 1 << 20;
	out->pids_current = 3;
	return note(pod, &((struct stub_pod *)pod)->stats, id, "", err);
}

const struct shim_pod_ops stub_pod_ops = {
	.create = stub_create,
	.add_exec = stub_add_exec,
	.start = stub_start,
	.signal = stub_signal,
	.remove = stub_remove,
	.freeze = stub_freeze,
	.resize = stub_resize,
	.close_stdin = stub_close_stdin,
	.update = stub_update,
	.stats = stub_stats,
};

void stub_task_service_start(struct stub_task_service *t, int fd)
{
	memset(&t->pod, 0, sizeof(t->pod));
	t->svc = (struct shim_service){ .ops = &stub_pod_ops, .pod = &t->pod, .server = &t->server };
	veil_ttrpc_server_init(&t->server, -1, shim_service_handle, &t->svc);
	veil_ttrpc_server_adopt(&t->server, fd);
}

void stub_task_service_stop(struct stub_task_service *t)
{
	shim_service_release(&t->svc);
	veil_ttrpc_server_release(&t->server);
}
