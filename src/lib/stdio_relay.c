#include "lib/stdio_relay.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "proto/frame.h"

int veil_exit_status_code(const struct veil_exit_status *s)
{
	return s->signal ? 128 + s->signal : s->exit_code;
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

static void on_data(void *opaque, uint32_t stream, const uint8_t *buf, size_t len, bool closed)
{
	struct veil_relay *r = opaque;
	(void)closed;
	if (stream == r->stdout_stream && stream != 0)
		write_out(r->out_fd, &r->out_broken, buf, len);
	else if (stream == r->stderr_stream && stream != 0)
		write_out(r->err_fd, &r->err_broken, buf, len);
}

static void on_window(void *opaque, uint32_t stream, uint32_t credit)
{
	struct veil_relay *r = opaque;
	if (stream == r->stdin_stream && credit <= VEIL_STDIN_WINDOW - r->stdin_credit)
		r->stdin_credit += credit;
}

static void on_response(void *opaque, uint32_t request_id, const uint8_t *payload, size_t len)
{
	struct veil_relay *r = opaque;
	if (request_id != r->wait_request)
		return; /* signal forwarding and resizes: best effort */
	ProtobufCMessage *resp = NULL;
	int code;
	if (veil_agent_decode_response(VEIL_METHOD_WAIT_PROCESS, payload, len, &resp, &code, &r->wait_err) < 0) {
		r->exited = true;
		return;
	}
	Veil__Agent__V1__WaitProcessResponse *w = (Veil__Agent__V1__WaitProcessResponse *)resp;
	r->status.exit_code = w->exit_code;
	r->status.signal = w->signal;
	r->exited = true;
	protobuf_c_message_free_unpacked(resp, NULL);
}

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
	agent->events = (struct veil_agent_events){
		.opaque = r, .data = on_data, .window = on_window, .response = on_response,
	};
}

static int forward_stdin(struct veil_relay *r, veil_err_t *err)
{
	uint8_t buf[VEIL_DATA_CHUNK];
	size_t want = r->stdin_credit < sizeof(buf) ? r->stdin_credit : sizeof(buf);
	ssize_t n = read(r->in_fd, buf, want);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		n = 0; /* an unreadable stdin ends like an empty one */
	}
	if (n == 0) {
		r->stdin_done = true;
		return veil_agent_send_data(r->agent, r->stdin_stream, NULL, 0, true, err);
	}
	r->stdin_credit -= (uint32_t)n;
	return veil_agent_send_data(r->agent, r->stdin_stream, buf, (size_t)n, false, err);
}

static void resize_terminal(struct veil_relay *r)
{
	struct winsize ws;
	if (r->in_fd < 0 || ioctl(r->in_fd, TIOCGWINSZ, &ws) < 0)
		return;
	Veil__Agent__V1__ResizeTerminalRequest req = VEIL__AGENT__V1__RESIZE_TERMINAL_REQUEST__INIT;
	req.container_id = (char *)r->container_id;
	req.exec_id = (char *)r->exec_id;
	req.rows = ws.ws_row;
	req.cols = ws.ws_col;
	uint32_t id;
	veil_err_t err = NULL;
	if (veil_agent_send(r->agent, VEIL_METHOD_RESIZE_TERMINAL, &req.base, &id, &err) < 0)
		veil_error_free(&err);
}

static int forward_signal(struct veil_relay *r, int signal_fd, veil_err_t *err)
{
	struct signalfd_siginfo si;
	if (read(signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	if (si.ssi_signo == SIGWINCH) {
		if (r->terminal)
			resize_terminal(r);
		return 0;
	}
	if (si.ssi_signo == SIGCHLD || si.ssi_signo == SIGPIPE)
		return 0;
	log_debug("forwarding signal %u to %s", si.ssi_signo, r->container_id);
	Veil__Agent__V1__SignalProcessRequest req = VEIL__AGENT__V1__SIGNAL_PROCESS_REQUEST__INIT;
	req.container_id = (char *)r->container_id;
	req.exec_id = (char *)r->exec_id;
	req.signal = si.ssi_signo;
	uint32_t id;
	return veil_agent_send(r->agent, VEIL_METHOD_SIGNAL_PROCESS, &req.base, &id, err);
}

int veil_relay_run(struct veil_relay *r, int signal_fd, struct veil_exit_status *status, veil_err_t *err)
{
	Veil__Agent__V1__WaitProcessRequest wait = VEIL__AGENT__V1__WAIT_PROCESS_REQUEST__INIT;
	wait.container_id = (char *)r->container_id;
	wait.exec_id = (char *)r->exec_id;
	if (veil_agent_send(r->agent, VEIL_METHOD_WAIT_PROCESS, &wait.base, &r->wait_request, err) < 0)
		return -1;
	if (r->terminal)
		resize_terminal(r);

	while (!r->exited) {
		bool want_stdin = !r->stdin_done && r->stdin_credit > 0;
		struct pollfd pfds[4] = {
			{ .fd = r->agent->fd, .events = POLLIN },
			{ .fd = r->agent->vm_pidfd, .events = POLLIN },
			{ .fd = signal_fd, .events = POLLIN },
			{ .fd = want_stdin ? r->in_fd : -1, .events = POLLIN },
		};
		if (poll(pfds, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return veil_fail(err, errno, "poll");
		}
		if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (veil_agent_pump(r->agent, err) < 0)
				return -1;
			continue;
		}
		if (pfds[1].revents & POLLIN)
			return veil_fail(err, 0, "the VM exited while the container was running");
		if ((pfds[2].revents & POLLIN) && forward_signal(r, signal_fd, err) < 0)
			return -1;
		if ((pfds[3].revents & (POLLIN | POLLHUP | POLLERR)) && forward_stdin(r, err) < 0)
			return -1;
	}
	r->agent->events = (struct veil_agent_events){ 0 };
	if (r->wait_err != NULL) {
		*err = r->wait_err;
		r->wait_err = NULL;
		return veil_fail_context(err, "waiting for the container process");
	}
	*status = r->status;
	return 0;
}
