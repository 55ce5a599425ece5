#include "agent/mountns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/validate.h"

static int switch_root(const char *rootfs, veil_err_t *err)
{
	/* Private first: pivot_root refuses shared mounts, and nothing done here
	 * may propagate back into the agent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return veil_fail(err, errno, "making / private");
	if (chdir(rootfs) < 0)
		return veil_fail(err, errno, "chdir %s", rootfs);
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it
	 * leaves no path back to the agent's filesystem. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return veil_fail(err, errno, "pivot_root %s", rootfs);
	if (umount2(".", MNT_DETACH) < 0)
		return veil_fail(err, errno, "detaching the old root");
	if (chdir("/") < 0)
		return veil_fail(err, errno, "chdir /");
	return 0;
}

static int mkdir_all(const char *path, veil_err_t *err)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return veil_fail(err, errno, "mkdir %s", buf);
		if (saved == '\0')
			return 0;
		*p = saved;
	}
}

/* The OCI runtime spec's default devices, for a /dev the container mounts as tmpfs. */
static int populate_dev(veil_err_t *err)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} devices[] = { { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
			{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
	static const struct {
		const char *name, *target;
	} links[] = { { "fd", "/proc/self/fd" },
		      { "stdin", "/proc/self/fd/0" },
		      { "stdout", "/proc/self/fd/1" },
		      { "stderr", "/proc/self/fd/2" },
		      { "ptmx", "pts/ptmx" } };
	char path[64];
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", devices[i].name);
		if (mknod(path, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0 && errno != EEXIST)
			return veil_fail(err, errno, "mknod %s", path);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", links[i].name);
		if (symlink(links[i].target, path) < 0 && errno != EEXIST)
			return veil_fail(err, errno, "symlink %s", path);
	}
	return 0;
}

static int mount_one(const Veil__Agent__V1__Mount *m, veil_err_t *err)
{
	unsigned long flags;
	char data[AGENT_MOUNT_DATA_MAX];
	if (agent_mount_options(m, &flags, data, sizeof(data), err) < 0 || mkdir_all(m->destination, err) < 0)
		return -1;
	const char *source = m->source[0] != '\0' ? m->source : m->type;
	if (mount(source, m->destination, m->type, flags, data[0] ? data : NULL) < 0)
		return veil_fail(err, errno, "mount %s on %s", m->type, m->destination);
	if (strcmp(m->destination, "/dev") == 0 && strcmp(m->type, "tmpfs") == 0)
		return populate_dev(err);
	return 0;
}

/* Returns 1 if path exists (stat into *st), 0 if it does not. */
static int lookup(const char *path, struct stat *st, veil_err_t *err)
{
	if (stat(path, st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return veil_fail(err, errno, "stat %s", path);
}

static int make_readonly(const char *path, veil_err_t *err)
{
	struct stat st;
	int rc = lookup(path, &st, err);
	if (rc <= 0)
		return rc;
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return veil_fail(err, errno, "bind %s", path);
	/* A bind remount sets every per-mount flag; keep the ones the mount had. */
	struct statvfs sv;
	unsigned long keep = 0;
	if (statvfs(path, &sv) == 0)
		keep = (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
		       (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
	if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
		return veil_fail(err, errno, "remount %s read-only", path);
	return 0;
}

/* devnull: a detached clone of /dev/null made before pivot_root, consumed here. */
static int mask(const char *path, int devnull, veil_err_t *err)
{
	struct stat st;
	int rc = lookup(path, &st, err);
	if (rc <= 0)
		return rc;
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0") < 0)
			return veil_fail(err, errno, "mask %s", path);
	} else if (move_mount(devnull, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		return veil_fail(err, errno, "mask %s", path);
	}
	return 0;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

int agent_mountns_setup(const Veil__Agent__V1__CreateContainerRequest *spec, const char *rootfs, veil_err_t *err)
{
	/* Device nodes get exactly the modes asked for; the process's umask comes later. */
	umask(0);
	/* After pivot_root the agent's /dev/null is out of reach, and a detached
	 * mount cannot be cloned again, so each masked path gets its own clone. */
	size_t n = spec->n_masked_paths;
	int *devnull = calloc(n ? n : 1, sizeof(int));
	if (devnull == NULL)
		return veil_fail(err, ENOMEM, "masked paths");
	for (size_t i = 0; i < n; i++) {
		devnull[i] = open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (devnull[i] < 0) {
			close_all(devnull, i);
			return veil_fail(err, errno, "cloning /dev/null");
		}
	}
	int rc = switch_root(rootfs, err);
	for (size_t i = 0; rc == 0 && i < spec->n_mounts; i++)
		rc = mount_one(spec->mounts[i], err);
	for (size_t i = 0; rc == 0 && i < spec->n_readonly_paths; i++)
		rc = make_readonly(spec->readonly_paths[i], err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = mask(spec->masked_paths[i], devnull[i], err);
	close_all(devnull, n);
	return rc;
}
