/* A container process as the agent tracks it: its pid and exit status, and
 * the pipes or pty that carry its stdio to the host's streams. */
#ifndef VEIL_AGENT_PROCESS_H
#define VEIL_AGENT_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/validate.h"

struct agent_output {
	int fd;          /* read end (or pty master); -1 once closed */
	uint32_t stream; /* 0: output is read and discarded */
};

struct agent_input {
	int fd;          /* write end (or pty master); -1 once closed */
	uint32_t stream; /* 0: no input arrives */
	/* Received, not yet written, credit not yet returned: a ring of
	 * VEIL_STDIN_WINDOW bytes, allocated when input first has to wait for
	 * the process and kept until the stream ends, so that a host sending
	 * tiny frames costs a copy each, never a reallocation. */
	uint8_t *buf;
	size_t head;     /* where the oldest waiting byte is */
	size_t len;      /* bytes waiting */
	bool closing;    /* the host closed the stream: close fd once buf drains */
	bool sink;       /* the process stopped reading: discard input, still return credit */
};

struct agent_process {
	struct agent_process *next;
	char exec_id[AGENT_ID_MAX + 1]; /* "" for the container's init */
	pid_t pid;
	bool exited;
	int wstatus;
	int64_t exited_at; /* agent_now_ms() when reaped */
	bool delivered;    /* a WaitProcess response carried the exit status */
	int tty;           /* pty master kept for resizing; -1 without a terminal */
	struct agent_output out[2]; /* stdout, stderr */
	struct agent_input in;
};

struct agent_process *agent_process_new(const char *exec_id);
void agent_process_free(struct agent_process *p);

void agent_process_exited(struct agent_process *p, int wstatus);
/* Exited, and every output stream has sent its CLOSED frame. */
bool agent_process_done(const struct agent_process *p);
/* Counts events that may end a WaitProcess: exits, closed outputs, containers
 * removed. Equal values mean nothing of the kind happened in between. */
unsigned long agent_process_changes(void);
void agent_process_note_change(void);

/* poll(2) readiness of out[i].fd: forwards one chunk, or CLOSED at EOF. */
void agent_process_read_output(struct agent_process *p, int i);
/* poll(2) readiness of in.fd: writes what the process takes and returns credit. */
void agent_process_write_input(struct agent_process *p);
/* A DATA frame from the host on in.stream. */
void agent_process_stdin_data(struct agent_process *p, uint8_t flags, const uint8_t *data, size_t len);
/* Sends CLOSED for outputs still open, without waiting for EOF. */
void agent_process_close_outputs(struct agent_process *p);
/* Forgets the host's stream ids after it disconnected; output is drained and dropped. */
void agent_process_detach(struct agent_process *p);
/* Deadline (agent_now_ms) at which leftover children holding the output pipes
 * stop delaying the exit report, or -1. */
int64_t agent_process_deadline(const struct agent_process *p);
void agent_process_tick(struct agent_process *p, int64_t now);
/* Wipes the buffer that all output passes through (Scrub). */
void agent_process_wipe_relay(void);

#endif
