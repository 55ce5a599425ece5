#include "agent/mountns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/resolve.h"
#include "agent/rootfs.h"
#include "agent/validate.h"
#include "lib/cleanup.h"

/* The OCI runtime spec's default devices, for a /dev the container mounts as tmpfs. */
static const struct {
	const char *name;
	unsigned major, minor;
} default_devices[] = { { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
			{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };

/* What a container's mounts are made with. */
struct setup {
	const struct agent_container *c;
	bool userns; /* in a user namespace: no mknod, and devices on its tmpfs are unusable */
	int agent_dev; /* the agent's /dev (devtmpfs), where device nodes to bind come from */
	int secrets_tree; /* a clone of the container's secrets' tmpfs, or -1 */
};

/* mount(2) takes no fd for its target, but "." is the directory fd stands
 * for, whatever happened to its path since it was resolved. */
static int mount_at(int fd, const char *source, const char *type, unsigned long flags, const char *data)
{
	if (fchdir(fd) < 0)
		return -1;
	return mount(source, ".", type, flags, data);
}

/* Binds a clone of the mount at (dirfd, path) onto what target stands for. */
static int bind_clone(int dirfd, const char *path, int target)
{
	cleanup_close int tree = open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return -1;
	return move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

/* An O_PATH fd on the regular file at path inside the container, created
 * (empty, with its parents) if missing: the mount point of a bound file. */
static int file_mount_point(int root, const char *path)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	*slash = '\0';
	cleanup_close int dir = agent_resolve_mkdir(root, parent[0] != '\0' ? parent : "/");
	if (dir < 0)
		return -1;
	int fd = openat(dir, slash + 1, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST && errno != ELOOP && errno != EISDIR)
		return -1;
	/* Resolved again from the root: the name may be a symlink inside it. */
	return agent_resolve(root, path, O_PATH);
}

/* The device node named path (below /dev) of the guest, if it is the device
 * type:major:minor: a user namespace cannot mknod, so the node is bound. */
static int guest_device(int agent_dev, const char *path, mode_t type, dev_t dev)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	if (strncmp(path, "/dev/", 5) != 0) {
		errno = ENOENT;
		return -1;
	}
	int fd = (int)syscall(SYS_openat2, agent_dev, path + 5, &how, sizeof(how));
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type || st.st_rdev != dev)) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

/* A device node at path in the container: made, or in a user namespace the
 * guest's own bound over an empty file, as runc binds the host's. */
static int make_device(const struct setup *s, int root, const char *path, mode_t type, dev_t dev, mode_t mode,
		       uid_t uid, gid_t gid, veil_err_t *err)
{
	if (s->userns && type != S_IFIFO) {
		cleanup_close int node = guest_device(s->agent_dev, path, type, dev);
		cleanup_close int target = node >= 0 ? file_mount_point(root, path) : -1;
		if (node < 0 || target < 0 || bind_clone(node, "", target) < 0)
			return veil_fail(err, errno, "device %s", path);
		return 0;
	}
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	*slash = '\0';
	cleanup_close int dir = agent_resolve_mkdir(root, parent[0] != '\0' ? parent : "/");
	if (dir < 0)
		return veil_fail(err, errno, "device %s", path);
	/* A node already there (the image's, or a default device) is replaced. */
	if (unlinkat(dir, slash + 1, 0) < 0 && errno != ENOENT)
		return veil_fail(err, errno, "device %s", path);
	if (mknodat(dir, slash + 1, type | mode, dev) < 0 || fchownat(dir, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dir, slash + 1, mode, 0) < 0)
		return veil_fail(err, errno, "device %s", path);
	return 0;
}

/* The OCI runtime spec's default devices and links, for a /dev the container mounts as tmpfs. */
static int populate_dev(const struct setup *s, int root, veil_err_t *err)
{
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
	for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/%s", default_devices[i].name);
		if (make_device(s, root, path, S_IFCHR, makedev(default_devices[i].major, default_devices[i].minor), 0666, 0,
				0, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
			return veil_fail(err, errno, "symlink /dev/%s", links[i].name);
	return 0;
}

static unsigned long long attr_of(unsigned long flags)
{
	return (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) | (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
	       (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) | (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0);
}

/* A host file the agent staged (a bind mount of the host's, such as
 * /etc/resolv.conf), bound over a file at the destination. */
static int bind_file(const struct setup *s, int root, size_t index, const Veil__Agent__V1__Mount *m,
		     unsigned long flags, veil_err_t *err)
{
	char staged[PATH_MAX];
	agent_rootfs_file_path(staged, sizeof(staged), s->c->id, index);
	cleanup_close int target = file_mount_point(root, m->destination);
	cleanup_close int tree = target >= 0 ? open_tree(AT_FDCWD, staged, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) : -1;
	struct mount_attr attr = { .attr_set = attr_of(flags) };
	if (tree < 0 || (attr.attr_set != 0 && mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) ||
	    move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return veil_fail(err, errno, "bind the host's file on %s", m->destination);
	return 0;
}

/* A bind mount from the shared tree (shared_fs = "virtio-fs"): its source
 * resolved beneath the tree's root, cloned with the mount's flags (on what
 * is below too, for rbind) and moved onto the destination, a directory or a
 * file as the source is. */
static int bind_shared(const struct setup *s, int root, const Veil__Agent__V1__Mount *m, unsigned long flags,
		       veil_err_t *err)
{
	char dir[PATH_MAX];
	if (agent_rootfs_shared_dir(s->c->id, dir, sizeof(dir)) < 0)
		return veil_fail(err, ENAMETOOLONG, "the shared tree");
	cleanup_close int tree = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (tree < 0)
		return veil_fail(err, errno, "the shared tree");
	cleanup_close int source = agent_resolve(tree, m->source, O_PATH);
	if (source < 0)
		return veil_fail(err, errno, "bind mount source %s in the shared tree", m->source);
	unsigned recursive = flags & MS_REC ? AT_RECURSIVE : 0;
	cleanup_close int clone = open_tree(source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | recursive);
	if (clone < 0)
		return veil_fail(err, errno, "cloning the bind mount for %s", m->destination);
	struct mount_attr attr = { .attr_set = attr_of(flags) };
	if (attr.attr_set != 0 && mount_setattr(clone, "", AT_EMPTY_PATH | recursive, &attr, sizeof(attr)) < 0)
		return veil_fail(err, errno, "setting the flags of the bind mount for %s", m->destination);
	struct stat st;
	if (fstat(clone, &st) < 0)
		return veil_fail(err, errno, "bind mount source %s", m->source);
	cleanup_close int target = S_ISDIR(st.st_mode) ? agent_resolve_mkdir(root, m->destination)
						       : file_mount_point(root, m->destination);
	if (target < 0)
		return veil_fail(err, errno, "mount destination %s", m->destination);
	if (move_mount(clone, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return veil_fail(err, errno, "bind mount on %s", m->destination);
	return 0;
}

static int mount_one(const struct setup *s, int root, size_t index, veil_err_t *err)
{
	const Veil__Agent__V1__Mount *m = s->c->spec->mounts[index];
	unsigned long flags;
	char data[AGENT_MOUNT_DATA_MAX];
	if (agent_mount_options(m, &flags, data, sizeof(data), err) < 0)
		return -1;
	if (strcmp(m->type, "file") == 0)
		return bind_file(s, root, index, m, flags, err);
	if (strcmp(m->type, "bind") == 0)
		return bind_shared(s, root, m, flags, err);
	cleanup_close int dir = agent_resolve_mkdir(root, m->destination);
	if (dir < 0)
		return veil_fail(err, errno, "mount destination %s", m->destination);
	const char *source = m->source[0] != '\0' ? m->source : m->type;
	if (mount_at(dir, source, m->type, flags, data[0] ? data : NULL) < 0)
		return veil_fail(err, errno, "mount %s on %s", m->type, m->destination);
	if (strcmp(m->destination, "/dev") == 0 && strcmp(m->type, "tmpfs") == 0)
		return populate_dev(s, root, err);
	return 0;
}

/* linux.devices, after the mounts (a tmpfs /dev among them), as runc makes them. */
static int make_devices(const struct setup *s, int root, veil_err_t *err)
{
	const Veil__Agent__V1__CreateContainerRequest *spec = s->c->spec;
	for (size_t i = 0; i < spec->n_devices; i++) {
		const Veil__Agent__V1__Device *d = spec->devices[i];
		mode_t type = d->type == VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_BLOCK  ? S_IFBLK
			      : d->type == VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_FIFO ? S_IFIFO
											  : S_IFCHR;
		dev_t dev = type == S_IFIFO ? 0 : makedev((unsigned)d->major, (unsigned)d->minor);
		if (make_device(s, root, d->path, type, dev, d->file_mode, d->uid, d->gid, err) < 0)
			return -1;
	}
	return 0;
}

static int switch_root(int rootfs, veil_err_t *err)
{
	if (fchdir(rootfs) < 0)
		return veil_fail(err, errno, "chdir to the rootfs");
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it
	 * leaves no path back to the agent's filesystem. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return veil_fail(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return veil_fail(err, errno, "detaching the old root");
	if (chdir("/") < 0)
		return veil_fail(err, errno, "chdir /");
	return 0;
}

/* linux.sysctl, in the container's /proc/sys, whose files belong to its namespaces. */
static int write_sysctls(int root, const Veil__Agent__V1__CreateContainerRequest *spec, veil_err_t *err)
{
	for (size_t i = 0; i < spec->n_sysctls; i++) {
		char path[PATH_MAX] = "/proc/sys/";
		const Veil__Agent__V1__KeyValue *kv = spec->sysctls[i];
		agent_sysctl_path(kv->key, path + strlen(path), sizeof(path) - strlen(path));
		cleanup_close int fd = agent_resolve(root, path, O_WRONLY | O_NOFOLLOW);
		struct statfs fs;
		if (fd >= 0 && (fstatfs(fd, &fs) < 0 || fs.f_type != PROC_SUPER_MAGIC)) {
			close(fd);
			fd = -1;
			errno = ENOENT; /* the image's own file, not the kernel's: no proc on /proc */
		}
		if (fd < 0 || write(fd, kv->value, strlen(kv->value)) < 0)
			return veil_fail(err, errno, "sysctl %s", path);
	}
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

/* A clone of the secrets' tmpfs, made read-only and moved onto /run/secrets
 * after the container's own mounts (a tmpfs /run among them would hide it
 * otherwise). */
static int mount_secrets(int root, int tree, veil_err_t *err)
{
	cleanup_close int dir = agent_resolve_mkdir(root, "/run/secrets");
	if (dir < 0)
		return veil_fail(err, errno, "mount destination /run/secrets");
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0 ||
	    move_mount(tree, "", dir, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return veil_fail(err, errno, "mounting the secrets at /run/secrets");
	return 0;
}

/* Before pivot_root, while the agent's filesystem is in reach: the mounts,
 * which a user namespace may make only while a full proc and sysfs are
 * visible in its mount namespace (as runc mounts before it pivots), the
 * secrets, the devices, and a clone of /dev/null per masked path. */
static int prepare_rootfs(const struct setup *s, int rootfs, int *devnull, veil_err_t *err)
{
	const Veil__Agent__V1__CreateContainerRequest *spec = s->c->spec;
	for (size_t i = 0; i < spec->n_masked_paths; i++) {
		devnull[i] = open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (devnull[i] < 0)
			return veil_fail(err, errno, "cloning /dev/null");
	}
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (mount_one(s, rootfs, i, err) < 0)
			return -1;
	if (s->secrets_tree >= 0 && mount_secrets(rootfs, s->secrets_tree, err) < 0)
		return -1;
	return make_devices(s, rootfs, err);
}

/* After pivot_root: the root's propagation, sysctls, then readonly and
 * masked paths, in runc's order. */
static int finish_rootfs(const struct agent_container *c, int *devnull, veil_err_t *err)
{
	const Veil__Agent__V1__CreateContainerRequest *spec = c->spec;
	unsigned long propagation;
	agent_propagation_flags(spec->rootfs_propagation, &propagation);
	if (propagation != 0 && mount(NULL, "/", NULL, propagation, NULL) < 0)
		return veil_fail(err, errno, "rootfs propagation %s", spec->rootfs_propagation);
	/* A shared rootfs stayed writable for the mount points made in it. */
	if (spec->rootfs_shared && spec->rootfs_readonly &&
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return veil_fail(err, errno, "remount / read-only");
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return veil_fail(err, errno, "open /");
	if (write_sysctls(root, spec, err) < 0)
		return -1;
	for (size_t i = 0; i < spec->n_readonly_paths; i++)
		if (make_readonly(root, spec->readonly_paths[i], err) < 0)
			return -1;
	for (size_t i = 0; i < spec->n_masked_paths; i++)
		if (mask(root, spec->masked_paths[i], devnull[i], err) < 0)
			return -1;
	/* A read-only root that got /run/secrets or a copied-in file was an overlay until now. */
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	if (c->readonly_later && mount_setattr(root, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return veil_fail(err, errno, "making the root read-only");
	return 0;
}

int agent_mountns_setup(const struct agent_container *c, const char *secrets, veil_err_t *err)
{
	/* Device nodes get exactly the modes asked for; the process's umask comes later. */
	umask(0);
	size_t n = c->spec->n_masked_paths;
	int *devnull = malloc((n ? n : 1) * sizeof(int));
	if (devnull == NULL)
		return veil_fail(err, ENOMEM, "masked paths");
	for (size_t i = 0; i < n; i++)
		devnull[i] = -1;
	struct setup s = { .c = c, .userns = (c->ns_flags & CLONE_NEWUSER) != 0, .secrets_tree = -1 };
	int rootfs = -1, rc = 0;
	if (secrets != NULL && (s.secrets_tree = open_tree(AT_FDCWD, secrets, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) < 0)
		rc = veil_fail(err, errno, "cloning the secrets' mount");
	/* Private first: pivot_root refuses shared mounts, and nothing done here
	 * may propagate back into the agent's namespace. Then the rootfs bound
	 * onto itself, as runc does: in a user namespace the agent's mounts are
	 * locked, and pivot_root takes only a mount made in this namespace. */
	if (rc == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		rc = veil_fail(err, errno, "making / private");
	else if (rc == 0 && mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		rc = veil_fail(err, errno, "binding the rootfs onto itself");
	s.agent_dev = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rc == 0 && (s.agent_dev < 0 || (rootfs = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0))
		rc = veil_fail(err, errno, "open %s", c->rootfs);
	if (rc == 0)
		rc = prepare_rootfs(&s, rootfs, devnull, err);
	if (rc == 0)
		rc = switch_root(rootfs, err);
	if (rc == 0)
		rc = finish_rootfs(c, devnull, err);
	close_all(devnull, n);
	if (rootfs >= 0)
		close(rootfs);
	if (s.agent_dev >= 0)
		close(s.agent_dev);
	if (s.secrets_tree >= 0)
		close(s.secrets_tree);
	/* The mounts above moved the working directory around. */
	if (rc == 0 && chdir("/") < 0)
		rc = veil_fail(err, errno, "chdir /");
	return rc;
}
