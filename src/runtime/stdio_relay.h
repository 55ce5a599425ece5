/* One guest process's stdio: host fds on one side, agent streams on the
 * other. The owner's event loop routes agent frames and stdin readiness here. */
#ifndef VEIL_STDIO_RELAY_H
#define VEIL_STDIO_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/agent_client.h"
#include "lib/error.h"

struct veil_exit_status {
	int exit_code;
	int signal; /* non-zero if killed by a signal */
};

/* Output the host side did not take yet, kept in order. */
struct veil_relay_backlog {
	uint8_t *buf;
	size_t len, cap;
};

/* Past this much backlog on a stream, the owner should stop reading the
 * agent (veil_relay_backlogged): the guest then holds the output back. */
#define VEIL_RELAY_BACKLOG_SOFT (1u << 20)

struct veil_relay {
	struct veil_agent_client *agent;
	const char *container_id;
	const char *exec_id;
	bool terminal;
	int in_fd;   /* -1: no stdin */
	int out_fd;
	int err_fd;
	uint32_t stdin_stream, stdout_stream, stderr_stream;
	uint32_t stdin_credit;
	bool stdin_done;
	bool out_broken, err_broken;
	uint32_t wait_request; /* 0 until veil_relay_wait was sent */
	bool exited;
	struct veil_exit_status status;
	/* out_fd and err_fd are non-blocking and the owner polls them: what they
	 * do not take at once waits in the backlog instead of blocking the
	 * owner (the containerd shim serves a whole pod from one loop). */
	bool queue_output;
	struct veil_relay_backlog backlog[2]; /* stdout, stderr */
	bool stdin_closing; /* veil_relay_close_stdin: forward what is there, then close */
};

/* Assigns the process's stream ids: call before ExecProcess. */
void veil_relay_init(struct veil_relay *r, struct veil_agent_client *agent, const char *container_id,
		     const char *exec_id, bool terminal, int in_fd, int out_fd, int err_fd);
/* The process's stream ids, for its ExecProcess. */
struct veil_agent_streams veil_relay_streams(const struct veil_relay *r);

/* Frame routing: each returns true if the frame belonged to this relay. */
bool veil_relay_on_data(struct veil_relay *r, uint32_t stream, const uint8_t *buf, size_t len);
bool veil_relay_on_window(struct veil_relay *r, uint32_t stream, uint32_t credit);
bool veil_relay_on_response(struct veil_relay *r, uint32_t request_id, const uint8_t *payload, size_t len);

/* The fd to poll for stdin, or -1 while there is nothing to forward. */
int veil_relay_stdin_fd(const struct veil_relay *r);
int veil_relay_forward_stdin(struct veil_relay *r, veil_err_t *err);

/* Forwards what stdin (non-blocking) holds now, then closes the process's
 * stdin: containerd's CloseIO, which must not lose what was written before
 * it. Waiting for stdin credit, it finishes as the credit comes back. */
int veil_relay_close_stdin(struct veil_relay *r, veil_err_t *err);

/* With queue_output: the fd of stream which (0 stdout, 1 stderr) to poll for
 * POLLOUT, or -1 when nothing waits; and writing what waits, as far as the fd
 * takes it now. */
int veil_relay_output_fd(const struct veil_relay *r, int which);
void veil_relay_flush_output(struct veil_relay *r, int which);
/* Whether a backlog has passed VEIL_RELAY_BACKLOG_SOFT. */
bool veil_relay_backlogged(const struct veil_relay *r);
/* Frees the backlogs; the fds are the owner's. */
void veil_relay_release(struct veil_relay *r);

/* Asks the agent for the exit status; it arrives through veil_relay_on_response. */
int veil_relay_wait(struct veil_relay *r, veil_err_t *err);
/* Best effort, asynchronous. */
void veil_relay_signal(struct veil_relay *r, int signal, bool all);
/* Copies the host terminal's size (of in_fd) to the guest pty. */
void veil_relay_resize(struct veil_relay *r);
/* Sets the guest pty's size (a containerd shim's ResizePty). */
void veil_relay_resize_to(struct veil_relay *r, unsigned rows, unsigned cols);

/* 128 + signal, or the exit code: what a shell reports. */
int veil_exit_status_code(const struct veil_exit_status *s);

#endif
