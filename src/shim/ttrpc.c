#include "shim/ttrpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/control.h"
#include "lib/log.h"
#include "proto/rpc.h"

/* ---- server ---- */

void veil_ttrpc_server_init(struct veil_ttrpc_server *s, int listen_fd, veil_ttrpc_handler handler, void *opaque)
{
	memset(s, 0, sizeof(*s));
	s->listen_fd = listen_fd;
	s->handler = handler;
	s->opaque = opaque;
	for (size_t i = 0; i < VEIL_TTRPC_MAX_CONNS; i++)
		s->conns[i].fd = -1;
}

static void conn_close(struct veil_ttrpc_conn *c)
{
	veil_close_fd(&c->fd);
	veil_frame_reader_release(&c->reader);
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_cap = 0;
}

void veil_ttrpc_server_release(struct veil_ttrpc_server *s)
{
	for (size_t i = 0; i < VEIL_TTRPC_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(&s->conns[i]);
	veil_close_fd(&s->listen_fd);
}

int veil_ttrpc_server_adopt(struct veil_ttrpc_server *s, int fd)
{
	for (uint32_t i = 0; i < VEIL_TTRPC_MAX_CONNS; i++) {
		struct veil_ttrpc_conn *c = &s->conns[i];
		if (c->fd >= 0)
			continue;
		c->fd = fd;
		c->generation = ++s->next_generation;
		veil_frame_reader_init(&c->reader);
		return 0;
	}
	return -1;
}

size_t veil_ttrpc_server_connections(const struct veil_ttrpc_server *s)
{
	size_t n = 0;
	for (size_t i = 0; i < VEIL_TTRPC_MAX_CONNS; i++)
		n += s->conns[i].fd >= 0;
	return n;
}

/* Writes as much of the queue as the peer takes now; false if the
 * connection broke (and was closed). */
static bool conn_flush(struct veil_ttrpc_conn *c)
{
	size_t done = 0;
	while (done < c->out_len) {
		ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		done += (size_t)n;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	return true;
}

void veil_ttrpc_server_flush(struct veil_ttrpc_server *s)
{
	for (size_t i = 0; i < VEIL_TTRPC_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0 && s->conns[i].out_len > 0)
			conn_flush(&s->conns[i]);
}

/* Queues one RESPONSE frame; a peer that has let too much pile up is cut off. */
static void conn_queue(struct veil_ttrpc_conn *c, uint32_t stream, const uint8_t *payload, size_t len)
{
	size_t need = c->out_len + VEIL_FRAME_HEADER_LEN + len;
	if (need > VEIL_TTRPC_MAX_QUEUED) {
		log_warn("ttrpc: a peer left more than %u bytes of responses unread; closing its connection",
			 VEIL_TTRPC_MAX_QUEUED);
		conn_close(c);
		return;
	}
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < need)
			cap *= 2;
		uint8_t *grown = realloc(c->out, cap);
		if (grown == NULL) {
			conn_close(c);
			return;
		}
		c->out = grown;
		c->out_cap = cap;
	}
	struct veil_frame_header h = { .length = (uint32_t)len, .stream_id = stream, .type = VEIL_FRAME_RESPONSE };
	veil_frame_header_encode(&h, c->out + c->out_len);
	memcpy(c->out + c->out_len + VEIL_FRAME_HEADER_LEN, payload, len);
	c->out_len = need;
	conn_flush(c);
}

void veil_ttrpc_reply(struct veil_ttrpc_server *s, const struct veil_ttrpc_call *call, int code, const char *message,
		      const ProtobufCMessage *resp)
{
	if (call->conn >= VEIL_TTRPC_MAX_CONNS)
		return;
	struct veil_ttrpc_conn *c = &s->conns[call->conn];
	if (c->fd < 0 || c->generation != call->generation)
		return;
	size_t len;
	cleanup_free uint8_t *payload = veil_rpc_pack_response(code, message, resp, &len);
	if (payload == NULL) {
		payload = veil_rpc_pack_response(VEIL_GRPC_INTERNAL, "response too large", NULL, &len);
		if (payload == NULL)
			return;
	}
	conn_queue(c, call->stream, payload, len);
}

/* One whole frame from a peer. Only requests may come; anything else means
 * the two ends do not speak the same protocol, and the connection ends. */
static bool conn_request(struct veil_ttrpc_server *s, uint32_t i, const struct veil_frame_header *h,
			 const uint8_t *payload)
{
	struct veil_ttrpc_conn *c = &s->conns[i];
	if (h->type != VEIL_FRAME_REQUEST) {
		log_warn("ttrpc: a peer sent frame type %u; closing its connection", h->type);
		conn_close(c);
		return false;
	}
	const struct veil_ttrpc_call call = { .conn = i, .generation = c->generation, .stream = h->stream_id };
	char why[160];
	/* Unknown fields are kept, as Go's protobuf does: a newer containerd may add some. */
	Veil__Agent__V1__Request *req = (Veil__Agent__V1__Request *)veil_rpc_unpack_message(
		&veil__agent__v1__request__descriptor, payload, h->length, false, why, sizeof(why));
	if (req == NULL) {
		veil_ttrpc_reply(s, &call, VEIL_GRPC_INVALID_ARGUMENT, why, NULL);
		return c->fd >= 0;
	}
	s->handler(s->opaque, s, &call, req->service, req->method, req->payload.data, req->payload.len);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	return c->fd >= 0 && c->generation == call.generation;
}

static void conn_read(struct veil_ttrpc_server *s, uint32_t i)
{
	struct veil_ttrpc_conn *c = &s->conns[i];
	size_t budget = VEIL_TTRPC_READ_BUDGET;
	while (budget > 0) {
		size_t room;
		uint8_t *space = veil_frame_reader_space(&c->reader, &room);
		if (space == NULL) {
			conn_close(c);
			return;
		}
		ssize_t n = recv(c->fd, space, room < budget ? room : budget, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		veil_frame_reader_commit(&c->reader, (size_t)n);
		budget -= (size_t)n;
		struct veil_frame_header h;
		const uint8_t *payload;
		int rc;
		while ((rc = veil_frame_reader_next(&c->reader, &h, &payload)) == 1)
			if (!conn_request(s, i, &h, payload))
				return;
		if (rc < 0) {
			log_warn("ttrpc: a peer sent a bad frame (%s); closing its connection", strerror(-rc));
			conn_close(c);
			return;
		}
	}
}

void veil_ttrpc_server_poll_fds(const struct veil_ttrpc_server *s, struct pollfd pfds[VEIL_TTRPC_POLLFDS])
{
	pfds[0] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	for (size_t i = 0; i < VEIL_TTRPC_MAX_CONNS; i++) {
		const struct veil_ttrpc_conn *c = &s->conns[i];
		short events = POLLIN | (c->out_len > 0 ? POLLOUT : 0);
		pfds[1 + i] = (struct pollfd){ .fd = c->fd, .events = events };
	}
}

void veil_ttrpc_server_poll_done(struct veil_ttrpc_server *s, const struct pollfd pfds[VEIL_TTRPC_POLLFDS])
{
	if (s->listen_fd >= 0 && (pfds[0].revents & POLLIN)) {
		veil_err_t err = NULL;
		pid_t peer;
		int fd = veil_ctl_accept(s->listen_fd, &peer, &err);
		if (fd < 0) {
			if (err->errnum != EAGAIN)
				log_warn("ttrpc: %s", err->msg);
			veil_error_free(&err);
		} else if (veil_ttrpc_server_adopt(s, fd) < 0) {
			log_warn("ttrpc: %d connections already; refusing pid %d", VEIL_TTRPC_MAX_CONNS, peer);
			close(fd);
		}
	}
	for (uint32_t i = 0; i < VEIL_TTRPC_MAX_CONNS; i++) {
		struct veil_ttrpc_conn *c = &s->conns[i];
		/* Only a connection that was there when poll ran has revents of its own. */
		if (c->fd < 0 || pfds[1 + i].fd != c->fd)
			continue;
		if ((pfds[1 + i].revents & POLLOUT) && !conn_flush(c))
			continue;
		if (pfds[1 + i].revents & (POLLIN | POLLHUP | POLLERR))
			conn_read(s, i);
	}
}

/* ---- client ---- */

#define UNIX_SCHEME "unix://"

int veil_ttrpc_client_init(struct veil_ttrpc_client *c, const char *address, veil_err_t *err)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->next_stream = 1;
	veil_frame_reader_init(&c->reader);
	if (strncmp(address, UNIX_SCHEME, strlen(UNIX_SCHEME)) == 0)
		address += strlen(UNIX_SCHEME);
	if (address[0] != '/')
		return veil_fail(err, 0, "ttrpc address %s is not an absolute unix socket path", address);
	c->path = strdup(address);
	if (c->path == NULL)
		return veil_fail(err, ENOMEM, "ttrpc address");
	return 0;
}

static void client_disconnect(struct veil_ttrpc_client *c)
{
	veil_close_fd(&c->fd);
	veil_frame_reader_release(&c->reader);
}

void veil_ttrpc_client_release(struct veil_ttrpc_client *c)
{
	client_disconnect(c);
	free(c->path);
	c->path = NULL;
}

/* Waits for the RESPONSE frame of stream; its payload is copied to *out. */
static int client_await(struct veil_ttrpc_client *c, uint32_t stream, long long deadline, uint8_t **out,
			size_t *out_len, veil_err_t *err)
{
	for (;;) {
		struct veil_frame_header h;
		const uint8_t *payload;
		int rc;
		while ((rc = veil_frame_reader_next(&c->reader, &h, &payload)) == 1) {
			if (h.type != VEIL_FRAME_RESPONSE)
				return veil_fail(err, EPROTO, "ttrpc server sent frame type %u", h.type);
			if (h.stream_id != stream)
				continue; /* the late answer to a call that timed out */
			*out = malloc(h.length ? h.length : 1);
			if (*out == NULL)
				return veil_fail(err, ENOMEM, "ttrpc response");
			memcpy(*out, payload, h.length);
			*out_len = h.length;
			return 0;
		}
		if (rc < 0)
			return veil_fail(err, -rc, "ttrpc server sent a bad frame");
		long long left = deadline - veil_now_ms();
		if (left <= 0)
			return veil_fail(err, ETIMEDOUT, "no answer from %s", c->path);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return veil_fail(err, errno, "poll");
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		size_t room;
		uint8_t *space = veil_frame_reader_space(&c->reader, &room);
		if (space == NULL)
			return veil_fail(err, ENOMEM, "ttrpc response");
		ssize_t n = recv(c->fd, space, room, MSG_DONTWAIT);
		if (n == 0)
			return veil_fail(err, 0, "%s closed the connection", c->path);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return veil_fail(err, errno, "reading from %s", c->path);
		}
		veil_frame_reader_commit(&c->reader, (size_t)n);
	}
}

static int client_exchange(struct veil_ttrpc_client *c, const char *service, const char *method,
			   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_type,
			   ProtobufCMessage **resp, int timeout_ms, veil_err_t *err)
{
	long long deadline = veil_now_ms() + timeout_ms;
	if (c->fd < 0 && (c->fd = veil_unix_connect(c->path, SOCK_STREAM, err)) < 0)
		return -1;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	size_t len;
	cleanup_free uint8_t *payload =
		veil_rpc_pack_envelope(service, method, req, (int64_t)timeout_ms * 1000000, &len);
	if (payload == NULL)
		return veil_fail(err, EMSGSIZE, "ttrpc request %s/%s", service, method);
	uint32_t stream = c->next_stream;
	c->next_stream = c->next_stream >= 0x7ffffffdu ? 1 : c->next_stream + 2;
	int rc = veil_frame_write(c->fd, VEIL_FRAME_REQUEST, 0, stream, payload, len);
	if (rc < 0)
		return veil_fail(err, -rc, "sending %s to %s", method, c->path);
	cleanup_free uint8_t *answer = NULL;
	size_t answer_len = 0;
	if (client_await(c, stream, deadline, &answer, &answer_len, err) < 0)
		return -1;
	char why[160];
	Veil__Agent__V1__Response *env = (Veil__Agent__V1__Response *)veil_rpc_unpack_message(
		&veil__agent__v1__response__descriptor, answer, answer_len, false, why, sizeof(why));
	if (env == NULL)
		return veil_fail(err, EPROTO, "%s: %s", method, why);
	rc = 0;
	if (env->status != NULL && env->status->code != VEIL_GRPC_OK) {
		rc = veil_fail(err, 0, "%s: %s (code %d)", method, env->status->message, env->status->code);
	} else if (resp_type != NULL) {
		*resp = veil_rpc_unpack_message(resp_type, env->payload.data, env->payload.len, false, why, sizeof(why));
		if (*resp == NULL)
			rc = veil_fail(err, EPROTO, "%s: %s", method, why);
	}
	protobuf_c_message_free_unpacked(&env->base, NULL);
	return rc;
}

int veil_ttrpc_client_call(struct veil_ttrpc_client *c, const char *service, const char *method,
			   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_type,
			   ProtobufCMessage **resp, int timeout_ms, veil_err_t *err)
{
	if (resp != NULL)
		*resp = NULL;
	if (client_exchange(c, service, method, req, resp_type, resp, timeout_ms, err) < 0) {
		/* The stream may be mid-frame: start over on a fresh connection. */
		client_disconnect(c);
		return -1;
	}
	return 0;
}
