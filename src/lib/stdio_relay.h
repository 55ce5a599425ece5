/* Relays one guest process's stdio between host fds and the agent, forwards
 * signals to it, and waits for its exit status. */
#ifndef VEIL_STDIO_RELAY_H
#define VEIL_STDIO_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/agent_client.h"
#include "lib/error.h"

struct veil_exit_status {
	int exit_code;
	int signal; /* non-zero if killed by a signal */
};

struct veil_relay {
	struct veil_agent_client *agent;
	const char *container_id;
	const char *exec_id;
	bool terminal;
	int in_fd;   /* -1: no stdin */
	int out_fd;
	int err_fd;
	uint32_t stdin_stream, stdout_stream, stderr_stream;
	/* internal state */
	uint32_t stdin_credit;
	bool stdin_done;
	bool out_broken, err_broken;
	uint32_t wait_request;
	bool exited;
	struct veil_exit_status status;
	veil_err_t wait_err;
};

/* Assigns stream ids for the process's stdio and takes over the agent's
 * events: call before ExecProcess, whose output may precede its reply. */
void veil_relay_init(struct veil_relay *r, struct veil_agent_client *agent, const char *container_id,
		     const char *exec_id, bool terminal, int in_fd, int out_fd, int err_fd);

/* Runs until the process exits. Signals read from signal_fd are forwarded
 * (SIGWINCH becomes a terminal resize). */
int veil_relay_run(struct veil_relay *r, int signal_fd, struct veil_exit_status *status, veil_err_t *err);

/* 128 + signal, or the exit code: what a shell reports. */
int veil_exit_status_code(const struct veil_exit_status *s);

#endif
