#include "agent/tee_port.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/clock.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"
#include "proto/contract.h"
#include "proto/frame.h"

#define PORT_WAIT_MS 10000
/* The KBS's bytes not read yet: an HTTP response's headers and body. */
#define KBS_BUFFER_MAX (VEIL_KBS_HTTP_MAX_RESPONSE + VEIL_KBS_HTTP_MAX_HEADERS)

static struct {
	int fd;
	struct veil_frame_reader reader;
	uint32_t next_id;
	/* The answer awaited, once it has come. */
	uint32_t awaited;
	uint8_t *answer;
	size_t answer_len;
	bool answered;
	/* The KBS stream, and the connect request whose answer is not in yet:
	 * the stream's first bytes follow that request without waiting for it. */
	bool kbs_open;
	uint8_t *kbs_in;
	size_t kbs_len;
	uint32_t connect_id;
	char connect_error[VEIL_TEE_MAX_ERROR + 1];
} port = { .fd = -1, .next_id = 1 };

int agent_tee_port_open(veil_err_t *err)
{
	char devpath[300];
	if ((port.fd = agent_virtio_port_open(VEIL_TEE_PORT, PORT_WAIT_MS, devpath, sizeof(devpath), err)) < 0)
		return -1;
	veil_frame_reader_init(&port.reader);
	return 0;
}

static int wait_port(short events, int64_t deadline, veil_err_t *err)
{
	for (;;) {
		struct pollfd p = { .fd = port.fd, .events = events };
		int n = poll(&p, 1, agent_ms_until(deadline));
		if (n > 0)
			return 0;
		if (n == 0)
			return veil_fail_tagged(err, ETIMEDOUT, "the host's TEE service did not answer in time");
		if (errno != EINTR)
			return veil_fail(err, errno, "TEE port");
	}
}

static int write_frame(uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len, int64_t deadline,
		       veil_err_t *err)
{
	cleanup_wipe uint8_t *frame = malloc(VEIL_FRAME_HEADER_LEN + len);
	if (frame == NULL)
		return veil_fail(err, ENOMEM, "TEE port");
	const struct veil_frame_header h = { .length = (uint32_t)len, .stream_id = stream, .type = type, .flags = flags };
	veil_frame_header_encode(&h, frame);
	if (len > 0)
		memcpy(frame + VEIL_FRAME_HEADER_LEN, payload, len);
	for (size_t done = 0, total = VEIL_FRAME_HEADER_LEN + len; done < total;) {
		ssize_t n = write(port.fd, frame + done, total - done);
		if (n < 0 && errno == EAGAIN && wait_port(POLLOUT, deadline, err) == 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return *err != NULL ? -1 : veil_fail(err, errno, "writing to the TEE port");
		done += (size_t)n;
	}
	return 0;
}

/* The answer to the connect request: if the host could not connect, the
 * stream is closed, with its reason for whoever reads it next. */
static void on_connect_answer(const uint8_t *payload, size_t len)
{
	struct veil_tee_response resp;
	const char *why;
	port.connect_id = 0;
	if (veil_tee_response_decode(VEIL_TEE_OP_KBS_CONNECT, payload, len, &resp, &why) < 0)
		snprintf(port.connect_error, sizeof(port.connect_error), "the host's TEE service answered badly: %s", why);
	else if (!resp.ok)
		snprintf(port.connect_error, sizeof(port.connect_error), "the host's TEE service: %.*s", (int)resp.len,
			 (const char *)resp.data);
	else
		return;
	port.kbs_open = false;
}

static void on_kbs_data(const struct veil_frame_header *h, const uint8_t *payload)
{
	if (!port.kbs_open)
		return;
	if (h->length > KBS_BUFFER_MAX - port.kbs_len) {
		agent_log_error("the KBS stream sent more than %u bytes unread: dropped", KBS_BUFFER_MAX);
		port.kbs_open = false;
		return;
	}
	if (h->length > 0) {
		uint8_t *grown = agent_wipe_realloc(port.kbs_in, port.kbs_len, port.kbs_len + h->length);
		if (grown == NULL) {
			port.kbs_open = false;
			return;
		}
		port.kbs_in = grown;
		memcpy(port.kbs_in + port.kbs_len, payload, h->length);
		port.kbs_len += h->length;
	}
	if (h->flags & VEIL_FRAME_FLAG_CLOSED)
		port.kbs_open = false;
}

/* Reads what is there (waiting until deadline for something) and takes in
 * every whole frame: the awaited answer, KBS bytes; nothing else is the
 * host's to send on this port, and is ignored. */
static int pump(int64_t deadline, veil_err_t *err)
{
	if (wait_port(POLLIN, deadline, err) < 0)
		return -1;
	size_t room;
	uint8_t *space = veil_frame_reader_space(&port.reader, &room);
	if (space == NULL)
		return veil_fail(err, ENOMEM, "TEE port");
	ssize_t n = read(port.fd, space, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return veil_fail(err, n < 0 ? errno : ECONNRESET, "reading the TEE port");
	veil_frame_reader_commit(&port.reader, (size_t)n);
	struct veil_frame_header h;
	const uint8_t *payload;
	int rc;
	while ((rc = veil_frame_reader_next(&port.reader, &h, &payload)) == 1) {
		if (h.type == VEIL_FRAME_RESPONSE && port.connect_id != 0 && h.stream_id == port.connect_id) {
			on_connect_answer(payload, h.length);
		} else if (h.type == VEIL_FRAME_RESPONSE && h.stream_id == port.awaited && !port.answered) {
			port.answer = malloc(h.length ? h.length : 1);
			if (port.answer == NULL)
				return veil_fail(err, ENOMEM, "TEE port");
			memcpy(port.answer, payload, h.length);
			port.answer_len = h.length;
			port.answered = true;
		} else if (h.type == VEIL_FRAME_DATA && h.stream_id == VEIL_TEE_KBS_STREAM) {
			on_kbs_data(&h, payload);
		}
	}
	if (rc < 0) {
		/* No frame boundary can be found again: nothing more from this port. */
		veil_close_fd(&port.fd);
		return veil_fail(err, -rc, "the host broke the TEE port's framing");
	}
	return 0;
}

int agent_tee_port_call(const struct veil_tee_request *req, uint8_t **payload, struct veil_tee_response *resp,
			int timeout_ms, veil_err_t *err)
{
	*payload = NULL;
	if (port.fd < 0)
		return veil_fail_tagged(err, ENOTCONN, "the TEE port is not open");
	int64_t deadline = agent_now_ms() + timeout_ms;
	uint8_t request[1 + VEIL_TEE_REPORT_DATA_LEN + 4];
	size_t len = veil_tee_request_encode(req, request);
	port.awaited = port.next_id;
	port.next_id += 2;
	port.answered = false;
	if (write_frame(VEIL_FRAME_REQUEST, 0, port.awaited, request, len, deadline, err) < 0)
		return -1;
	while (!port.answered)
		if (pump(deadline, err) < 0)
			return -1;
	*payload = veil_steal_ptr(port.answer);
	const char *why;
	if (veil_tee_response_decode(req->op, *payload, port.answer_len, resp, &why) < 0)
		return veil_fail_tagged(err, EPROTO, "the host's TEE service answered badly: %s", why);
	if (!resp->ok)
		return veil_fail(err, 0, "the host's TEE service: %.*s", (int)resp->len, (const char *)resp->data);
	return 0;
}

int agent_tee_port_kbs_connect(int timeout_ms, veil_err_t *err)
{
	agent_tee_port_kbs_close();
	if (port.fd < 0)
		return veil_fail_tagged(err, ENOTCONN, "the TEE port is not open");
	const struct veil_tee_request req = { .op = VEIL_TEE_OP_KBS_CONNECT };
	uint8_t request[1];
	veil_tee_request_encode(&req, request);
	/* Not waited for: the host takes the stream's bytes after it. */
	port.connect_id = port.next_id;
	port.next_id += 2;
	port.connect_error[0] = '\0';
	port.kbs_open = true;
	return write_frame(VEIL_FRAME_REQUEST, 0, port.connect_id, request, sizeof(request), agent_now_ms() + timeout_ms,
			   err);
}

void agent_tee_port_kbs_close(void)
{
	if (port.kbs_open && port.fd >= 0) {
		veil_err_t err = NULL;
		write_frame(VEIL_FRAME_DATA, VEIL_FRAME_FLAG_CLOSED, VEIL_TEE_KBS_STREAM, NULL, 0, agent_now_ms() + 1000, &err);
		agent_wipe_error(&err);
	}
	port.kbs_open = false;
	port.connect_id = 0;
	agent_wipe_free(port.kbs_in);
	port.kbs_in = NULL;
	port.kbs_len = 0;
}

static int kbs_send(void *ctx, const void *buf, size_t len, int timeout_ms, veil_err_t *err)
{
	(void)ctx;
	int64_t deadline = agent_now_ms() + timeout_ms;
	for (const uint8_t *p = buf; len > 0;) {
		if (!port.kbs_open)
			return veil_fail_tagged(err, ECONNRESET, "the KBS connection was closed");
		size_t chunk = len < VEIL_DATA_CHUNK ? len : VEIL_DATA_CHUNK;
		if (write_frame(VEIL_FRAME_DATA, 0, VEIL_TEE_KBS_STREAM, p, chunk, deadline, err) < 0)
			return -1;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

static ssize_t kbs_recv(void *ctx, void *buf, size_t len, int timeout_ms, veil_err_t *err)
{
	(void)ctx;
	int64_t deadline = agent_now_ms() + timeout_ms;
	while (port.kbs_len == 0) {
		if (!port.kbs_open && port.connect_error[0] != '\0')
			return veil_fail(err, 0, "%s", port.connect_error);
		if (!port.kbs_open)
			return 0;
		port.awaited = 0; /* no answer is awaited: only KBS bytes */
		if (pump(deadline, err) < 0)
			return -1;
	}
	size_t n = port.kbs_len < len ? port.kbs_len : len;
	memcpy(buf, port.kbs_in, n);
	memmove(port.kbs_in, port.kbs_in + n, port.kbs_len - n);
	port.kbs_len -= n;
	explicit_bzero(port.kbs_in + port.kbs_len, n);
	return (ssize_t)n;
}

struct veil_kbs_transport agent_tee_port_kbs_transport(void)
{
	return (struct veil_kbs_transport){ .send = kbs_send, .recv = kbs_recv };
}
