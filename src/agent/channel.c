#include "agent/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/clock.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"
#include "proto/contract.h"

#define PORT_WAIT_MS 10000
/* SIGIO announces a connecting host; the timer only covers a lost signal. */
#define RECONNECT_RETRY_MS 1000
/* Above this much queued output, process output stays unread until the host catches up. */
#define CONGESTED_BYTES (1u << 20)
/* Above this much, the port is not read either: every request earns a
 * response, so a host that sends but never reads would grow the queue for
 * ever. What it sends meanwhile waits in the port and in the host's socket. */
#define BACKLOG_BYTES (2u << 20)
/* Bytes read, and bytes of frames handled, per wakeup, so that a chatty host
 * cannot starve process I/O. */
#define READ_BUDGET (1u << 20)

static struct {
	int fd;
	bool connected;
	bool waiting; /* the port reported hang-up: do not poll it until wake or retry */
	int64_t retry_at;
	struct veil_frame_reader reader;
	size_t reader_high; /* beyond this, reader.buf holds only zeros */
	uint8_t *out;       /* beyond out_len, nothing queued earlier survives */
	size_t out_head, out_len, out_cap;
} ch = { .fd = -1 };

int agent_channel_open(veil_err_t *err)
{
	char devpath[300];
	if ((ch.fd = agent_virtio_port_open(VEIL_AGENT_PORT, PORT_WAIT_MS, devpath, sizeof(devpath), err)) < 0)
		return -1;
	if (fcntl(ch.fd, F_SETOWN, getpid()) < 0 || fcntl(ch.fd, F_SETFL, O_NONBLOCK | O_ASYNC) < 0)
		return veil_fail(err, errno, "%s: enabling SIGIO", devpath);
	/* At its bound from the start, the frame buffer never grows, so realloc
	 * never moves it away and leaves the host's bytes in freed heap. */
	if (veil_frame_reader_init_full(&ch.reader) < 0)
		return veil_fail(err, ENOMEM, "frame buffer");
	agent_log_debug("channel %s open", devpath);
	return 0;
}

int agent_channel_fd(void)
{
	return ch.fd;
}

static size_t queued(void)
{
	return ch.out_len - ch.out_head;
}

static bool backlogged(void)
{
	return queued() >= BACKLOG_BYTES;
}

short agent_channel_events(void)
{
	if (ch.waiting)
		return 0;
	return (backlogged() ? 0 : POLLIN) | (queued() > 0 ? POLLOUT : 0);
}

int agent_channel_timeout_ms(void)
{
	if (ch.waiting)
		return agent_ms_until(ch.retry_at);
	/* Frames left over from the last wakeup's budget, or from a backlog now gone. */
	return ch.connected && !backlogged() && veil_frame_reader_has_frame(&ch.reader) ? 0 : -1;
}

void agent_channel_wake(void)
{
	ch.waiting = false;
}

void agent_channel_tick(void)
{
	if (ch.waiting && agent_now_ms() >= ch.retry_at)
		ch.waiting = false;
}

/* Sent bytes are wiped as soon as they are gone, so that output sent along
 * with a Scrub response does not outlive it. */
static void drop_output(void)
{
	if (ch.out != NULL)
		explicit_bzero(ch.out, ch.out_len);
	ch.out_head = ch.out_len = 0;
}

/* Wipes what the frame buffer holds but for the bytes [keep_from, reader.len). */
static void wipe_input(size_t keep_from)
{
	explicit_bzero(ch.reader.buf, keep_from);
	explicit_bzero(ch.reader.buf + ch.reader.len, ch.reader_high - ch.reader.len);
	ch.reader_high = ch.reader.len;
}

static void drop_input(void)
{
	ch.reader.start = 0;
	ch.reader.len = 0;
	wipe_input(0);
}

static void hang_up(const struct agent_channel_ops *ops)
{
	bool was_connected = ch.connected;
	ch.connected = false;
	ch.waiting = true;
	ch.retry_at = agent_now_ms() + RECONNECT_RETRY_MS;
	drop_input();
	drop_output();
	if (was_connected) {
		agent_log_debug("host disconnected");
		ops->on_disconnect();
	}
}

static void flush(void)
{
	while (ch.out_head < ch.out_len) {
		ssize_t n = write(ch.fd, ch.out + ch.out_head, ch.out_len - ch.out_head);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				agent_log_error("writing to the host: %s", strerror(errno));
			return;
		}
		ch.out_head += (size_t)n;
	}
	drop_output();
}

/* Hands whole frames to ops, within the budget and while the host keeps up
 * with the output. Framing lost is fatal: nothing after that can be trusted. */
static void dispatch_frames(const struct agent_channel_ops *ops)
{
	size_t budget = READ_BUDGET;
	struct veil_frame_header h;
	const uint8_t *payload;
	int rc = 0;
	while (ch.connected && budget > 0 && !backlogged() &&
	       (rc = veil_frame_reader_next(&ch.reader, &h, &payload)) == 1) {
		ops->on_frame(&h, payload);
		size_t used = VEIL_FRAME_HEADER_LEN + h.length;
		budget -= used < budget ? used : budget;
	}
	if (rc < 0)
		agent_fatal("protocol error from the host: %s", strerror(-rc));
}

static void read_frames(const struct agent_channel_ops *ops)
{
	size_t budget = READ_BUDGET;
	while (budget > 0 && ch.connected && !backlogged()) {
		size_t room;
		uint8_t *space = veil_frame_reader_space(&ch.reader, &room);
		if (space == NULL)
			agent_fatal("out of memory for the frame buffer");
		if (room == 0)
			return; /* a whole frame waits: the budget or a backlog held it back */
		ssize_t n = read(ch.fd, space, room < budget ? room : budget);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (n < 0)
				agent_log_error("reading from the host: %s", strerror(errno));
			hang_up(ops);
			return;
		}
		veil_frame_reader_commit(&ch.reader, (size_t)n);
		if (ch.reader.len > ch.reader_high)
			ch.reader_high = ch.reader.len;
		budget -= (size_t)n;
		dispatch_frames(ops);
	}
}

void agent_channel_handle(short revents, const struct agent_channel_ops *ops)
{
	if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
		hang_up(ops);
		return;
	}
	if (revents != 0 && !ch.connected) {
		ch.connected = true;
		agent_log_debug("host connected");
	}
	if (revents & POLLOUT)
		flush();
	/* First what is buffered already: it came before anything the port has now. */
	dispatch_frames(ops);
	if (revents & POLLIN)
		read_frames(ops);
}

static void queue(const void *p, size_t len)
{
	if (ch.out_len + len > ch.out_cap) {
		if (ch.out_head > 0) {
			memmove(ch.out, ch.out + ch.out_head, ch.out_len - ch.out_head);
			explicit_bzero(ch.out + ch.out_len - ch.out_head, ch.out_head);
			ch.out_len -= ch.out_head;
			ch.out_head = 0;
		}
		size_t cap = ch.out_cap ? ch.out_cap : 64u << 10;
		while (cap < ch.out_len + len)
			cap *= 2;
		uint8_t *grown = agent_wipe_realloc(ch.out, ch.out_len, cap);
		if (grown == NULL)
			agent_fatal("out of memory for the output queue");
		ch.out = grown;
		ch.out_cap = cap;
	}
	memcpy(ch.out + ch.out_len, p, len);
	ch.out_len += len;
}

void agent_channel_send(uint8_t type, uint8_t flags, uint32_t stream_id, const void *payload, size_t len)
{
	if (!ch.connected)
		return;
	uint8_t hdr[VEIL_FRAME_HEADER_LEN];
	struct veil_frame_header h = { .length = (uint32_t)len, .stream_id = stream_id, .type = type, .flags = flags };
	veil_frame_header_encode(&h, hdr);
	queue(hdr, sizeof(hdr));
	if (len > 0)
		queue(payload, len);
	flush();
}

void agent_channel_send_window(uint32_t stream_id, uint32_t credit)
{
	const uint8_t be[4] = { (uint8_t)(credit >> 24), (uint8_t)(credit >> 16), (uint8_t)(credit >> 8),
				(uint8_t)credit };
	agent_channel_send(VEIL_FRAME_WINDOW, 0, stream_id, be, sizeof(be));
}

void agent_channel_wipe(void)
{
	wipe_input(ch.reader.start);
	if (ch.out != NULL)
		explicit_bzero(ch.out, ch.out_head);
}

bool agent_channel_congested(void)
{
	return queued() > CONGESTED_BYTES;
}

void agent_channel_drain(int timeout_ms)
{
	int64_t deadline = agent_now_ms() + timeout_ms;
	while (ch.connected && ch.out_head < ch.out_len && agent_now_ms() < deadline) {
		struct pollfd p = { .fd = ch.fd, .events = POLLOUT };
		if (poll(&p, 1, agent_ms_until(deadline)) > 0 && (p.revents & POLLOUT))
			flush();
		else if (p.revents & (POLLHUP | POLLERR))
			return;
	}
}
