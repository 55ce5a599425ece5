#include "agent/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kfile.h"
#include "agent/log.h"
#include "lib/cleanup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_VEIL CGROUP_ROOT "/veil"

static const char *const controllers[] = { "+memory", "+pids", "+cpu" };

static void enable_controllers(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	/* One at a time: the kernel rejects the whole write if any one is missing. */
	for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
		if (agent_write_file(path, controllers[i]) < 0)
			agent_log_debug("%s: %s: %s", path, controllers[i], strerror(errno));
}

void agent_cgroup_init(void)
{
	enable_controllers(CGROUP_ROOT);
	if (mkdir(CGROUP_VEIL, 0755) < 0 && errno != EEXIST) {
		agent_log_error("mkdir %s: %s", CGROUP_VEIL, strerror(errno));
		return;
	}
	enable_controllers(CGROUP_VEIL);
}

static void cgroup_path(char *out, size_t size, const char *id, const char *file)
{
	snprintf(out, size, CGROUP_VEIL "/%s%s%s", id, file ? "/" : "", file ? file : "");
}

static int set_limit(const char *id, const char *file, const char *value, veil_err_t *err)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, file);
	if (agent_write_file(path, value) < 0)
		return veil_fail(err, errno, "setting %s to %s", file, value);
	return 0;
}

int agent_cgroup_create(const char *id, const Veil__Agent__V1__Resources *res, veil_err_t *err)
{
	char path[256], value[64];
	cgroup_path(path, sizeof(path), id, NULL);
	if (mkdir(path, 0755) < 0)
		return veil_fail(err, errno, "mkdir %s", path);
	if (res == NULL)
		return 0;
	if (res->memory_limit > 0) {
		snprintf(value, sizeof(value), "%" PRId64, res->memory_limit);
		if (set_limit(id, "memory.max", value, err) < 0)
			return -1;
	}
	if (res->cpu_quota > 0) {
		snprintf(value, sizeof(value), "%" PRId64 " %" PRIu64, res->cpu_quota,
			 res->cpu_period ? res->cpu_period : 100000);
		if (set_limit(id, "cpu.max", value, err) < 0)
			return -1;
	}
	if (res->pids_limit > 0) {
		snprintf(value, sizeof(value), "%" PRId64, res->pids_limit);
		if (set_limit(id, "pids.max", value, err) < 0)
			return -1;
	}
	return 0;
}

int agent_cgroup_open_procs(const char *id, veil_err_t *err)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, "cgroup.procs");
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "open %s", path);
	return fd;
}

struct signal_all {
	const char *cgroup; /* below the cgroup root: "/veil/<id>" */
	int sig;
	veil_err_t *err;
};

/* Whether the process pidfd stands for (numbered pid in the agent's pid
 * namespace) is in cgroup or below it. */
static bool in_cgroup(pid_t pid, int pidfd, const char *cgroup)
{
	char path[64], line[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (agent_read_file(path, line, sizeof(line)) <= 0)
		return false;
	/* cgroup v2 only: "0::/veil/<id>/...". */
	size_t len = strlen(cgroup);
	bool in = strncmp(line, "0::", 3) == 0 && strncmp(line + 3, cgroup, len) == 0 &&
		  (line[3 + len] == '/' || line[3 + len] == '\n');
	explicit_bzero(line, sizeof(line)); /* the container named its cgroups */
	/* Alive after the read, the process kept its pid throughout: the file was its own. */
	return in && pidfd_send_signal(pidfd, 0, NULL, 0) == 0;
}

static int signal_if_in_cgroup(const char *name, unsigned char type, void *arg)
{
	(void)type;
	const struct signal_all *s = arg;
	char *end;
	long pid = strtol(name, &end, 10);
	if (*end != '\0' || pid <= 1)
		return 0;
	/* A pidfd pins the process: once it is known to be the container's, the
	 * signal cannot reach another that took over its pid. */
	cleanup_close int pidfd = pidfd_open((pid_t)pid, 0);
	if (pidfd >= 0 && in_cgroup((pid_t)pid, pidfd, s->cgroup) && pidfd_send_signal(pidfd, s->sig, NULL, 0) < 0 &&
	    errno != ESRCH)
		return veil_fail(s->err, errno, "signalling pid %ld", pid);
	return 0;
}

int agent_cgroup_signal(const char *id, int sig, veil_err_t *err)
{
	/* Atomic, and it reaches processes forked meanwhile too. */
	if (sig == SIGKILL)
		return agent_cgroup_kill(id, err);
	/* Every process of the guest, not only cgroup.procs: the container may
	 * have moved processes into cgroups of its own below its cgroup. */
	char cgroup[128];
	snprintf(cgroup, sizeof(cgroup), "/veil/%s", id);
	struct signal_all s = { .cgroup = cgroup, .sig = sig, .err = err };
	int rc = agent_each_entry("/proc", signal_if_in_cgroup, &s);
	if (rc < 0 && *err == NULL)
		return veil_fail(err, errno, "/proc");
	return rc;
}

int agent_cgroup_kill(const char *id, veil_err_t *err)
{
	return set_limit(id, "cgroup.kill", "1", err);
}

bool agent_cgroup_populated(const char *id)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, "cgroup.events");
	cleanup_kfile struct agent_kfile k;
	if (agent_kfile_open(&k, path) < 0)
		return false;
	for (const char *line; (line = agent_kfile_line(&k)) != NULL;)
		if (strcmp(line, "populated 1") == 0)
			return true;
	return false;
}

struct child_query {
	const char *dir;
	char *child;
	size_t size;
};

static int first_dir(const char *name, unsigned char type, void *arg)
{
	struct child_query *q = arg;
	if (type != DT_DIR)
		return 0;
	/* Too long to name: its rmdir below fails and says so. */
	int n = snprintf(q->child, q->size, "%s/%s", q->dir, name);
	return n > 0 && (size_t)n < q->size;
}

/* Writes the path of some cgroup directly below dir into child; 0 if there is none. */
static int first_child(const char *dir, char *child, size_t size)
{
	struct child_query q = { .dir = dir, .child = child, .size = size };
	return agent_each_entry(dir, first_dir, &q) > 0;
}

int agent_cgroup_remove(const char *id, veil_err_t *err)
{
	char top[256], path[PATH_MAX], child[PATH_MAX];
	cgroup_path(top, sizeof(top), id, NULL);
	/* The container may have made cgroups of its own (systemd does), and
	 * rmdir takes only leaves: remove the deepest first, one at a time. A
	 * loop rather than recursion, as the container chose the depth. */
	for (;;) {
		snprintf(path, sizeof(path), "%s", top);
		while (first_child(path, child, sizeof(child)))
			memcpy(path, child, sizeof(path));
		if (rmdir(path) < 0 && !(errno == ENOENT && strcmp(path, top) == 0))
			return veil_fail(err, errno, "rmdir %s", path);
		if (strcmp(path, top) == 0)
			return 0;
	}
}
