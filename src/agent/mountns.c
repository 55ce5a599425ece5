#include "agent/mountns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/resolve.h"
#include "agent/validate.h"
#include "lib/cleanup.h"

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

/* The OCI runtime spec's default devices, for a /dev the container mounts as tmpfs. */
static int populate_dev(int root, veil_err_t *err)
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
	cleanup_close int dev = agent_resolve(root, "/dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		return veil_fail(err, errno, "/dev");
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (mknodat(dev, devices[i].name, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0 &&
		    errno != EEXIST)
			return veil_fail(err, errno, "mknod /dev/%s", devices[i].name);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
			return veil_fail(err, errno, "symlink /dev/%s", links[i].name);
	return 0;
}

/* mount(2) takes no fd for its target, but "." is the directory fd stands
 * for, whatever happened to its path since it was resolved. */
static int mount_at(int fd, const char *source, const char *type, unsigned long flags, const char *data)
{
	if (fchdir(fd) < 0)
		return -1;
	return mount(source, ".", type, flags, data);
}

static int mount_one(int root, const Veil__Agent__V1__Mount *m, veil_err_t *err)
{
	unsigned long flags;
	char data[AGENT_MOUNT_DATA_MAX];
	if (agent_mount_options(m, &flags, data, sizeof(data), err) < 0)
		return -1;
	cleanup_close int dir = agent_resolve_mkdir(root, m->destination);
	if (dir < 0)
		return veil_fail(err, errno, "mount destination %s", m->destination);
	const char *source = m->source[0] != '\0' ? m->source : m->type;
	if (mount_at(dir, source, m->type, flags, data[0] ? data : NULL) < 0)
		return veil_fail(err, errno, "mount %s on %s", m->type, m->destination);
	if (strcmp(m->destination, "/dev") == 0 && strcmp(m->type, "tmpfs") == 0)
		return populate_dev(root, err);
	return 0;
}

/* An O_PATH fd on what path names in the container, or -1: *err set, or not
 * (the path does not exist, which is no error). */
static int lookup(int root, const char *what, const char *path, veil_err_t *err)
{
	int fd = agent_resolve(root, path, O_PATH);
	if (fd < 0 && errno != ENOENT)
		veil_fail(err, errno, "%s %s", what, path);
	return fd;
}

/* A read-only bind of path over itself: a clone of the mount tree there,
 * made read-only at its top (its other flags stay as they were), moved onto it. */
static int make_readonly(int root, const char *path, veil_err_t *err)
{
	cleanup_close int fd = lookup(root, "readonly path", path, err);
	if (fd < 0)
		return *err ? -1 : 0;
	cleanup_close int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0 ||
	    move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return veil_fail(err, errno, "remount %s read-only", path);
	return 0;
}

/* devnull: a detached clone of /dev/null made before pivot_root, consumed here. */
static int mask(int root, const char *path, int devnull, veil_err_t *err)
{
	cleanup_close int fd = lookup(root, "masked path", path, err);
	if (fd < 0)
		return *err ? -1 : 0;
	struct stat st;
	int rc = fstat(fd, &st);
	if (rc == 0 && S_ISDIR(st.st_mode))
		rc = mount_at(fd, "tmpfs", "tmpfs", MS_RDONLY, "size=0");
	else if (rc == 0)
		rc = move_mount(devnull, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	return rc < 0 ? veil_fail(err, errno, "mask %s", path) : 0;
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
	int root = rc == 0 ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && root < 0)
		rc = veil_fail(err, errno, "open /");
	for (size_t i = 0; rc == 0 && i < spec->n_mounts; i++)
		rc = mount_one(root, spec->mounts[i], err);
	for (size_t i = 0; rc == 0 && i < spec->n_readonly_paths; i++)
		rc = make_readonly(root, spec->readonly_paths[i], err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = mask(root, spec->masked_paths[i], devnull[i], err);
	close_all(devnull, n);
	if (root >= 0)
		close(root);
	/* The mounts above moved the working directory around. */
	if (rc == 0 && chdir("/") < 0)
		rc = veil_fail(err, errno, "chdir /");
	return rc;
}
