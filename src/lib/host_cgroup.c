#include "lib/host_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"

/* A whole mountinfo or cgroup line fits: paths are at most PATH_MAX. */
#define LINE_MAX_BYTES (3 * PATH_MAX)

bool veil_systemd_running(void)
{
	return access("/run/systemd/system", F_OK) == 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Field i (from 0) of a space-separated line, NUL-terminated in place; NULL if there are fewer. */
static char *field(char **fields, size_t n, size_t i)
{
	return i < n ? fields[i] : NULL;
}

static size_t split(char *line, char **fields, size_t cap)
{
	size_t n = 0;
	for (char *save = NULL, *tok = strtok_r(line, " \n", &save); tok != NULL && n < cap;
	     tok = strtok_r(NULL, " \n", &save))
		fields[n++] = tok;
	return n;
}

/* Whether every comma-separated item of want is among the items of have. */
static bool items_in(const char *want, const char *have)
{
	for (const char *w = want; *w != '\0';) {
		size_t len = strcspn(w, ",");
		bool found = false;
		for (const char *h = have; *h != '\0' && !found;) {
			size_t hlen = strcspn(h, ",");
			found = hlen == len && strncmp(h, w, len) == 0;
			h += hlen + (h[hlen] == ',');
		}
		if (!found)
			return false;
		w += len + (w[len] == ',');
	}
	return true;
}

static int read_mounts(struct veil_cgroup_hierarchy *out, size_t cap, size_t *n, veil_err_t *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return veil_fail(err, errno, "/proc/self/mountinfo");
	char line[LINE_MAX_BYTES];
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fields[64];
		size_t nf = split(line, fields, 64), dash = 0;
		while (dash < nf && strcmp(fields[dash], "-") != 0)
			dash++;
		const char *type = field(fields, nf, dash + 1), *super = field(fields, nf, dash + 3);
		char *mount = field(fields, nf, 4);
		if (type == NULL || super == NULL || mount == NULL ||
		    (strcmp(type, "cgroup") != 0 && strcmp(type, "cgroup2") != 0))
			continue;
		bool v2 = strcmp(type, "cgroup2") == 0;
		/* The same hierarchy mounted twice is one hierarchy. */
		bool seen = false;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = out[i].v2 == v2 && strcmp(out[i].controllers, v2 ? "" : super) == 0;
		if (seen || *n == cap)
			continue;
		struct veil_cgroup_hierarchy *h = &out[(*n)++];
		unescape(mount);
		snprintf(h->mount, sizeof(h->mount), "%s", mount);
		h->v2 = v2;
		snprintf(h->controllers, sizeof(h->controllers), "%s", v2 ? "" : super);
		snprintf(h->own, sizeof(h->own), "/");
	}
	return 0;
}

/* Each hierarchy's cgroup of this process, from /proc/self/cgroup:
 * "id:controllers:path", controllers empty for v2. */
static int read_own(struct veil_cgroup_hierarchy *h, size_t n, veil_err_t *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
	if (f == NULL)
		return veil_fail(err, errno, "/proc/self/cgroup");
	char line[LINE_MAX_BYTES];
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		const char *controllers = c1 + 1, *path = c2 + 1;
		for (size_t i = 0; i < n; i++)
			if (controllers[0] == '\0' ? h[i].v2 : !h[i].v2 && items_in(controllers, h[i].controllers))
				snprintf(h[i].own, sizeof(h[i].own), "%s", path);
	}
	return 0;
}

int veil_cgroup_hierarchies(struct veil_cgroup_hierarchy *out, size_t cap, size_t *n, veil_err_t *err)
{
	*n = 0;
	if (read_mounts(out, cap, n, err) < 0 || read_own(out, *n, err) < 0)
		return -1;
	if (*n == 0)
		return veil_fail(err, 0, "no cgroup hierarchy is mounted");
	return 0;
}

/* runc's ExpandSlice: "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice. */
static int expand_slice(const char *slice, char *out, size_t size, veil_err_t *err)
{
	size_t len = strlen(slice);
	if (len < 6 || strcmp(slice + len - 6, ".slice") != 0 || strchr(slice, '/') != NULL)
		return veil_fail(err, 0, "invalid slice name %s", slice);
	out[0] = '\0';
	if (strcmp(slice, "-.slice") == 0)
		return 0;
	const char *base = slice, *end = slice + len - 6;
	if (base == end || *base == '-' || end[-1] == '-' || strstr(slice, "--") != NULL)
		return veil_fail(err, 0, "invalid slice name %s", slice);
	size_t used = 0;
	for (const char *p = base; p <= end; p++) {
		if (p != end && *p != '-')
			continue;
		int w = snprintf(out + used, size - used, "/%.*s.slice", (int)(p - base), base);
		if (w < 0 || (size_t)w >= size - used)
			return veil_fail(err, ENAMETOOLONG, "slice %s", slice);
		used += (size_t)w;
	}
	return 0;
}

int veil_cgroup_path(const char *cgroups_path, bool systemd, bool systemd_running, char *out, size_t size,
		     veil_err_t *err)
{
	if (!systemd) {
		if (snprintf(out, size, "%s", cgroups_path) >= (int)size)
			return veil_fail(err, ENAMETOOLONG, "cgroupsPath");
		/* Lexically: ".." may not climb above the hierarchy's root. */
		for (const char *p = out; *p != '\0';) {
			size_t n = strcspn(p, "/");
			if (n == 2 && p[0] == '.' && p[1] == '.')
				return veil_fail(err, 0, "cgroupsPath %s has a \"..\" component", cgroups_path);
			p += n + (p[n] == '/');
		}
		return 0;
	}
	if (!systemd_running)
		return veil_fail(err, 0, "systemd not running on this host, can't use systemd as cgroups manager");
	char slice[256], prefix[256], name[256];
	const char *c1 = strchr(cgroups_path, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL || strchr(c2 + 1, ':') != NULL || (size_t)(c1 - cgroups_path) >= sizeof(slice) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(prefix) || strlen(c2 + 1) >= sizeof(name) || c2[1] == '\0' ||
	    strchr(c2 + 1, '/') != NULL || strchr(c1 + 1, '/') != NULL)
		return veil_fail(err, 0,
				 "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"%.200s\" instead",
				 cgroups_path);
	snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - cgroups_path), cgroups_path);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	snprintf(name, sizeof(name), "%s", c2 + 1);
	char expanded[PATH_MAX];
	if (expand_slice(slice[0] != '\0' ? slice : "system.slice", expanded, sizeof(expanded), err) < 0)
		return -1;
	/* A name that is a slice is the unit itself; otherwise a scope, as runc names it. */
	size_t nlen = strlen(name);
	bool is_slice = nlen > 6 && strcmp(name + nlen - 6, ".slice") == 0;
	int w = is_slice ? snprintf(out, size, "%s/%s", expanded, name)
			 : snprintf(out, size, "%s/%s%s%s.scope", expanded, prefix, prefix[0] ? "-" : "", name);
	if (w < 0 || (size_t)w >= size)
		return veil_fail(err, ENAMETOOLONG, "cgroupsPath");
	return 0;
}

/* The directory path names in hierarchy h. */
static int dir_of(const struct veil_cgroup_hierarchy *h, const char *path, char *out, size_t size, veil_err_t *err)
{
	int w = path[0] == '/' ? snprintf(out, size, "%s%s", h->mount, path)
			       : snprintf(out, size, "%s%s/%s", h->mount, strcmp(h->own, "/") == 0 ? "" : h->own, path);
	if (w < 0 || (size_t)w >= size)
		return veil_fail(err, ENAMETOOLONG, "cgroup %s", path);
	return 0;
}

static int write_in(const char *dir, const char *file, const char *value, veil_err_t *err)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		return veil_fail(err, errno, "writing %s to %s", value, path);
	return 0;
}

static bool has_file(const char *dir, const char *file)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* v2 enables a controller for a cgroup in its parent's subtree_control, all
 * the way down from the root. The unified hierarchy of a hybrid host may
 * have neither, which then leaves the limits to v1. */
static void enable_v2_controllers(const char *mount, const char *dir)
{
	char ancestor[PATH_MAX];
	for (const char *p = dir + strlen(mount); (p = strchr(p, '/')) != NULL; p++) {
		snprintf(ancestor, sizeof(ancestor), "%.*s", (int)(p - dir), dir);
		for (const char *c = "+memory\0+cpu\0+pids\0"; *c != '\0'; c += strlen(c) + 1) {
			veil_err_t ignored = NULL;
			write_in(ancestor, "cgroup.subtree_control", c, &ignored);
			veil_error_free(&ignored);
		}
	}
}

/* A v1 cpuset cgroup starts with no CPUs and no memory nodes, and takes no
 * task until it has both: each new level gets its parent's, as runc copies them. */
static int inherit_cpuset(const char *mount, const char *dir, veil_err_t *err)
{
	char child[PATH_MAX], parent[PATH_MAX], path[PATH_MAX + 32];
	size_t end = strlen(dir);
	/* Each level below the root, top down. */
	for (size_t len = strlen(mount) + 1; len <= end; len++) {
		if (dir[len] != '/' && dir[len] != '\0')
			continue;
		snprintf(child, sizeof(child), "%.*s", (int)len, dir);
		snprintf(parent, sizeof(parent), "%s", child);
		*strrchr(parent, '/') = '\0';
		for (const char *file = "cpuset.cpus\0cpuset.mems\0"; *file != '\0'; file += strlen(file) + 1) {
			snprintf(path, sizeof(path), "%s/%s", child, file);
			cleanup_free char *now = veil_read_file(path, 4096, NULL, NULL);
			if (now != NULL && strspn(now, " \n") != strlen(now))
				continue;
			snprintf(path, sizeof(path), "%s/%s", parent, file);
			cleanup_free char *from = veil_read_file(path, 4096, NULL, err);
			if (from == NULL || write_in(child, file, from, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int set_limits(const struct veil_cgroup_hierarchy *h, const char *dir, const struct veil_cgroup_limits *l,
		      veil_err_t *err)
{
	char value[64];
	bool memory = h->v2 ? has_file(dir, "memory.max") : items_in("memory", h->controllers);
	bool cpu = h->v2 ? has_file(dir, "cpu.max") : items_in("cpu", h->controllers);
	if (l->memory_bytes > 0 && memory) {
		snprintf(value, sizeof(value), "%" PRId64, l->memory_bytes);
		if (write_in(dir, h->v2 ? "memory.max" : "memory.limit_in_bytes", value, err) < 0)
			return -1;
	}
	if (l->cpu_quota_us > 0 && cpu) {
		uint64_t period = l->cpu_period_us ? l->cpu_period_us : 100000;
		if (h->v2) {
			snprintf(value, sizeof(value), "%" PRId64 " %" PRIu64, l->cpu_quota_us, period);
			return write_in(dir, "cpu.max", value, err);
		}
		snprintf(value, sizeof(value), "%" PRIu64, period);
		if (write_in(dir, "cpu.cfs_period_us", value, err) < 0)
			return -1;
		snprintf(value, sizeof(value), "%" PRId64, l->cpu_quota_us);
		return write_in(dir, "cpu.cfs_quota_us", value, err);
	}
	return 0;
}

int veil_cgroup_enter(const struct veil_cgroup_hierarchy *h, size_t n, const char *path, pid_t pid,
		      const struct veil_cgroup_limits *limits, veil_err_t *err)
{
	char dir[PATH_MAX], value[32];
	snprintf(value, sizeof(value), "%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		if (dir_of(&h[i], path, dir, sizeof(dir), err) < 0 || veil_mkdir_p(dir, 0755, err) < 0)
			return -1;
		if (h[i].v2)
			enable_v2_controllers(h[i].mount, dir);
		else if (items_in("cpuset", h[i].controllers) && inherit_cpuset(h[i].mount, dir, err) < 0)
			return veil_fail_context(err, "host cgroup %s", path);
		if (set_limits(&h[i], dir, limits, err) < 0 || write_in(dir, "cgroup.procs", value, err) < 0)
			return veil_fail_context(err, "host cgroup %s", path);
	}
	return 0;
}

size_t veil_cgroup_remove(const struct veil_cgroup_hierarchy *h, size_t n, const char *path)
{
	char dir[PATH_MAX];
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		veil_err_t err = NULL;
		if (dir_of(&h[i], path, dir, sizeof(dir), &err) == 0 && rmdir(dir) < 0 && errno != ENOENT)
			left++;
		veil_error_free(&err);
	}
	return left;
}
