/* The host cgroup: cgroupsPath as runc reads it (relative, absolute, the
 * systemd form), and what veil_cgroup_enter writes, on a tree of plain files
 * laid out as v1 hierarchies and a v2 one. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "lib/host_cgroup.h"
#include "tap.h"

static char *path_of(const char *cgroups_path, bool systemd, bool running)
{
	static char out[PATH_MAX];
	veil_err_t err = NULL;
	if (veil_cgroup_path(cgroups_path, systemd, running, out, sizeof(out), &err) < 0) {
		snprintf(out, sizeof(out), "error: %s", err->msg);
		veil_error_free(&err);
	}
	return out;
}

static void test_paths(void)
{
	CHECK(strcmp(path_of("/libpod_parent/libpod-abc", false, false), "/libpod_parent/libpod-abc") == 0,
	      "an absolute cgroupsPath is taken as it is");
	CHECK(strcmp(path_of("k8s/pod1", false, false), "k8s/pod1") == 0, "a relative one stays relative");
	CHECK(strncmp(path_of("/a/../b", false, false), "error: cgroupsPath /a/../b has a \"..\" component", 40) == 0,
	      "a .. component is refused");
	CHECK(strcmp(path_of("system.slice:docker:abc", true, false),
		     "error: systemd not running on this host, can't use systemd as cgroups manager") == 0,
	      "--systemd-cgroup without systemd is refused in runc's words");
	CHECK(strcmp(path_of("machine-pod1.slice:libpod:abc", true, true), "/machine.slice/machine-pod1.slice/libpod-abc.scope") ==
		      0,
	      "slice:prefix:name: the slice expanded, the scope named prefix-name: %s",
	      path_of("machine-pod1.slice:libpod:abc", true, true));
	CHECK(strcmp(path_of(":runc:abc", true, true), "/system.slice/runc-abc.scope") == 0, "no slice means system.slice");
	CHECK(strcmp(path_of("-.slice:p:sub.slice", true, true), "/sub.slice") == 0, "a name that is a slice is the unit");
	CHECK(strncmp(path_of("a:b", true, true), "error: expected cgroupsPath to be of format", 43) == 0,
	      "two fields are refused");
	CHECK(strncmp(path_of("a--b.slice:p:n", true, true), "error: invalid slice name", 25) == 0,
	      "a slice with -- is refused");
}

static void touch(const char *dir, const char *file)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
}

static char *slurp(const char *dir, const char *file)
{
	static char buf[128];
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

static void test_enter(void)
{
	char root[] = "/tmp/veil-cg.XXXXXX";
	if (mkdtemp(root) == NULL)
		abort();
	struct veil_cgroup_hierarchy h[3] = { { .v2 = false, .controllers = "rw,memory", .own = "/" },
					      { .v2 = false, .controllers = "rw,cpu,cpuacct", .own = "/user" },
					      { .v2 = true, .controllers = "", .own = "/" } };
	snprintf(h[0].mount, sizeof(h[0].mount), "%s/memory", root);
	snprintf(h[1].mount, sizeof(h[1].mount), "%s/cpu", root);
	snprintf(h[2].mount, sizeof(h[2].mount), "%s/unified", root);
	veil_err_t err = NULL;
	char mem[PATH_MAX + 16], cpu[PATH_MAX + 16], uni[PATH_MAX + 16];
	snprintf(mem, sizeof(mem), "%s/c1", h[0].mount);
	snprintf(cpu, sizeof(cpu), "%s/user/c1", h[1].mount);
	snprintf(uni, sizeof(uni), "%s/c1", h[2].mount);
	/* cgroupfs makes these files with the directory; here they are made ahead. */
	veil_mkdir_p(mem, 0755, &err);
	veil_mkdir_p(cpu, 0755, &err);
	veil_mkdir_p(uni, 0755, &err);
	const char *mem_files[] = { "memory.limit_in_bytes", "cgroup.procs" };
	const char *cpu_files[] = { "cpu.cfs_period_us", "cpu.cfs_quota_us", "cgroup.procs" };
	for (int i = 0; i < 2; i++)
		touch(mem, mem_files[i]);
	for (int i = 0; i < 3; i++)
		touch(cpu, cpu_files[i]);
	touch(uni, "cgroup.procs"); /* a hybrid host's unified hierarchy: no controllers */
	struct veil_cgroup_limits l = { .memory_bytes = 300 << 20, .cpu_quota_us = 150000, .cpu_period_us = 100000 };
	int rc = veil_cgroup_enter(h, 3, "c1", 4242, &l, &err);
	CHECK(rc == 0, "entering a relative cgroup in three hierarchies: %s", err ? err->msg : "ok");
	veil_error_free(&err);
	CHECK(strcmp(slurp(mem, "memory.limit_in_bytes"), "314572800") == 0 && strcmp(slurp(mem, "cgroup.procs"), "4242") == 0,
	      "v1 memory: the limit, and the pid");
	CHECK(strcmp(slurp(cpu, "cpu.cfs_quota_us"), "150000") == 0 && strcmp(slurp(cpu, "cpu.cfs_period_us"), "100000") == 0,
	      "v1 cpu, relative to the caller's own cgroup /user: quota and period");
	CHECK(strcmp(slurp(uni, "cgroup.procs"), "4242") == 0, "the unified hierarchy without controllers gets the pid only");

	snprintf(uni, sizeof(uni), "%s/a/b", h[2].mount);
	veil_mkdir_p(uni, 0755, &err);
	touch(uni, "memory.max");
	touch(uni, "cpu.max");
	touch(uni, "cgroup.procs");
	char a[PATH_MAX + 16];
	snprintf(a, sizeof(a), "%s/a", h[2].mount);
	touch(h[2].mount, "cgroup.subtree_control");
	touch(a, "cgroup.subtree_control");
	rc = veil_cgroup_enter(&h[2], 1, "/a/b", 7, &l, &err);
	CHECK(rc == 0 && strcmp(slurp(uni, "memory.max"), "314572800") == 0 && strcmp(slurp(uni, "cpu.max"), "150000 100000") == 0,
	      "v2: memory.max and cpu.max");
	/* A plain file keeps the longest write's tail; cgroupfs takes each write whole. */
	CHECK(strncmp(slurp(a, "cgroup.subtree_control"), "+pids", 5) == 0 &&
		      strncmp(slurp(h[2].mount, "cgroup.subtree_control"), "+pids", 5) == 0,
	      "v2: the root and each ancestor enable the controllers for their child (the last write shows)");
	veil_error_free(&err);
	struct veil_cgroup_hierarchy real[VEIL_CGROUP_HIERARCHIES_MAX];
	size_t n = 0;
	CHECK(veil_cgroup_hierarchies(real, VEIL_CGROUP_HIERARCHIES_MAX, &n, &err) == 0 && n > 0,
	      "this host's hierarchies are found (%zu)", n);
	veil_error_free(&err);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		abort();
}

int main(void)
{
	test_paths();
	test_enter();
	return tap_done();
}
