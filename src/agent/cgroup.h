/* The guest's cgroup v2 tree: /sys/fs/cgroup/veil/<container id>, one per container. */
#ifndef VEIL_AGENT_CGROUP_H
#define VEIL_AGENT_CGROUP_H

#include <stdbool.h>

#include "lib/error.h"
#include "proto/rpc.h"

/* Enables the controllers the agent uses wherever the kernel has them. */
void agent_cgroup_init(void);
int agent_cgroup_create(const char *id, const Veil__Agent__V1__Resources *res, veil_err_t *err);
/* An fd on the container's cgroup.procs; a child writes "0" to it to join. */
int agent_cgroup_open_procs(const char *id, veil_err_t *err);
/* Sends sig to every process in the container's cgroup and the cgroups the
 * container made below it, each through a pidfd checked to be the container's. */
int agent_cgroup_signal(const char *id, int sig, veil_err_t *err);
/* SIGKILLs the whole cgroup at once (cgroup.kill), so forks cannot race the kill. */
int agent_cgroup_kill(const char *id, veil_err_t *err);
bool agent_cgroup_populated(const char *id);
/* Removes the cgroup and any the container made below it; they must be empty. Missing is fine. */
int agent_cgroup_remove(const char *id, veil_err_t *err);

#endif
