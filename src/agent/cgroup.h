/* The guest's cgroup v2 tree: /sys/fs/cgroup/veil/<container id>, one per container. */
#ifndef VEIL_AGENT_CGROUP_H
#define VEIL_AGENT_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "proto/rpc.h"

/* Enables the controllers the agent uses wherever the kernel has them. */
void agent_cgroup_init(void);
/* Makes the container's cgroup with spec's resources and device rules. */
int agent_cgroup_create(const char *id, const Veil__Agent__V1__CreateContainerRequest *spec, veil_err_t *err);
/* The runtime spec's cgroup v1 values in cgroup v2 terms, as runc converts
 * them: cpu shares to cpu.weight, blkio weight to io.weight, and memory plus
 * swap to memory.swap.max (-1 if the combination makes no sense). */
uint64_t agent_cpu_weight(uint64_t shares);
uint64_t agent_io_weight(uint32_t blkio_weight);
int agent_swap_max(int64_t swap, int64_t memory, int64_t *out);
/* An update of the container's resources, as at create: a value, -1 lifts a limit ("max"), 0 leaves it. */
int agent_cgroup_set_limits(const char *id, const Veil__Agent__V1__Resources *res, veil_err_t *err);
/* Writes cgroup.freeze: the container's processes stop (or go on) at once. */
int agent_cgroup_freeze(const char *id, bool frozen, veil_err_t *err);
/* What the container's cgroup reports; -1 if it does not exist. */
int agent_cgroup_stats(const char *id, Veil__Agent__V1__StatsContainerResponse *out, veil_err_t *err);
/* An fd on the container's memory.events (-1 if it cannot be opened): the
 * kernel wakes poll(2) on it with POLLPRI when a count changes, and
 * agent_cgroup_oom_kills reads its oom_kill count and re-arms it. */
int agent_cgroup_open_events(const char *id);
uint64_t agent_cgroup_oom_kills(int events_fd);
/* An fd on the container's cgroup.procs; a child writes "0" to it to join. */
int agent_cgroup_open_procs(const char *id, veil_err_t *err);
/* Calls fn for each process in the container's cgroup or a cgroup the
 * container made below it, with a pidfd checked to be that process's, until
 * fn returns non-zero; returns that, 0, or -1 with errno if /proc cannot be read. */
int agent_cgroup_each_process(const char *id, int (*fn)(pid_t pid, int pidfd, void *arg), void *arg);
/* Sends sig to every process in the container's cgroup and the cgroups the
 * container made below it, each through a pidfd checked to be the container's. */
int agent_cgroup_signal(const char *id, int sig, veil_err_t *err);
/* SIGKILLs the whole cgroup at once (cgroup.kill), so forks cannot race the kill. */
int agent_cgroup_kill(const char *id, veil_err_t *err);
bool agent_cgroup_populated(const char *id);
/* Removes the cgroup and any the container made below it; they must be empty. Missing is fine. */
int agent_cgroup_remove(const char *id, veil_err_t *err);

#endif
