/* The shim's Task service over ttrpc, against a pod without a VM: each
 * method's answers and states, Waits answered when the process exits while
 * other calls go on, the events, and containerd's errors for bad requests.
 * Also the binary:// URI of shim/io.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "github.com/containerd/cgroups/v2/stats/metrics.pb-c.h"
#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "proto/rpc.h"
#include "shim/io.h"
#include "shim/task.h"
#include "stub_pod.h"
#include "tap.h"

static struct stub_pod pod;
static struct shim_service svc;
static struct veil_ttrpc_server server;
static int peer = -1;
static char topics[64][32];
static size_t n_topics;

static void record_event(void *opaque, const char *topic, const ProtobufCMessage *event)
{
	(void)opaque;
	(void)event;
	if (n_topics < 64)
		snprintf(topics[n_topics++], sizeof(topics[0]), "%s", topic);
}

static bool published(const char *topic)
{
	for (size_t i = 0; i < n_topics; i++)
		if (strcmp(topics[i], topic) == 0)
			return true;
	return false;
}

static void serve(void)
{
	struct pollfd pfds[VEIL_TTRPC_POLLFDS];
	veil_ttrpc_server_poll_fds(&server, pfds);
	if (poll(pfds, VEIL_TTRPC_POLLFDS, 200) > 0)
		veil_ttrpc_server_poll_done(&server, pfds);
}

static uint32_t next_stream = 1;

static uint32_t send_call(const char *method, const ProtobufCMessage *req)
{
	size_t len;
	uint8_t *buf = veil_rpc_pack_envelope(SHIM_TASK_SERVICE, method, req, 0, &len);
	uint32_t stream = next_stream;
	next_stream += 2;
	veil_frame_write(peer, VEIL_FRAME_REQUEST, 0, stream, buf, len);
	free(buf);
	serve();
	return stream;
}

/* The next response from the shim: its stream, code and payload (copied). */
struct answer {
	uint32_t stream;
	int code;
	char message[256];
	uint8_t payload[4096];
	size_t len;
};

static bool read_answer(struct answer *a)
{
	uint8_t hdr[VEIL_FRAME_HEADER_LEN];
	struct veil_frame_header h;
	if (recv(peer, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr) || veil_frame_header_decode(hdr, &h) < 0)
		return false;
	uint8_t *buf = malloc(h.length + 1);
	bool ok = recv(peer, buf, h.length, MSG_WAITALL) == (ssize_t)h.length;
	Veil__Agent__V1__Response *r = ok ? veil__agent__v1__response__unpack(NULL, h.length, buf) : NULL;
	free(buf);
	if (r == NULL)
		return false;
	a->stream = h.stream_id;
	a->code = r->status ? r->status->code : 0;
	snprintf(a->message, sizeof(a->message), "%s", r->status ? r->status->message : "");
	a->len = r->payload.len < sizeof(a->payload) ? r->payload.len : 0;
	if (a->len > 0)
		memcpy(a->payload, r->payload.data, a->len);
	veil__agent__v1__response__free_unpacked(r, NULL);
	return true;
}

static struct answer call(const char *method, const ProtobufCMessage *req)
{
	struct answer a = { .code = -1 };
	uint32_t stream = send_call(method, req);
	if (!read_answer(&a) || a.stream != stream)
		a.code = -1;
	return a;
}

static struct answer create(const char *id)
{
	Containerd__Task__V2__CreateTaskRequest r = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	r.id = (char *)id;
	r.bundle = "/run/bundle";
	r.stdout = "/run/fifo-out";
	return call("Create", &r.base);
}

static struct answer start(const char *id, const char *exec_id)
{
	Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
	r.id = (char *)id;
	r.exec_id = (char *)exec_id;
	return call("Start", &r.base);
}

static int status_of(const char *id, const char *exec_id)
{
	Containerd__Task__V2__StateRequest r = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	r.id = (char *)id;
	r.exec_id = (char *)exec_id;
	struct answer a = call("State", &r.base);
	if (a.code != 0)
		return -a.code;
	Containerd__Task__V2__StateResponse *s = containerd__task__v2__state_response__unpack(NULL, a.len, a.payload);
	int status = s ? (int)s->status : -100;
	containerd__task__v2__state_response__free_unpacked(s, NULL);
	return status;
}

static uint32_t wait_exit_status(const struct answer *a)
{
	Containerd__Task__V2__WaitResponse *w = containerd__task__v2__wait_response__unpack(NULL, a->len, a->payload);
	uint32_t status = w ? w->exit_status : 9999;
	containerd__task__v2__wait_response__free_unpacked(w, NULL);
	return status;
}

static void test_lifecycle(void)
{
	struct answer a = create("c1");
	Containerd__Task__V2__CreateTaskResponse *cr =
		containerd__task__v2__create_task_response__unpack(NULL, a.len, a.payload);
	CHECK(a.code == 0 && cr && cr->pid == STUB_POD_PID && pod.creates == 1, "Create: the pod creates it, its pid");
	containerd__task__v2__create_task_response__free_unpacked(cr, NULL);
	CHECK(published("/tasks/create"), "TaskCreate is published");
	CHECK(status_of("c1", "") == SHIM_CREATED, "State: CREATED");
	CHECK(create("c1").code == VEIL_GRPC_ALREADY_EXISTS, "a second Create of c1: ALREADY_EXISTS");
	CHECK(start("c1", "").code == 0 && pod.starts == 1 && status_of("c1", "") == SHIM_RUNNING,
	      "Start: RUNNING");
	CHECK(start("c1", "").code == VEIL_GRPC_FAILED_PRECONDITION, "starting it again: FAILED_PRECONDITION");
	CHECK(published("/tasks/start"), "TaskStart is published");

	/* A Wait pends, other calls go on. */
	Containerd__Task__V2__WaitRequest w = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	w.id = "c1";
	uint32_t wait_stream = send_call("Wait", &w.base);
	CHECK(status_of("c1", "") == SHIM_RUNNING, "while a Wait pends, State is answered");

	/* An exec: its spec is the OCI process, as JSON in an Any. */
	const char *process = "{\"args\": [\"sh\"], \"cwd\": \"/\"}";
	Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
	spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
	spec.value.data = (uint8_t *)process;
	spec.value.len = strlen(process);
	Containerd__Task__V2__ExecProcessRequest e = CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
	e.id = "c1";
	e.exec_id = "e1";
	e.spec = &spec;
	CHECK(call("Exec", &e.base).code == 0 && pod.execs == 1 && published("/tasks/exec-added"),
	      "Exec: the pod prepares it, TaskExecAdded");
	CHECK(call("Exec", &e.base).code == VEIL_GRPC_ALREADY_EXISTS, "the same exec id again: ALREADY_EXISTS");
	const char *bad = "{\"args\": []}";
	spec.value.data = (uint8_t *)bad;
	spec.value.len = strlen(bad);
	e.exec_id = "e2";
	struct answer bad_exec = call("Exec", &e.base);
	CHECK(bad_exec.code == VEIL_GRPC_INVALID_ARGUMENT, "an exec whose process has no args: INVALID_ARGUMENT (%s)",
	      bad_exec.message);
	spec.value.data = (uint8_t *)"{";
	spec.value.len = 1;
	CHECK(call("Exec", &e.base).code == VEIL_GRPC_INVALID_ARGUMENT, "an exec whose spec is not JSON: INVALID_ARGUMENT");
	CHECK(start("c1", "e1").code == 0 && status_of("c1", "e1") == SHIM_RUNNING && published("/tasks/exec-started"),
	      "Start of the exec: RUNNING, TaskExecStarted");

	Containerd__Task__V2__KillRequest k = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
	k.id = "c1";
	k.exec_id = "e1";
	k.signal = 15;
	CHECK(call("Kill", &k.base).code == 0 && pod.last_signal == 15 && strcmp(pod.last_exec, "e1") == 0,
	      "Kill: the signal goes to the process");
	k.signal = 65;
	CHECK(call("Kill", &k.base).code == VEIL_GRPC_INVALID_ARGUMENT, "signal 65: INVALID_ARGUMENT");

	Containerd__Task__V2__ResizePtyRequest rz = CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;
	rz.id = "c1";
	rz.exec_id = "e1";
	rz.width = 120;
	rz.height = 40;
	CHECK(call("ResizePty", &rz.base).code == 0 && pod.last_rows == 40 && pod.last_cols == 120,
	      "ResizePty: rows from height, columns from width");
	Containerd__Task__V2__CloseIORequest ci = CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;
	ci.id = "c1";
	ci.exec_id = "e1";
	ci.stdin = true;
	CHECK(call("CloseIO", &ci.base).code == 0 && pod.closes == 1, "CloseIO closes the process's stdin");

	shim_service_exited(&svc, "c1", "e1", 3);
	Containerd__Task__V2__DeleteRequest d = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
	d.id = "c1";
	d.exec_id = "e1";
	a = call("Delete", &d.base);
	Containerd__Task__V2__DeleteResponse *dr = containerd__task__v2__delete_response__unpack(NULL, a.len, a.payload);
	CHECK(a.code == 0 && dr && dr->exit_status == 3 && dr->pid == STUB_POD_PID, "Delete of the exited exec: its status");
	containerd__task__v2__delete_response__free_unpacked(dr, NULL);
	CHECK(status_of("c1", "e1") == -VEIL_GRPC_NOT_FOUND, "and it is gone");

	/* Pause, Resume, Update, Stats, Pids, Connect on the running init. */
	Containerd__Task__V2__PauseRequest p = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;
	p.id = "c1";
	CHECK(call("Pause", &p.base).code == 0 && pod.last_frozen && status_of("c1", "") == SHIM_PAUSED &&
		      published("/tasks/paused"),
	      "Pause: the container is frozen, PAUSED, TaskPaused");
	CHECK(call("Pause", &p.base).code == VEIL_GRPC_FAILED_PRECONDITION, "pausing it twice: FAILED_PRECONDITION");
	Containerd__Task__V2__ResumeRequest rs = CONTAINERD__TASK__V2__RESUME_REQUEST__INIT;
	rs.id = "c1";
	CHECK(call("Resume", &rs.base).code == 0 && !pod.last_frozen && status_of("c1", "") == SHIM_RUNNING &&
		      published("/tasks/resumed"),
	      "Resume: RUNNING, TaskResumed");
	const char *res = "{\"memory\": {\"limit\": 67108864}, \"cpu\": {\"quota\": 50000, \"period\": 100000},"
			  " \"pids\": {\"limit\": -1}}";
	Google__Protobuf__Any resources = GOOGLE__PROTOBUF__ANY__INIT;
	resources.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
	resources.value.data = (uint8_t *)res;
	resources.value.len = strlen(res);
	Containerd__Task__V2__UpdateTaskRequest u = CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
	u.id = "c1";
	u.resources = &resources;
	CHECK(call("Update", &u.base).code == 0 && pod.last_limits.memory == 67108864 && pod.last_limits.cpu_quota == 50000 &&
		      pod.last_limits.cpu_period == 100000 && pod.last_limits.pids == -1,
	      "Update: the limits of the JSON resources reach the pod");
	res = "{\"memory\": {\"limit\": -5}}";
	resources.value.data = (uint8_t *)res;
	resources.value.len = strlen(res);
	CHECK(call("Update", &u.base).code == VEIL_GRPC_INVALID_ARGUMENT, "a limit of -5: INVALID_ARGUMENT");
	Containerd__Task__V2__StatsRequest st = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
	st.id = "c1";
	a = call("Stats", &st.base);
	Containerd__Task__V2__StatsResponse *sr = containerd__task__v2__stats_response__unpack(NULL, a.len, a.payload);
	Io__Containerd__Cgroups__V2__Metrics *m =
		sr && sr->stats ? io__containerd__cgroups__v2__metrics__unpack(NULL, sr->stats->value.len,
									       sr->stats->value.data)
				: NULL;
	CHECK(m && strcmp(sr->stats->type_url, "io.containerd.cgroups.v2.Metrics") == 0 && m->memory &&
		      m->memory->usage == 1 << 20 && m->pids && m->pids->current == 3,
	      "Stats: the guest's figures as cgroup v2 Metrics");
	io__containerd__cgroups__v2__metrics__free_unpacked(m, NULL);
	containerd__task__v2__stats_response__free_unpacked(sr, NULL);
	Containerd__Task__V2__ConnectRequest cn = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	cn.id = "c1";
	a = call("Connect", &cn.base);
	Containerd__Task__V2__ConnectResponse *cnr = containerd__task__v2__connect_response__unpack(NULL, a.len, a.payload);
	CHECK(cnr && cnr->shim_pid == (uint32_t)getpid() && cnr->task_pid == STUB_POD_PID,
	      "Connect: the shim's pid and the task's");
	containerd__task__v2__connect_response__free_unpacked(cnr, NULL);

	/* The init exits: the pending Wait is answered, TaskExit published. */
	d.exec_id = "";
	CHECK(call("Delete", &d.base).code == VEIL_GRPC_FAILED_PRECONDITION, "Delete of a running task: FAILED_PRECONDITION");
	shim_service_exited(&svc, "c1", "", 137);
	a = (struct answer){ 0 };
	CHECK(read_answer(&a) && a.stream == wait_stream && a.code == 0 && wait_exit_status(&a) == 137,
	      "the pending Wait is answered with the exit status (137)");
	CHECK(published("/tasks/exit"), "TaskExit is published");
	k.exec_id = "";
	k.signal = 9;
	CHECK(call("Kill", &k.base).code == VEIL_GRPC_NOT_FOUND, "Kill of an exited process: NOT_FOUND");
	k.all = true;
	CHECK(call("Kill", &k.base).code == 0, "Kill --all of an exited container: fine");
	a = call("Wait", &w.base);
	CHECK(a.code == 0 && wait_exit_status(&a) == 137, "a Wait after the exit is answered at once");

	Containerd__Task__V2__ShutdownRequest sd = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
	create("c2");
	CHECK(call("Delete", &d.base).code == 0 && pod.removes == 2 && published("/tasks/delete"),
	      "Delete of the exited task: the pod removes it, TaskDelete");
	CHECK(call("Shutdown", &sd.base).code == 0 && !svc.done, "Shutdown while a task remains: the shim serves on");

	/* A created task killed before it started ends at once. */
	k.id = "c2";
	k.all = false;
	k.signal = 9;
	CHECK(call("Kill", &k.base).code == 0 && status_of("c2", "") == SHIM_STOPPED && pod.signals == 1,
	      "Kill of a created task: STOPPED without asking the pod");
	d.id = "c2";
	CHECK(call("Delete", &d.base).code == 0 && shim_service_tasks(&svc) == 0, "and Delete removes it");
	CHECK(call("Shutdown", &sd.base).code == 0 && svc.done, "Shutdown with no task left: the shim may exit");
	svc.done = false;
}

static void test_errors(void)
{
	CHECK(create("bad/id").code == VEIL_GRPC_INVALID_ARGUMENT, "an ID with a slash: INVALID_ARGUMENT");
	Containerd__Task__V2__CreateTaskRequest r = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	r.id = "ck";
	r.bundle = "/b";
	r.checkpoint = "/cp";
	CHECK(call("Create", &r.base).code == VEIL_GRPC_UNIMPLEMENTED, "Create from a checkpoint: UNIMPLEMENTED");
	r.checkpoint = "";
	r.bundle = "relative";
	CHECK(call("Create", &r.base).code == VEIL_GRPC_INVALID_ARGUMENT, "a relative bundle: INVALID_ARGUMENT");
	pod.fail_next = EBUSY;
	CHECK(create("c3").code == VEIL_GRPC_FAILED_PRECONDITION && shim_service_tasks(&svc) == 0,
	      "a pod that cannot create it: its error, and no task");
	Containerd__Task__V2__CheckpointTaskRequest ck = CONTAINERD__TASK__V2__CHECKPOINT_TASK_REQUEST__INIT;
	ck.id = "c3";
	struct answer a = call("Checkpoint", &ck.base);
	CHECK(a.code == VEIL_GRPC_UNIMPLEMENTED && strstr(a.message, "cannot checkpoint") != NULL,
	      "Checkpoint: UNIMPLEMENTED, saying why");
	CHECK(status_of("nope", "") == -VEIL_GRPC_NOT_FOUND, "State of an unknown task: NOT_FOUND");
	CHECK(call("Frobnicate", NULL).code == VEIL_GRPC_UNIMPLEMENTED, "an unknown method: UNIMPLEMENTED");
	/* A payload that is not the method's message. */
	size_t len;
	uint8_t junk[] = { 0x0a, 0x05, 'a' };
	Veil__Agent__V1__Request req = VEIL__AGENT__V1__REQUEST__INIT;
	req.service = SHIM_TASK_SERVICE;
	req.method = "State";
	req.payload.data = junk;
	req.payload.len = sizeof(junk);
	len = protobuf_c_message_get_packed_size(&req.base);
	uint8_t buf[256];
	protobuf_c_message_pack(&req.base, buf);
	veil_frame_write(peer, VEIL_FRAME_REQUEST, 0, 999, buf, len);
	serve();
	a = (struct answer){ 0 };
	CHECK(read_answer(&a) && a.stream == 999 && a.code == VEIL_GRPC_INVALID_ARGUMENT,
	      "a malformed State request: INVALID_ARGUMENT (%s)", a.message);
}

static void test_binary_uri(void)
{
	char *argv[8];
	veil_err_t err = NULL;
	CHECK(shim_io_binary_argv("binary:///usr/bin/log%20ger?a=1&b=x%2By&flag", argv, 8, &err) == 0 &&
		      strcmp(argv[0], "/usr/bin/log ger") == 0 && strcmp(argv[1], "a") == 0 && strcmp(argv[2], "1") == 0 &&
		      strcmp(argv[3], "b") == 0 && strcmp(argv[4], "x+y") == 0 && strcmp(argv[5], "flag") == 0 &&
		      argv[6] == NULL,
	      "binary://: the path and its query as arguments, %%-decoded");
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	CHECK(shim_io_binary_argv("binary://relative/logger", argv, 8, &err) < 0, "a relative logger path is refused");
	veil_error_free(&err);
	CHECK(shim_io_binary_argv("binary:///bin/x%00y", argv, 8, &err) < 0, "a NUL escape is refused");
	veil_error_free(&err);
	CHECK(shim_io_binary_argv("binary:///bin/x%4", argv, 8, &err) < 0, "a cut-off escape is refused");
	veil_error_free(&err);
	CHECK(shim_io_binary_argv("binary:///bin/x?a=1&b=2&c=3&d=4", argv, 8, &err) < 0 && strstr(err->msg, "arguments"),
	      "too many arguments are refused");
	veil_error_free(&err);
}

int main(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	peer = sv[0];
	svc = (struct shim_service){ .ops = &stub_pod_ops, .pod = &pod, .publish = record_event, .server = &server };
	veil_ttrpc_server_init(&server, -1, shim_service_handle, &svc);
	veil_ttrpc_server_adopt(&server, sv[1]);
	test_lifecycle();
	test_errors();
	test_binary_uri();
	shim_service_release(&svc);
	veil_ttrpc_server_release(&server);
	close(peer);
	return tap_done();
}
