/* The agent's table of containers and their processes. */
#ifndef VEIL_AGENT_CONTAINER_H
#define VEIL_AGENT_CONTAINER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/process.h"
#include "agent/seccomp.h"
#include "lib/error.h"
#include "proto/rpc.h"

struct agent_container {
	struct agent_container *next;
	char id[AGENT_ID_MAX + 1];
	/* The request that created it, kept whole: the init's namespaces, mounts,
	 * hostname and masked/readonly paths come from it. */
	Veil__Agent__V1__CreateContainerRequest *spec;
	int ns_flags;         /* CLONE_NEW* the init makes */
	int ns_joined;        /* CLONE_NEW* the init shares with other containers (spec->joined_namespaces) */
	char rootfs[PATH_MAX]; /* root of the container in the agent's mount namespace */
	struct agent_seccomp *seccomp; /* compiled spec->seccomp; NULL without one */
	bool secrets;         /* a confidential container's secrets are on a tmpfs for it (confidential.h) */
	/* A read-only root that is an overlay until the mount points made in it
	 * (/run/secrets, a copied-in file's) are there, then made read-only. */
	bool readonly_later;
	struct agent_process *processes;
	int events_fd;        /* its memory.events, polled for OOM kills; -1 without */
	uint64_t oom_kills;   /* memory.events oom_kill when last read */
};

struct agent_container *agent_container_first(void);
size_t agent_container_count(void);
struct agent_container *agent_container_find(const char *id);
/* Sets up rootfs and cgroup; takes ownership of spec (unpacked with
 * agent_wipe_allocator) on success. secrets: the container will get secrets
 * at /run/secrets. A read-only root that gets secrets or a copied-in host
 * file is an overlay too, made read-only once their mount points are there
 * (as runc does it). */
struct agent_container *agent_container_create(Veil__Agent__V1__CreateContainerRequest *spec, bool secrets, int *code,
					       veil_err_t *err);
/* SIGKILLs the container's cgroup and reaps until it is empty (or a timeout passes). */
void agent_container_kill(struct agent_container *c);
/* Unmounts, removes the cgroup and frees the container and its processes. */
void agent_container_remove(struct agent_container *c);

struct agent_process *agent_container_process(const struct agent_container *c, const char *exec_id);
/* The id of the container whose namespace of type flag (one CLONE_NEW* of ns_joined) c shares. */
const char *agent_container_joined(const struct agent_container *c, int flag);
/* Whether another process fits; may evict an exited process whose status was delivered. */
bool agent_container_make_room(struct agent_container *c);
void agent_container_add_process(struct agent_container *c, struct agent_process *p);

/* True, once per kill, when the container's OOM kill count has grown since
 * it was last read (its events_fd polled readable). */
bool agent_container_oom_killed(struct agent_container *c);

/* Reaps every exited child (PID 1 inherits orphans too) and records exit statuses. */
void agent_reap(void);

#endif
