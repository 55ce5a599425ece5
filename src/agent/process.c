#include "agent/process.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/channel.h"
#include "agent/clock.h"
#include "agent/log.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"
#include "proto/frame.h"

/* How long output pipes held open by a process's leftover children may delay its exit report. */
#define OUTPUT_GRACE_MS 1000

/* Every process's output passes through here on its way to the channel. */
static uint8_t relay[VEIL_DATA_CHUNK];
static unsigned long changes;

unsigned long agent_process_changes(void)
{
	return changes;
}

void agent_process_note_change(void)
{
	changes++;
}

struct agent_process *agent_process_new(const char *exec_id)
{
	struct agent_process *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	snprintf(p->exec_id, sizeof(p->exec_id), "%s", exec_id);
	p->tty = p->out[0].fd = p->out[1].fd = p->in.fd = -1;
	return p;
}

static void close_input(struct agent_input *in)
{
	veil_close_fd(&in->fd);
	agent_wipe_free(in->buf);
	in->buf = NULL;
	in->head = in->len = 0;
}

void agent_process_free(struct agent_process *p)
{
	if (p == NULL)
		return;
	veil_close_fd(&p->tty);
	veil_close_fd(&p->out[0].fd);
	veil_close_fd(&p->out[1].fd);
	close_input(&p->in);
	agent_wipe_free(p);
}

void agent_process_exited(struct agent_process *p, int wstatus)
{
	agent_process_note_change();
	p->exited = true;
	p->wstatus = wstatus;
	p->exited_at = agent_now_ms();
}

bool agent_process_done(const struct agent_process *p)
{
	return p->exited && p->out[0].fd < 0 && p->out[1].fd < 0;
}

static void close_output(struct agent_output *o)
{
	if (o->fd < 0)
		return;
	agent_process_note_change();
	veil_close_fd(&o->fd);
	if (o->stream != 0)
		agent_channel_send(VEIL_FRAME_DATA, VEIL_FRAME_FLAG_CLOSED, o->stream, NULL, 0);
}

void agent_process_read_output(struct agent_process *p, int i)
{
	struct agent_output *o = &p->out[i];
	ssize_t n = read(o->fd, relay, sizeof(relay));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EIO is how a pty master reports that the last slave fd closed. */
	if (n <= 0) {
		if (n < 0 && errno != EIO)
			agent_log_error("reading output of pid %d: %s", p->pid, strerror(errno));
		close_output(o);
		return;
	}
	if (o->stream != 0)
		agent_channel_send(VEIL_FRAME_DATA, 0, o->stream, relay, (size_t)n);
}

static void return_credit(struct agent_input *in, size_t n)
{
	if (in->stream != 0 && n > 0)
		agent_channel_send_window(in->stream, (uint32_t)n);
}

static void become_sink(struct agent_input *in)
{
	size_t discarded = in->len;
	close_input(in);
	in->sink = true;
	return_credit(in, discarded);
}

/* Writes what the process takes from data, returning its credit; the number
 * of bytes taken, or -1 once the process stopped reading (the input became a sink). */
static ssize_t write_some(struct agent_input *in, const uint8_t *data, size_t len)
{
	ssize_t n;
	while ((n = write(in->fd, data, len)) < 0 && errno == EINTR)
		;
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		/* EPIPE/EIO: nobody reads any more; keep the host from waiting for credit. */
		become_sink(in);
		return -1;
	}
	return_credit(in, (size_t)n);
	return n;
}

void agent_process_write_input(struct agent_process *p)
{
	struct agent_input *in = &p->in;
	while (in->fd >= 0 && in->len > 0) {
		size_t contiguous = VEIL_STDIN_WINDOW - in->head;
		ssize_t n = write_some(in, in->buf + in->head, in->len < contiguous ? in->len : contiguous);
		if (n <= 0)
			return;
		in->head = (in->head + (size_t)n) % VEIL_STDIN_WINDOW;
		in->len -= (size_t)n;
	}
	if (in->closing && in->len == 0)
		close_input(in);
}

/* Keeps what the process did not take yet, behind what already waits. */
static void buffer_input(struct agent_input *in, const uint8_t *data, size_t len)
{
	if (in->buf == NULL && (in->buf = malloc(VEIL_STDIN_WINDOW)) == NULL)
		agent_fatal("out of memory for stdin");
	size_t tail = (in->head + in->len) % VEIL_STDIN_WINDOW;
	size_t first = VEIL_STDIN_WINDOW - tail < len ? VEIL_STDIN_WINDOW - tail : len;
	memcpy(in->buf + tail, data, first);
	memcpy(in->buf, data + first, len - first);
	in->len += len;
}

void agent_process_stdin_data(struct agent_process *p, uint8_t flags, const uint8_t *data, size_t len)
{
	struct agent_input *in = &p->in;
	if (in->sink) {
		return_credit(in, len);
		return;
	}
	if (in->closing || in->fd < 0) {
		agent_log_error("stdin stream %u: data after CLOSED", in->stream);
		return;
	}
	if (in->len + len > VEIL_STDIN_WINDOW) {
		agent_log_error("stdin stream %u: host exceeded the %u-byte window; closing stdin", in->stream,
				VEIL_STDIN_WINDOW);
		close_input(in);
		in->stream = 0;
		return;
	}
	/* Straight to the process when nothing waits ahead of these bytes. */
	if (in->len == 0 && len > 0) {
		ssize_t n = write_some(in, data, len);
		if (n < 0) {
			return_credit(in, len); /* discarded with the rest */
			return;
		}
		data += n;
		len -= (size_t)n;
	}
	if (len > 0)
		buffer_input(in, data, len);
	if (flags & VEIL_FRAME_FLAG_CLOSED)
		in->closing = true;
	if (in->closing && in->len == 0)
		close_input(in);
}

void agent_process_close_outputs(struct agent_process *p)
{
	close_output(&p->out[0]);
	close_output(&p->out[1]);
}

void agent_process_detach(struct agent_process *p)
{
	p->out[0].stream = p->out[1].stream = 0;
	p->in.stream = 0;
}

int64_t agent_process_deadline(const struct agent_process *p)
{
	return p->exited && !agent_process_done(p) ? p->exited_at + OUTPUT_GRACE_MS : -1;
}

void agent_process_tick(struct agent_process *p, int64_t now)
{
	int64_t deadline = agent_process_deadline(p);
	if (deadline >= 0 && now >= deadline) {
		agent_log_debug("pid %d exited but its output is still open; closing it", p->pid);
		agent_process_close_outputs(p);
	}
}

void agent_process_wipe_relay(void)
{
	explicit_bzero(relay, sizeof(relay));
}
