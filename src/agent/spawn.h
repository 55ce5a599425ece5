/* Starting container processes: the init in new namespaces, or a process
 * joining the init's; stdio wiring and the credentials the host asked for. */
#ifndef VEIL_AGENT_SPAWN_H
#define VEIL_AGENT_SPAWN_H

#include "agent/container.h"
#include "lib/error.h"

/* The name of a process until it execs. Exec names a process after the
 * basename of its file, which holds no '/': a process still called this has
 * not exec'd. */
#define AGENT_SETUP_COMM "veil/setup"

/* Records the limits container processes get back, and raises the agent's; called once at boot. */
int agent_spawn_init(veil_err_t *err);

/* Starts the process req describes in container c and fills p (pid, stdio fds,
 * stream ids). Returns 0 once it has exec'd, else -1 with the gRPC *code and *err
 * (exec failures included: NOT_FOUND for a missing executable). */
int agent_spawn(struct agent_container *c, const Veil__Agent__V1__ExecProcessRequest *req, struct agent_process *p,
		int *code, veil_err_t *err);

#endif
