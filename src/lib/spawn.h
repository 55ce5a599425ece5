/* Starting helper programs (QEMU, mkfs.erofs) by argv, never through a shell. */
#ifndef VEIL_SPAWN_H
#define VEIL_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"

struct veil_spawn_opts {
	const int *pass_fds; /* fds dup'd to 3, 4, ... in the child */
	int n_pass_fds;
	int stdout_fd;       /* -1: /dev/null */
	int stderr_fd;       /* -1: /dev/null */
	bool new_session;    /* keep the terminal's SIGINT away from the child */
	bool die_with_parent;
	/* No transparent huge pages for the program (PR_SET_THP_DISABLE, kept
	 * across exec): a 2 MiB page for a few KiB touched costs memory. */
	bool no_huge_pages;
	/* Runs in the child after die_with_parent has taken effect and before
	 * the fds are arranged and the program runs: async-signal-safe calls
	 * only. Returns 0, or an errno that makes veil_spawn fail ("preparing
	 * PROGRAM: ..."). */
	int (*prepare)(void *arg);
	void *prepare_arg;
};

int veil_spawn(char *const argv[], const struct veil_spawn_opts *opts, pid_t *pid, veil_err_t *err);

/* Runs argv to completion. On failure the error carries the last line the
 * program wrote to stderr. */
int veil_run_program(char *const argv[], veil_err_t *err);

int veil_pidfd_open(pid_t pid);

/* SIGKILLs a child (through its pidfd if >= 0, so that a reused pid is never
 * hit) and reaps it; a process that is not our child is waited for on its
 * pidfd, at most wait_ms. */
void veil_kill_and_reap(pid_t pid, int pidfd, int wait_ms);

/* The last non-empty line of what a program wrote to fd (a temporary file
 * given as its stderr), read from the start; "" if none. */
void veil_last_line_of(int fd, char *out, size_t size);

/* fork(2) for a child that talks to its parent over a channel made first,
 * close-on-exec: a pipe (socket_type 0) or a socketpair of socket_type. On
 * failure nothing is left open and -1 comes back with *err. */
pid_t veil_fork_with_channel(int socket_type, int channel[2], veil_err_t *err);

/* Closes every fd of this process but those in keep (any order; -1 entries
 * are ignored). For a forked child that does not exec. */
void veil_close_fds_except(const int *keep, size_t n);

/* Blocks the given signals and returns a signalfd for them (SIGPIPE is
 * ignored): long-lived processes take signals in their event loop. */
int veil_signalfd_for(const int *signals, size_t n, veil_err_t *err);

#endif
