/* ListProcesses: a container's processes as the guest sees them. */
#ifndef VEIL_AGENT_PS_H
#define VEIL_AGENT_PS_H

#include "lib/error.h"
#include "proto/rpc.h"

/* Bounds of one response: 1024 processes with 1 KiB of arguments each stay
 * well below a frame. */
#define AGENT_PS_MAX 1024
#define AGENT_PS_CMDLINE_MAX 1024

/* Fills resp with the processes in the container's cgroup and below it, but
 * not those still being set up by the agent. Free with agent_list_processes_free. */
int agent_list_processes(const char *id, Veil__Agent__V1__ListProcessesResponse *resp, veil_err_t *err);
void agent_list_processes_free(Veil__Agent__V1__ListProcessesResponse *resp);

#endif
