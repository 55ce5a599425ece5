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

int agent_cgroup_signal(const char *id, int sig, veil_err_t *err)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, "cgroup.procs");
	cleanup_fclose FILE *f = fopen(path, "re");
	if (f == NULL)
		return veil_fail(err, errno, "open %s", path);
	long pid;
	while (fscanf(f, "%ld", &pid) == 1)
		/* A process may exit between the read and the kill; that is not an error. */
		if (kill((pid_t)pid, sig) < 0 && errno != ESRCH)
			return veil_fail(err, errno, "kill %ld", pid);
	return 0;
}

int agent_cgroup_kill(const char *id, veil_err_t *err)
{
	return set_limit(id, "cgroup.kill", "1", err);
}

bool agent_cgroup_populated(const char *id)
{
	char path[256], line[64];
	cgroup_path(path, sizeof(path), id, "cgroup.events");
	cleanup_fclose FILE *f = fopen(path, "re");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strcmp(line, "populated 1\n") == 0)
			return true;
	return false;
}

/* Writes the path of some cgroup directly below dir into child; 0 if there is none. */
static int first_child(const char *dir, char *child, size_t size)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* Too long to name: its rmdir below fails and says so. */
		int n = snprintf(child, size, "%s/%s", dir, e->d_name);
		found = n > 0 && (size_t)n < size;
	}
	closedir(d);
	return found;
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
