#include "hv/agent_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/clock.h"

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

int veil_agent_send(struct veil_agent_client *c, enum veil_method m, const ProtobufCMessage *req, uint32_t *request_id,
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

int veil_agent_decode_response(enum veil_method m, const uint8_t *payload, size_t len, ProtobufCMessage **resp,
			       int *code, veil_err_t *err)
{
	*code = VEIL_RPC_INTERNAL;
	Veil__Agent__V1__Response *env = veil__agent__v1__response__unpack(NULL, len, payload);
	if (env == NULL)
		return veil_fail(err, EPROTO, "agent: malformed %s response", veil_method_name(m));
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

int veil_agent_call(struct veil_agent_client *c, enum veil_method m, const ProtobufCMessage *req,
		    ProtobufCMessage **resp, int timeout_ms, veil_err_t *err)
{
	uint32_t id;
	if (send_request(c, m, req, (int64_t)timeout_ms * 1000000, &id, err) < 0)
		return -1;
	cleanup_free uint8_t *payload = NULL;
	size_t len = 0;
	if (await_response(c, id, timeout_ms, &payload, &len, err) < 0)
		return -1;
	int code;
	return veil_agent_decode_response(m, payload, len, resp, &code, err);
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
	ProtobufCMessage *resp = NULL;
	int rc = veil_agent_call(c, VEIL_METHOD_HELLO, &req.base, &resp, timeout_ms, err);
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
