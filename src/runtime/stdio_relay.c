#include "runtime/stdio_relay.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/log.h"

#include "proto/frame.h"

void veil_relay_init(struct veil_relay *r, struct veil_agent_client *agent, const char *container_id,
		     const char *exec_id, bool terminal, int in_fd, int out_fd, int err_fd)
{
	memset(r, 0, sizeof(*r));
	r->agent = agent;
	r->container_id = container_id;
	r->exec_id = exec_id;
	r->terminal = terminal;
	r->in_fd = in_fd;
	r->out_fd = out_fd;
	r->err_fd = err_fd;
	r->stdin_stream = in_fd >= 0 ? veil_agent_new_io_stream(agent) : 0;
	r->stdout_stream = veil_agent_new_io_stream(agent);
	/* A terminal merges stderr into the pty. */
	r->stderr_stream = terminal ? 0 : veil_agent_new_io_stream(agent);
	r->stdin_credit = VEIL_STDIN_WINDOW;
	r->stdin_done = in_fd < 0;
}

struct veil_agent_streams veil_relay_streams(const struct veil_relay *r)
{
	return (struct veil_agent_streams){ .in = r->stdin_stream, .out = r->stdout_stream, .err = r->stderr_stream };
}

int veil_exit_status_code(const struct veil_exit_status *s)
{
	return s->signal ? 128 + s->signal : s->exit_code;
}

static bool backlog_append(struct veil_relay_backlog *b, const uint8_t *buf, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *grown = realloc(b->buf, cap);
		if (grown == NULL)
			return false;
		b->buf = grown;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, buf, len);
	b->len += len;
	return true;
}

/* Writes what the non-blocking fd takes now; how much, or -1 if it broke. */
static ssize_t write_some(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -1;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Queues for a non-blocking fd what it does not take at once. */
static void queue_out(int fd, bool *broken, struct veil_relay_backlog *b, const uint8_t *buf, size_t len)
{
	if (*broken)
		return;
	ssize_t n = b->len == 0 ? write_some(fd, buf, len) : 0;
	if (n < 0 || !backlog_append(b, buf + n, len - (size_t)n)) {
		/* The reader went away: drop output, keep the process running as runc does. */
		*broken = true;
		b->len = 0;
	}
}

static void write_out(int fd, bool *broken, const uint8_t *buf, size_t len)
{
	while (len > 0 && !*broken) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				poll(&p, 1, -1);
				continue;
			}
			/* The reader went away (EPIPE): drop output, keep the process running as runc does. */
			*broken = true;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

bool veil_relay_on_data(struct veil_relay *r, uint32_t stream, const uint8_t *buf, size_t len)
{
	if (stream == 0)
		return false;
	int which;
	if (stream == r->stdout_stream)
		which = 0;
	else if (stream == r->stderr_stream)
		which = 1;
	else
		return false;
	int fd = which ? r->err_fd : r->out_fd;
	bool *broken = which ? &r->err_broken : &r->out_broken;
	if (r->queue_output)
		queue_out(fd, broken, &r->backlog[which], buf, len);
	else
		write_out(fd, broken, buf, len);
	return true;
}

int veil_relay_output_fd(const struct veil_relay *r, int which)
{
	return r->backlog[which].len > 0 ? (which ? r->err_fd : r->out_fd) : -1;
}

void veil_relay_flush_output(struct veil_relay *r, int which)
{
	struct veil_relay_backlog *b = &r->backlog[which];
	bool *broken = which ? &r->err_broken : &r->out_broken;
	ssize_t n = b->len > 0 ? write_some(which ? r->err_fd : r->out_fd, b->buf, b->len) : 0;
	if (n < 0) {
		*broken = true;
		b->len = 0;
		return;
	}
	memmove(b->buf, b->buf + n, b->len - (size_t)n);
	b->len -= (size_t)n;
}

bool veil_relay_backlogged(const struct veil_relay *r)
{
	return r->backlog[0].len > VEIL_RELAY_BACKLOG_SOFT || r->backlog[1].len > VEIL_RELAY_BACKLOG_SOFT;
}

void veil_relay_release(struct veil_relay *r)
{
	for (int i = 0; i < 2; i++) {
		free(r->backlog[i].buf);
		r->backlog[i] = (struct veil_relay_backlog){ 0 };
	}
}

/* With stdin closing: forwards what it holds until it is empty (or the
 * credit runs out: on_window carries on), then closes the stream. */
static int drain_stdin(struct veil_relay *r, veil_err_t *err)
{
	uint8_t buf[VEIL_DATA_CHUNK];
	while (!r->stdin_done && r->stdin_credit > 0) {
		size_t want = r->stdin_credit < sizeof(buf) ? r->stdin_credit : sizeof(buf);
		ssize_t n = read(r->in_fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->stdin_done = true;
			return veil_agent_send_data(r->agent, r->stdin_stream, NULL, 0, true, err);
		}
		r->stdin_credit -= (uint32_t)n;
		if (veil_agent_send_data(r->agent, r->stdin_stream, buf, (size_t)n, false, err) < 0)
			return -1;
	}
	return 0;
}

int veil_relay_close_stdin(struct veil_relay *r, veil_err_t *err)
{
	if (r->stdin_done)
		return 0;
	r->stdin_closing = true;
	return drain_stdin(r, err);
}

bool veil_relay_on_window(struct veil_relay *r, uint32_t stream, uint32_t credit)
{
	if (stream == 0 || stream != r->stdin_stream)
		return false;
	if (credit <= VEIL_STDIN_WINDOW - r->stdin_credit)
		r->stdin_credit += credit;
	veil_err_t err = NULL;
	if (r->stdin_closing && drain_stdin(r, &err) < 0) {
		log_warn("%s", err->msg);
		veil_error_free(&err);
	}
	return true;
}

bool veil_relay_on_response(struct veil_relay *r, uint32_t request_id, const uint8_t *payload, size_t len)
{
	if (r->wait_request == 0 || request_id != r->wait_request)
		return false;
	veil_err_t err = NULL;
	r->exited = true;
	if (veil_agent_wait_result(payload, len, &r->status.exit_code, &r->status.signal, &err) < 0) {
		/* The process is gone either way; report it as killed. */
		r->status = (struct veil_exit_status){ .signal = 9 };
		veil_error_free(&err);
	}
	return true;
}

int veil_relay_stdin_fd(const struct veil_relay *r)
{
	return !r->stdin_done && r->stdin_credit > 0 ? r->in_fd : -1;
}

int veil_relay_forward_stdin(struct veil_relay *r, veil_err_t *err)
{
	uint8_t buf[VEIL_DATA_CHUNK];
	size_t want = r->stdin_credit < sizeof(buf) ? r->stdin_credit : sizeof(buf);
	ssize_t n = read(r->in_fd, buf, want);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		n = 0; /* an unreadable stdin (EIO on a closed pty) ends like an empty one */
	}
	if (n == 0) {
		r->stdin_done = true;
		return veil_agent_send_data(r->agent, r->stdin_stream, NULL, 0, true, err);
	}
	r->stdin_credit -= (uint32_t)n;
	return veil_agent_send_data(r->agent, r->stdin_stream, buf, (size_t)n, false, err);
}

int veil_relay_wait(struct veil_relay *r, veil_err_t *err)
{
	return veil_agent_wait_send(r->agent, r->container_id, r->exec_id, &r->wait_request, err);
}

void veil_relay_signal(struct veil_relay *r, int signal, bool all)
{
	veil_err_t err = NULL;
	if (veil_agent_signal_send(r->agent, r->container_id, r->exec_id, signal, all, &err) < 0)
		veil_error_free(&err);
}

void veil_relay_resize(struct veil_relay *r)
{
	struct winsize ws;
	if (!r->terminal || r->in_fd < 0 || ioctl(r->in_fd, TIOCGWINSZ, &ws) < 0)
		return;
	veil_relay_resize_to(r, ws.ws_row, ws.ws_col);
}

void veil_relay_resize_to(struct veil_relay *r, unsigned rows, unsigned cols)
{
	veil_err_t err = NULL;
	if (r->terminal && veil_agent_resize_send(r->agent, r->container_id, r->exec_id, rows, cols, &err) < 0)
		veil_error_free(&err);
}
