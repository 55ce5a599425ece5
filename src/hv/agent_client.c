#include "hv/agent_client.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "attest/initdata_config.h"
#include "hv/guest_spec.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/trace.h"
#include "proto/contract.h"

void veil_agent_client_init(struct veil_agent_client *c, int fd, int vm_pidfd, int signal_fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->vm_pidfd = vm_pidfd;
	c->signal_fd = signal_fd;
	c->next_request_id = 1;
	c->next_io_stream = 2;
	veil_frame_reader_init(&c->reader);
}

void veil_agent_client_release(struct veil_agent_client *c)
{
	veil_frame_reader_release(&c->reader);
}

uint32_t veil_agent_new_io_stream(struct veil_agent_client *c)
{
	uint32_t id = c->next_io_stream;
	c->next_io_stream += 2;
	return id;
}

static int send_request(struct veil_agent_client *c, enum veil_method m, const ProtobufCMessage *req,
			int64_t timeout_ns, uint32_t *request_id, veil_err_t *err)
{
	size_t len;
	cleanup_free uint8_t *payload = veil_rpc_pack_request(m, req, timeout_ns, &len);
	if (payload == NULL)
		return veil_fail(err, EMSGSIZE, "agent request %s", veil_method_name(m));
	*request_id = c->next_request_id;
	c->next_request_id += 2;
	int rc = veil_frame_write(c->fd, VEIL_FRAME_REQUEST, 0, *request_id, payload, len);
	if (rc < 0)
		return veil_fail(err, -rc, "sending %s to the agent", veil_method_name(m));
	return 0;
}

static int send_async(struct veil_agent_client *c, enum veil_method m, const ProtobufCMessage *req, uint32_t *request_id,
		      veil_err_t *err)
{
	return send_request(c, m, req, 0, request_id, err);
}

int veil_agent_send_data(struct veil_agent_client *c, uint32_t stream, const void *buf, size_t len, bool closed,
			 veil_err_t *err)
{
	int rc = veil_frame_write(c->fd, VEIL_FRAME_DATA, closed ? VEIL_FRAME_FLAG_CLOSED : 0, stream, buf, len);
	if (rc < 0)
		return veil_fail(err, -rc, "sending stdin to the agent");
	return 0;
}

/* The guest's spans go to the trace; the first is the request's own, which
 * with the host's times (sent_ns; 0 if not known) places the guest's clock. */
static void note_spans(const Veil__Agent__V1__Response *env, int64_t sent_ns)
{
	if (!veil_trace_enabled() || env->n_spans == 0)
		return;
	const Veil__Agent__V1__Span *req = env->spans[0];
	if (sent_ns != 0)
		veil_trace_clock_sample(sent_ns, veil_trace_now_ns(), req->start_ns, req->end_ns);
	for (size_t i = 0; i < env->n_spans && i < VEIL_AGENT_MAX_SPANS; i++)
		veil_trace_guest(env->spans[i]->name, env->spans[i]->start_ns, env->spans[i]->end_ns);
}

static int decode(enum veil_method m, const uint8_t *payload, size_t len, int64_t sent_ns, ProtobufCMessage **resp,
		  int *code, veil_err_t *err)
{
	*code = VEIL_RPC_INTERNAL;
	Veil__Agent__V1__Response *env = veil__agent__v1__response__unpack(NULL, len, payload);
	if (env == NULL)
		return veil_fail(err, EPROTO, "agent: malformed %s response", veil_method_name(m));
	note_spans(env, sent_ns);
	int rc = 0;
	*code = env->status ? env->status->code : VEIL_RPC_OK;
	if (*code != VEIL_RPC_OK) {
		rc = veil_fail(err, 0, "%s", env->status->message[0] ? env->status->message : "agent error");
	} else {
		*resp = protobuf_c_message_unpack(veil_method_response_descriptor(m), NULL, env->payload.len,
						  env->payload.data);
		if (*resp == NULL)
			rc = veil_fail(err, EPROTO, "agent: malformed %s response payload", veil_method_name(m));
	}
	veil__agent__v1__response__free_unpacked(env, NULL);
	return rc;
}

int veil_agent_decode_response(enum veil_method m, const uint8_t *payload, size_t len, ProtobufCMessage **resp,
			       int *code, veil_err_t *err)
{
	return decode(m, payload, len, 0, resp, code, err);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Dispatches buffered frames. A response with id `awaited` is returned through
 * *awaited_payload (copied) instead of the event handler. */
static int dispatch(struct veil_agent_client *c, uint32_t awaited, uint8_t **awaited_payload, size_t *awaited_len,
		    veil_err_t *err)
{
	for (;;) {
		struct veil_frame_header h;
		const uint8_t *payload;
		int rc = veil_frame_reader_next(&c->reader, &h, &payload);
		if (rc == 0)
			return 0;
		if (rc < 0)
			return veil_fail(err, -rc, "agent sent a bad frame");
		switch (h.type) {
		case VEIL_FRAME_RESPONSE:
			if (awaited != 0 && h.stream_id == awaited) {
				*awaited_payload = malloc(h.length ? h.length : 1);
				if (*awaited_payload == NULL)
					return veil_fail(err, ENOMEM, "agent response");
				memcpy(*awaited_payload, payload, h.length);
				*awaited_len = h.length;
			} else if (c->events.response) {
				c->events.response(c->events.opaque, h.stream_id, payload, h.length);
			}
			break;
		case VEIL_FRAME_DATA:
			if (c->events.data)
				c->events.data(c->events.opaque, h.stream_id, payload, h.length,
					       h.flags & VEIL_FRAME_FLAG_CLOSED);
			break;
		case VEIL_FRAME_WINDOW:
			if (c->events.window)
				c->events.window(c->events.opaque, h.stream_id, get_u32(payload));
			break;
		default:
			return veil_fail(err, EPROTO, "agent sent an unexpected frame type %u", h.type);
		}
	}
}

/* Reads what the channel has into the frame reader. */
static int fill(struct veil_agent_client *c, veil_err_t *err)
{
	size_t room;
	uint8_t *space = veil_frame_reader_space(&c->reader, &room);
	if (space == NULL)
		return veil_fail(err, ENOMEM, "agent channel");
	ssize_t n = read(c->fd, space, room);
	if (n == 0)
		return veil_fail(err, 0, "the agent closed the channel (the VM exited)");
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		return veil_fail(err, errno, "reading from the agent");
	}
	veil_frame_reader_commit(&c->reader, (size_t)n);
	return 0;
}

int veil_agent_pump(struct veil_agent_client *c, veil_err_t *err)
{
	if (fill(c, err) < 0)
		return -1;
	return dispatch(c, 0, NULL, NULL, err);
}

/* Waits for the response to request `id`; fails on timeout, VM exit or signal. */
static int await_response(struct veil_agent_client *c, uint32_t id, int timeout_ms, uint8_t **payload, size_t *len,
			  veil_err_t *err)
{
	long long deadline = veil_now_ms() + timeout_ms;
	*payload = NULL;
	if (dispatch(c, id, payload, len, err) < 0)
		return -1;
	while (*payload == NULL) {
		long long left = deadline - veil_now_ms();
		if (left <= 0)
			return veil_fail(err, ETIMEDOUT, "the agent did not answer within %d s", timeout_ms / 1000);
		struct pollfd pfds[3] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = c->vm_pidfd, .events = POLLIN },
			{ .fd = c->signal_fd, .events = POLLIN },
		};
		int rc = poll(pfds, 3, (int)left);
		if (rc < 0 && errno != EINTR)
			return veil_fail(err, errno, "poll");
		if (rc <= 0)
			continue;
		if (pfds[2].revents & POLLIN) {
			c->pending_signal = 1;
			return veil_fail(err, EINTR, "interrupted by a signal");
		}
		if (pfds[0].revents & (POLLIN | POLLHUP)) {
			if (fill(c, err) < 0 || dispatch(c, id, payload, len, err) < 0)
				return -1;
		} else if (pfds[1].revents & POLLIN) {
			return veil_fail(err, 0, "the VM exited before the agent answered");
		}
	}
	return 0;
}

/* Sends a request and waits up to timeout_ms for its response, dispatching
 * other frames meanwhile. *resp (free with protobuf_c_message_free_unpacked)
 * is the method's response message. An agent error becomes *err. */
static int call(struct veil_agent_client *c, enum veil_method m, const ProtobufCMessage *req, ProtobufCMessage **resp,
		int timeout_ms, veil_err_t *err)
{
	uint32_t id;
	int span = -1;
	int64_t sent_ns = 0;
	if (veil_trace_enabled()) {
		char name[48];
		snprintf(name, sizeof(name), "agent.%s", veil_method_name(m));
		span = veil_trace_begin(name);
		sent_ns = veil_trace_now_ns();
	}
	if (send_request(c, m, req, (int64_t)timeout_ms * 1000000, &id, err) < 0)
		return -1;
	cleanup_free uint8_t *payload = NULL;
	size_t len = 0;
	if (await_response(c, id, timeout_ms, &payload, &len, err) < 0)
		return -1;
	int code;
	int rc = decode(m, payload, len, sent_ns, resp, &code, err);
	veil_trace_end(span);
	return rc;
}

int veil_agent_hello(struct veil_agent_client *c, int timeout_ms, veil_err_t *err)
{
	uint8_t entropy[64];
	if (getrandom(entropy, sizeof(entropy), 0) != (ssize_t)sizeof(entropy))
		return veil_fail(err, errno, "getrandom");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	Veil__Agent__V1__HelloRequest req = VEIL__AGENT__V1__HELLO_REQUEST__INIT;
	req.protocol_version = VEIL_PROTOCOL_VERSION;
	req.entropy.data = entropy;
	req.entropy.len = sizeof(entropy);
	req.realtime_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
	/* The host greets a VM only when it has just booted or resumed it, so the
	 * guest's clock may lag by however long the VM was paused. */
	req.resumed = true;
	req.trace = veil_trace_enabled();
	ProtobufCMessage *resp = NULL;
	int rc = call(c, VEIL_METHOD_HELLO, &req.base, &resp, timeout_ms, err);
	explicit_bzero(entropy, sizeof(entropy));
	if (rc < 0)
		return -1;
	Veil__Agent__V1__HelloResponse *hr = (Veil__Agent__V1__HelloResponse *)resp;
	rc = hr->protocol_version == VEIL_PROTOCOL_VERSION
		     ? 0
		     : veil_fail(err, 0, "agent speaks protocol %u, veil %u", hr->protocol_version, VEIL_PROTOCOL_VERSION);
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

int veil_agent_hello_once(int fd, int vm_pidfd, int signal_fd, int timeout_ms, veil_err_t *err)
{
	struct veil_agent_client agent;
	veil_agent_client_init(&agent, fd, vm_pidfd, signal_fd);
	int rc = veil_agent_hello(&agent, timeout_ms, err);
	veil_agent_client_release(&agent);
	return rc;
}

/* ---- typed requests: each message is built here and nowhere else ---- */

/* The request comes from guest_spec.c, which builds it as runc's specconv builds its configuration. */
int veil_agent_create_container(struct veil_agent_client *c, const char *id, const struct oci_spec *spec,
				const struct veil_container_fs *fs, bool own_netns, const struct veil_joined_namespaces *joined,
				const struct veil_secret_ref *secrets, size_t n_secrets, int timeout_ms, veil_err_t *err)
{
	struct veil_guest_request g;
	if (veil_guest_request_build(&g, id, fs, spec, own_netns, joined, err) < 0)
		return -1;
	/* Only names and KBS paths: the agent fetches the secrets themselves. */
	cleanup_free Veil__Agent__V1__Secret *secret_msgs = calloc(n_secrets + 1, sizeof(*secret_msgs));
	cleanup_free Veil__Agent__V1__Secret **secret_ptrs = calloc(n_secrets + 1, sizeof(*secret_ptrs));
	if (secret_msgs == NULL || secret_ptrs == NULL) {
		veil_guest_request_release(&g);
		return veil_fail(err, ENOMEM, "create container");
	}
	for (size_t i = 0; i < n_secrets; i++) {
		veil__agent__v1__secret__init(&secret_msgs[i]);
		secret_msgs[i].name = (char *)secrets[i].name;
		secret_msgs[i].resource = (char *)secrets[i].path;
		secret_ptrs[i] = &secret_msgs[i];
	}
	g.req.secrets = secret_ptrs;
	g.req.n_secrets = n_secrets;
	ProtobufCMessage *resp = NULL;
	int rc = call(c, VEIL_METHOD_CREATE_CONTAINER, &g.req.base, &resp, timeout_ms, err);
	veil_guest_request_release(&g);
	if (rc < 0)
		return veil_fail_context(err, "creating the container in the guest");
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int veil_agent_configure_interface(struct veil_agent_client *c, const struct veil_agent_interface *ifc, int timeout_ms,
				   veil_err_t *err)
{
	Veil__Agent__V1__ConfigureInterfaceRequest req = VEIL__AGENT__V1__CONFIGURE_INTERFACE_REQUEST__INIT;
	req.mac = (char *)ifc->mac;
	req.name = (char *)ifc->name;
	req.mtu = ifc->mtu;
	req.addresses = (char **)ifc->addresses;
	req.n_addresses = ifc->n_addresses;
	req.gateway = (char *)ifc->gateway;
	ProtobufCMessage *resp = NULL;
	if (call(c, VEIL_METHOD_CONFIGURE_INTERFACE, &req.base, &resp, timeout_ms, err) < 0)
		return veil_fail_context(err, "configuring the guest's network interface");
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int veil_agent_exec(struct veil_agent_client *c, const char *container_id, const char *exec_id,
		    const struct oci_process *process, const struct oci_process *container_init,
		    const struct veil_agent_streams *streams, int timeout_ms, veil_err_t *err)
{
	Veil__Agent__V1__ExecProcessRequest req = VEIL__AGENT__V1__EXEC_PROCESS_REQUEST__INIT;
	Veil__Agent__V1__Process msg;
	if (veil_guest_process(&msg, process, container_init, err) < 0)
		return -1;
	req.container_id = (char *)container_id;
	req.exec_id = (char *)exec_id;
	req.process = &msg;
	req.stdin_stream = streams->in;
	req.stdout_stream = streams->out;
	req.stderr_stream = streams->err;
	ProtobufCMessage *resp = NULL;
	int rc = call(c, VEIL_METHOD_EXEC_PROCESS, &req.base, &resp, timeout_ms, err);
	veil_guest_process_release(&msg);
	if (rc < 0)
		return -1;
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int veil_agent_wait_send(struct veil_agent_client *c, const char *container_id, const char *exec_id,
			 uint32_t *request_id, veil_err_t *err)
{
	Veil__Agent__V1__WaitProcessRequest req = VEIL__AGENT__V1__WAIT_PROCESS_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.exec_id = (char *)exec_id;
	return send_async(c, VEIL_METHOD_WAIT_PROCESS, &req.base, request_id, err);
}

static void take_wait_status(ProtobufCMessage *resp, int *exit_code, int *signal)
{
	const Veil__Agent__V1__WaitProcessResponse *w = (const Veil__Agent__V1__WaitProcessResponse *)resp;
	*exit_code = w->exit_code;
	*signal = w->signal;
	protobuf_c_message_free_unpacked(resp, NULL);
}

int veil_agent_wait_result(const uint8_t *payload, size_t len, int *exit_code, int *signal, veil_err_t *err)
{
	ProtobufCMessage *resp = NULL;
	int code;
	if (veil_agent_decode_response(VEIL_METHOD_WAIT_PROCESS, payload, len, &resp, &code, err) < 0)
		return -1;
	take_wait_status(resp, exit_code, signal);
	return 0;
}

int veil_agent_wait(struct veil_agent_client *c, const char *container_id, const char *exec_id, int timeout_ms,
		    int *exit_code, int *signal, veil_err_t *err)
{
	Veil__Agent__V1__WaitProcessRequest req = VEIL__AGENT__V1__WAIT_PROCESS_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.exec_id = (char *)exec_id;
	ProtobufCMessage *resp = NULL;
	if (call(c, VEIL_METHOD_WAIT_PROCESS, &req.base, &resp, timeout_ms, err) < 0)
		return -1;
	take_wait_status(resp, exit_code, signal);
	return 0;
}

static void signal_request(Veil__Agent__V1__SignalProcessRequest *req, const char *container_id, const char *exec_id,
			   int signal, bool all)
{
	veil__agent__v1__signal_process_request__init(req);
	req->container_id = (char *)container_id;
	req->exec_id = (char *)exec_id;
	req->signal = (uint32_t)signal;
	req->all = all;
}

int veil_agent_signal(struct veil_agent_client *c, const char *container_id, const char *exec_id, int signal, bool all,
		      int timeout_ms, veil_err_t *err)
{
	Veil__Agent__V1__SignalProcessRequest req;
	signal_request(&req, container_id, exec_id, signal, all);
	ProtobufCMessage *resp = NULL;
	if (call(c, VEIL_METHOD_SIGNAL_PROCESS, &req.base, &resp, timeout_ms, err) < 0)
		return -1;
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int veil_agent_signal_send(struct veil_agent_client *c, const char *container_id, const char *exec_id, int signal,
			   bool all, veil_err_t *err)
{
	Veil__Agent__V1__SignalProcessRequest req;
	signal_request(&req, container_id, exec_id, signal, all);
	uint32_t id;
	return send_async(c, VEIL_METHOD_SIGNAL_PROCESS, &req.base, &id, err);
}

int veil_agent_resize_send(struct veil_agent_client *c, const char *container_id, const char *exec_id, unsigned rows,
			   unsigned cols, veil_err_t *err)
{
	Veil__Agent__V1__ResizeTerminalRequest req = VEIL__AGENT__V1__RESIZE_TERMINAL_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.exec_id = (char *)exec_id;
	req.rows = rows;
	req.cols = cols;
	uint32_t id;
	return send_async(c, VEIL_METHOD_RESIZE_TERMINAL, &req.base, &id, err);
}

int veil_agent_list_processes(struct veil_agent_client *c, const char *container_id, int timeout_ms,
			      Veil__Agent__V1__ListProcessesResponse **out, veil_err_t *err)
{
	Veil__Agent__V1__ListProcessesRequest req = VEIL__AGENT__V1__LIST_PROCESSES_REQUEST__INIT;
	req.container_id = (char *)container_id;
	ProtobufCMessage *msg = NULL;
	if (call(c, VEIL_METHOD_LIST_PROCESSES, &req.base, &msg, timeout_ms, err) < 0)
		return -1;
	*out = (Veil__Agent__V1__ListProcessesResponse *)msg;
	return 0;
}

int veil_agent_scrub(struct veil_agent_client *c, const void *padding, size_t len, int timeout_ms,
		     struct veil_agent_scrub_result *out, veil_err_t *err)
{
	Veil__Agent__V1__ScrubRequest req = VEIL__AGENT__V1__SCRUB_REQUEST__INIT;
	req.padding.data = (uint8_t *)padding;
	req.padding.len = len;
	req.trace = veil_trace_enabled();
	ProtobufCMessage *msg = NULL;
	if (call(c, VEIL_METHOD_SCRUB, &req.base, &msg, timeout_ms, err) < 0)
		return -1;
	const Veil__Agent__V1__ScrubResponse *resp = (const Veil__Agent__V1__ScrubResponse *)msg;
	*out = (struct veil_agent_scrub_result){
		.processes_left = resp->processes_left, .mounts_left = resp->mounts_left,
		.containers_left = resp->containers_left, .mem_free_kib = resp->mem_free_kib,
	};
	protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}

int veil_agent_destroy_container(struct veil_agent_client *c, const char *container_id, int timeout_ms,
				 veil_err_t *err)
{
	Veil__Agent__V1__DestroyContainerRequest req = VEIL__AGENT__V1__DESTROY_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)container_id;
	ProtobufCMessage *resp = NULL;
	if (call(c, VEIL_METHOD_DESTROY_CONTAINER, &req.base, &resp, timeout_ms, err) < 0)
		return veil_fail_context(err, "destroying container %s in the guest", container_id);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int veil_agent_update_container(struct veil_agent_client *c, const char *container_id,
				const struct veil_agent_limits *limits, int timeout_ms, veil_err_t *err)
{
	Veil__Agent__V1__Resources res = VEIL__AGENT__V1__RESOURCES__INIT;
	res.memory_limit = limits->memory;
	res.cpu_quota = limits->cpu_quota;
	res.cpu_period = limits->cpu_period;
	res.pids_limit = limits->pids;
	Veil__Agent__V1__UpdateContainerRequest req = VEIL__AGENT__V1__UPDATE_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.resources = &res;
	ProtobufCMessage *resp = NULL;
	if (call(c, VEIL_METHOD_UPDATE_CONTAINER, &req.base, &resp, timeout_ms, err) < 0)
		return veil_fail_context(err, "updating the limits of container %s", container_id);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int veil_agent_freeze_container(struct veil_agent_client *c, const char *container_id, bool frozen, int timeout_ms,
				veil_err_t *err)
{
	Veil__Agent__V1__FreezeContainerRequest req = VEIL__AGENT__V1__FREEZE_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.frozen = frozen;
	ProtobufCMessage *resp = NULL;
	if (call(c, VEIL_METHOD_FREEZE_CONTAINER, &req.base, &resp, timeout_ms, err) < 0)
		return veil_fail_context(err, "%s container %s", frozen ? "pausing" : "resuming", container_id);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int veil_agent_stats(struct veil_agent_client *c, const char *container_id, struct veil_agent_stats *out,
		     int timeout_ms, veil_err_t *err)
{
	Veil__Agent__V1__StatsContainerRequest req = VEIL__AGENT__V1__STATS_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)container_id;
	ProtobufCMessage *msg = NULL;
	if (call(c, VEIL_METHOD_STATS_CONTAINER, &req.base, &msg, timeout_ms, err) < 0)
		return veil_fail_context(err, "statistics of container %s", container_id);
	const Veil__Agent__V1__StatsContainerResponse *r = (const Veil__Agent__V1__StatsContainerResponse *)msg;
	*out = (struct veil_agent_stats){
		.cpu_usage_usec = r->cpu_usage_usec,
		.cpu_user_usec = r->cpu_user_usec,
		.cpu_system_usec = r->cpu_system_usec,
		.cpu_nr_periods = r->cpu_nr_periods,
		.cpu_nr_throttled = r->cpu_nr_throttled,
		.cpu_throttled_usec = r->cpu_throttled_usec,
		.memory_usage = r->memory_usage,
		.memory_limit = r->memory_limit,
		.memory_anon = r->memory_anon,
		.memory_file = r->memory_file,
		.memory_kernel_stack = r->memory_kernel_stack,
		.memory_slab = r->memory_slab,
		.memory_shmem = r->memory_shmem,
		.memory_pgfault = r->memory_pgfault,
		.memory_pgmajfault = r->memory_pgmajfault,
		.pids_current = r->pids_current,
		.pids_limit = r->pids_limit,
		.oom = r->oom,
		.oom_kill = r->oom_kill,
	};
	protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}

int veil_agent_oom_event_send(struct veil_agent_client *c, uint32_t *request_id, veil_err_t *err)
{
	Veil__Agent__V1__GetOOMEventRequest req = VEIL__AGENT__V1__GET_OOMEVENT_REQUEST__INIT;
	return send_async(c, VEIL_METHOD_GET_OOM_EVENT, &req.base, request_id, err);
}

int veil_agent_oom_event_result(const uint8_t *payload, size_t len, char *container_id, size_t size,
				veil_err_t *err)
{
	ProtobufCMessage *resp = NULL;
	int code;
	if (veil_agent_decode_response(VEIL_METHOD_GET_OOM_EVENT, payload, len, &resp, &code, err) < 0)
		return -1;
	snprintf(container_id, size, "%s", ((const Veil__Agent__V1__GetOOMEventResponse *)resp)->container_id);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}
