/* A container process's terminal. The pty comes from the container's own
 * devpts (as with runc), so that tty(1) and ttyname(3) work inside: the child
 * opens it after entering the container's mount namespace and hands the master
 * to the agent over a unix socket. */
#ifndef VEIL_AGENT_CONSOLE_H
#define VEIL_AGENT_CONSOLE_H

#include "lib/error.h"

/* Child: allocates the pty from the /dev/ptmx of the container whose root is
 * root, sets its size (0 = leave), sends the master over sock and returns the
 * slave fd. */
int agent_console_open(int root, int sock, unsigned rows, unsigned cols, veil_err_t *err);
/* Agent: receives the master into *master. Returns 1, or 0 if the child
 * closed the socket first (it failed; its setup report says why), or -1. */
int agent_console_receive(int sock, int timeout_ms, int *master, veil_err_t *err);

#endif
