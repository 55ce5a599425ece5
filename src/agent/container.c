#include "agent/container.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/clock.h"
#include "agent/log.h"
#include "agent/resolve.h"
#include "agent/rootfs.h"
#include "agent/seccomp.h"
#include "agent/trace.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"

/* How long DestroyContainer waits for SIGKILLed processes to leave the cgroup. */
#define KILL_WAIT_MS 5000

static struct agent_container *containers;

struct agent_container *agent_container_first(void)
{
	return containers;
}

struct agent_container *agent_container_find(const char *id)
{
	for (struct agent_container *c = containers; c != NULL; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

size_t agent_container_count(void)
{
	size_t n = 0;
	for (struct agent_container *c = containers; c != NULL; c = c->next)
		n++;
	return n;
}

static void teardown(struct agent_container *c)
{
	veil_err_t err = NULL;
	if (agent_cgroup_remove(c->id, &err) < 0) {
		agent_log_error("container %s: %s", c->id, err->msg);
		agent_wipe_error(&err);
	}
	agent_rootfs_unmount(c->id);
	if (c->seccomp != NULL)
		agent_seccomp_free(c->seccomp);
	c->seccomp = NULL;
}

const char *agent_container_joined(const struct agent_container *c, int flag)
{
	for (size_t i = 0; i < c->spec->n_joined_namespaces; i++) {
		int f, code;
		veil_err_t err = NULL;
		if (agent_namespace_flags(&c->spec->joined_namespaces[i]->type, 1, &f, &code, &err) == 0 && f == flag)
			return c->spec->joined_namespaces[i]->container_id;
		veil_error_free(&err);
	}
	return NULL;
}

/* runc looks the init's program up at create, so that a missing one fails there. */
static int lookup_executable(const struct agent_container *c, const Veil__Agent__V1__ExecutableLookup *e, int *code,
			     veil_err_t *err)
{
	if (e == NULL)
		return 0;
	cleanup_close int root = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return veil_fail(err, errno, "open %s", c->rootfs);
	if (agent_lookup_executable(root, e->file, e->search_path, e->cwd, err) < 0) {
		*code = (*err)->errnum == ENOENT ? VEIL_RPC_NOT_FOUND : VEIL_RPC_FAILED_PRECONDITION;
		return -1;
	}
	return 0;
}

/* Everything CreateContainer sets up but the rootfs mount. */
static int set_up(struct agent_container *c, Veil__Agent__V1__CreateContainerRequest *spec, int *code,
		  veil_err_t *err)
{
	int span = agent_trace_begin("stage");
	int rc = agent_rootfs_stage_files(c->id, spec->mounts, spec->n_mounts, err);
	agent_trace_end(span);
	if (rc < 0)
		return -1;
	span = agent_trace_begin("cgroup");
	rc = agent_cgroup_create(c->id, spec, err);
	agent_trace_end(span);
	if (rc < 0)
		return -1;
	if (spec->seccomp != NULL) {
		span = agent_trace_begin("seccomp");
		c->seccomp = agent_seccomp_compile(spec->seccomp, agent_seccomp_absent_archs(), err);
		agent_trace_end(span);
		if (c->seccomp == NULL)
			return -1;
	}
	c->spec = spec;
	span = agent_trace_begin("lookup");
	rc = lookup_executable(c, spec->executable, code, err);
	agent_trace_end(span);
	return rc;
}

/* Whether the host copied a file in for spec: its mount point may be missing. */
static bool has_file_mount(const Veil__Agent__V1__CreateContainerRequest *spec)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (strcmp(spec->mounts[i]->type, "file") == 0)
			return true;
	return false;
}

struct agent_container *agent_container_create(Veil__Agent__V1__CreateContainerRequest *spec, bool secrets, int *code,
					       veil_err_t *err)
{
	*code = VEIL_RPC_FAILED_PRECONDITION;
	if (agent_container_find(spec->container_id) != NULL) {
		*code = VEIL_RPC_ALREADY_EXISTS;
		return veil_fail(err, 0, "container %s already exists", spec->container_id), NULL;
	}
	if (agent_container_count() >= AGENT_MAX_CONTAINERS)
		return veil_fail(err, 0, "at most %d containers per VM", AGENT_MAX_CONTAINERS), NULL;
	struct agent_container *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return veil_fail(err, ENOMEM, "container"), NULL;
	snprintf(c->id, sizeof(c->id), "%s", spec->container_id);
	/* Validated already; only the flags are needed here. */
	agent_namespace_flags(spec->namespaces, spec->n_namespaces, &c->ns_flags, code, err);
	for (size_t i = 0; i < spec->n_joined_namespaces; i++) {
		int flag;
		agent_namespace_flags(&spec->joined_namespaces[i]->type, 1, &flag, code, err);
		c->ns_joined |= flag;
	}
	*code = VEIL_RPC_FAILED_PRECONDITION;
	c->secrets = secrets;
	/* The image need not have the mount points: runc makes them before it
	 * makes the root read-only, and so does mountns.c. */
	c->readonly_later = spec->rootfs_readonly && (secrets || has_file_mount(spec));
	int rc = agent_rootfs_mount(c->id, spec, spec->rootfs_readonly && !c->readonly_later, c->rootfs, sizeof(c->rootfs),
				    err);
	if (rc < 0 && (*err)->errnum == ENOENT)
		*code = VEIL_RPC_NOT_FOUND; /* no disk with that serial */
	if (rc < 0 || set_up(c, spec, code, err) < 0) {
		c->spec = NULL;
		teardown(c);
		agent_wipe_free(c);
		return NULL;
	}
	c->events_fd = agent_cgroup_open_events(c->id);
	if (c->events_fd >= 0)
		c->oom_kills = agent_cgroup_oom_kills(c->events_fd);
	c->next = containers;
	containers = c;
	return c;
}

void agent_container_kill(struct agent_container *c)
{
	veil_err_t err = NULL;
	if (agent_cgroup_kill(c->id, &err) < 0) {
		agent_log_error("container %s: %s", c->id, err->msg);
		agent_wipe_error(&err);
	}
	int64_t deadline = agent_now_ms() + KILL_WAIT_MS;
	for (;;) {
		agent_reap();
		if (!agent_cgroup_populated(c->id))
			break;
		if (agent_now_ms() >= deadline) {
			agent_log_error("container %s: processes survive SIGKILL", c->id);
			break;
		}
		usleep(2000);
	}
	/* Zombies leave the cgroup before their parent reaps them. */
	agent_reap();
}

void agent_container_remove(struct agent_container *c)
{
	agent_process_note_change();
	for (struct agent_container **pp = &containers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->events_fd >= 0)
		close(c->events_fd);
	teardown(c);
	while (c->processes != NULL) {
		struct agent_process *p = c->processes;
		c->processes = p->next;
		agent_process_free(p);
	}
	protobuf_c_message_free_unpacked(&c->spec->base, &agent_wipe_allocator);
	agent_wipe_free(c);
}

bool agent_container_oom_killed(struct agent_container *c)
{
	uint64_t kills = agent_cgroup_oom_kills(c->events_fd);
	bool grew = kills > c->oom_kills;
	c->oom_kills = kills;
	return grew;
}

struct agent_process *agent_container_process(const struct agent_container *c, const char *exec_id)
{
	for (struct agent_process *p = c->processes; p != NULL; p = p->next)
		if (strcmp(p->exec_id, exec_id) == 0)
			return p;
	return NULL;
}

bool agent_container_make_room(struct agent_container *c)
{
	size_t n = 0;
	struct agent_process **evictable = NULL;
	for (struct agent_process **pp = &c->processes; *pp != NULL; pp = &(*pp)->next) {
		n++;
		/* New processes go to the front, so the last match is the oldest. */
		struct agent_process *p = *pp;
		if (p->exec_id[0] != '\0' && p->delivered && agent_process_done(p))
			evictable = pp;
	}
	if (n < AGENT_MAX_PROCESSES)
		return true;
	if (evictable == NULL)
		return false;
	struct agent_process *victim = *evictable;
	*evictable = victim->next;
	agent_process_free(victim);
	return true;
}

void agent_container_add_process(struct agent_container *c, struct agent_process *p)
{
	p->next = c->processes;
	c->processes = p;
}

static struct agent_process *find_running(pid_t pid)
{
	for (struct agent_container *c = containers; c != NULL; c = c->next)
		for (struct agent_process *p = c->processes; p != NULL; p = p->next)
			if (p->pid == pid && !p->exited)
				return p;
	return NULL;
}

void agent_reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct agent_process *p = find_running(pid);
		if (p != NULL) {
			agent_log_debug("pid %d exited with status 0x%x", pid, status);
			agent_process_exited(p, status);
		}
	}
}
