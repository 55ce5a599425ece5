#include "runtime/stdio_relay.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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
	if (stream == r->stdout_stream)
		write_out(r->out_fd, &r->out_broken, buf, len);
	else if (stream == r->stderr_stream)
		write_out(r->err_fd, &r->err_broken, buf, len);
	else
		return false;
	return true;
}

bool veil_relay_on_window(struct veil_relay *r, uint32_t stream, uint32_t credit)
{
	if (stream == 0 || stream != r->stdin_stream)
		return false;
	if (credit <= VEIL_STDIN_WINDOW - r->stdin_credit)
		r->stdin_credit += credit;
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
	veil_err_t err = NULL;
	if (veil_agent_resize_send(r->agent, r->container_id, r->exec_id, ws.ws_row, ws.ws_col, &err) < 0)
		veil_error_free(&err);
}
