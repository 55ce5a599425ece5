#include "agent/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/clock.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/trace.h"
#include "lib/cleanup.h"
#include "proto/contract.h"

/* Room for any path under AGENT_CONTAINERS_DIR: ids are at most AGENT_ID_MAX characters. */
#define SHORT_PATH 256

/* A disk hot-plugged just before CreateContainer may still be probing. */
#define DISK_WAIT_MS 2000
/* The last reference to an unmounted filesystem can be dropped by a kernel
 * worker a moment after the umount returns. */
#define DISK_RELEASE_MS 1000

/* Returns the length snprintf would have written. */
static int container_path(char *out, size_t size, const char *id, const char *leaf)
{
	return snprintf(out, size, AGENT_CONTAINERS_DIR "/%s%s%s", id, leaf ? "/" : "", leaf ? leaf : "");
}

struct disk_walk {
	int (*fn)(const char *name, void *arg);
	void *arg;
};

static int if_disk(const char *name, unsigned char type, void *arg)
{
	(void)type;
	const struct disk_walk *w = arg;
	return strncmp(name, "vd", 2) == 0 ? w->fn(name, w->arg) : 0;
}

/* Calls fn with the name of each virtio disk (vd*) until it returns nonzero;
 * returns that, or 0. */
static int each_disk(int (*fn)(const char *name, void *arg), void *arg)
{
	struct disk_walk w = { .fn = fn, .arg = arg };
	int rc = agent_each_entry("/sys/block", if_disk, &w);
	return rc > 0 ? rc : 0;
}

struct disk_query {
	const char *serial;
	char *dev;
	size_t size;
};

static int match_serial(const char *name, void *arg)
{
	struct disk_query *q = arg;
	char path[300], value[64];
	snprintf(path, sizeof(path), "/sys/block/%s/serial", name);
	if (agent_read_file(path, value, sizeof(value)) < 0)
		return 0;
	value[strcspn(value, "\n")] = '\0';
	if (strcmp(value, q->serial) != 0)
		return 0;
	snprintf(q->dev, q->size, "/dev/%s", name);
	return 1;
}

/* Returns 1 and the /dev path of the vd* disk whose serial matches, else 0. */
static int find_disk(const char *serial, char *dev, size_t size)
{
	struct disk_query q = { .serial = serial, .dev = dev, .size = size };
	return each_disk(match_serial, &q);
}

/* The host may have swapped the image behind the disk (a VM's rootfs slot,
 * filled at claim): what the kernel cached of it, the empty slot's zeros read
 * at boot or an earlier tenant's image, must not be what the mount reads. */
static int forget_cached(const char *dev)
{
	cleanup_close int fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKFLSBUF, 0) < 0)
		return -1;
	return 0;
}

/* Mounts the disk with this serial, waiting for a hot-plugged one to appear. */
static int mount_disk(const char *serial, const char *target, const char *fstype, unsigned long flags,
		      veil_err_t *err)
{
	char dev[300];
	int64_t deadline = agent_now_ms() + DISK_WAIT_MS;
	for (;;) {
		/* ENOENT: sysfs shows the disk a moment before devtmpfs has its node. */
		if (find_disk(serial, dev, sizeof(dev))) {
			if (forget_cached(dev) < 0) {
				if (errno != ENOENT || agent_now_ms() >= deadline)
					return veil_fail(err, errno, "dropping what is cached of %s (serial %s)", dev, serial);
			} else if (mount(dev, target, fstype, flags, NULL) == 0) {
				return 0;
			} else if (errno != ENOENT || agent_now_ms() >= deadline) {
				return veil_fail(err, errno, "mount %s (serial %s) as %s", dev, serial, fstype);
			}
		} else if (agent_now_ms() >= deadline) {
			return veil_fail(err, ENOENT, "disk with serial %s", serial);
		}
		usleep(10000);
	}
}

/* Mounts the virtio-fs device with this tag, waiting for a hot-plugged one
 * to be probed (until then the kernel knows no such tag: EINVAL). */
static int mount_shared(const char *tag, const char *target, veil_err_t *err)
{
	int64_t deadline = agent_now_ms() + DISK_WAIT_MS;
	while (mount(tag, target, "virtiofs", 0, NULL) < 0) {
		if (errno != EINVAL || agent_now_ms() >= deadline)
			return veil_fail(err, errno == EINVAL ? ENOENT : errno, "virtio-fs device with tag %s", tag);
		usleep(10000);
	}
	return 0;
}

static int make_dir(const char *path, veil_err_t *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "mkdir %s", path);
	return 0;
}

/* The writable layer: on the disk upper_serial, kept by the host between
 * starts, or in guest memory when there is none. */
static int mount_overlay(const char *id, const char *lower, const char *upper_serial, char *rootfs, size_t size,
			 veil_err_t *err)
{
	char rw[SHORT_PATH], upper[SHORT_PATH + 8], work[SHORT_PATH + 8], data[4 * SHORT_PATH];
	container_path(rw, sizeof(rw), id, "rw");
	if (make_dir(rw, err) < 0)
		return -1;
	if (upper_serial[0] != '\0') {
		if (mount_disk(upper_serial, rw, "ext4", MS_NOSUID | MS_NODEV, err) < 0)
			return -1;
	} else if (mount("tmpfs", rw, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
		return veil_fail(err, errno, "mount tmpfs on %s", rw);
	}
	snprintf(upper, sizeof(upper), "%s/upper", rw);
	snprintf(work, sizeof(work), "%s/work", rw);
	container_path(rootfs, size, id, "rootfs");
	if (make_dir(upper, err) < 0 || make_dir(work, err) < 0 || make_dir(rootfs, err) < 0)
		return -1;
	/* The overlay's root takes its mode and owner from the upper directory:
	 * they must be the image's, as the host's rootfs has them (runc shows
	 * 555 for a root the image made 555, not the agent's 755). */
	struct stat root;
	if (stat(lower, &root) < 0 || chmod(upper, root.st_mode & 07777) < 0 || chown(upper, root.st_uid, root.st_gid) < 0)
		return veil_fail(err, errno, "giving %s the image's root mode", upper);
	snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	if (mount("overlay", rootfs, "overlay", 0, data) < 0)
		return veil_fail(err, errno, "mount overlay on %s", rootfs);
	return 0;
}

/* The host's own rootfs, from the shared tree: bound where pivot_root can
 * take it (it must be a mount point). Writable until the container's mounts
 * have their mount points (a read-only one is remounted so afterwards, as
 * runc does: agent_mountns_setup). */
static int bind_shared_rootfs(const char *id, const char *shared, char *rootfs, size_t size, veil_err_t *err)
{
	char source[SHORT_PATH + 16];
	snprintf(source, sizeof(source), "%s/" VEIL_FS_ROOTFS, shared);
	container_path(rootfs, size, id, "rootfs");
	if (make_dir(rootfs, err) < 0)
		return -1;
	if (mount(source, rootfs, NULL, MS_BIND, NULL) < 0)
		return veil_fail(err, errno, "bind %s on %s", source, rootfs);
	return 0;
}

int agent_rootfs_mount(const char *id, const Veil__Agent__V1__CreateContainerRequest *spec, bool readonly,
		       char *rootfs, size_t size, veil_err_t *err)
{
	char dir[SHORT_PATH], lower[SHORT_PATH], shared[SHORT_PATH];
	container_path(dir, sizeof(dir), id, NULL);
	container_path(lower, sizeof(lower), id, "lower");
	container_path(shared, sizeof(shared), id, "shared");
	if (make_dir("/run/veil", err) < 0 || make_dir(AGENT_CONTAINERS_DIR, err) < 0 || make_dir(dir, err) < 0)
		return -1;
	if (spec->shared_fs_tag[0] != '\0') {
		int span = agent_trace_begin("shared");
		if (make_dir(shared, err) < 0 || mount_shared(spec->shared_fs_tag, shared, err) < 0)
			return -1;
		agent_trace_end(span);
	}
	if (spec->rootfs_shared)
		return bind_shared_rootfs(id, shared, rootfs, size, err);
	if (make_dir(lower, err) < 0)
		return -1;
	int span = agent_trace_begin("disk");
	if (mount_disk(spec->rootfs_serial, lower, "erofs", MS_RDONLY, err) < 0)
		return -1;
	agent_trace_end(span);
	if (readonly) {
		snprintf(rootfs, size, "%s", lower);
		return 0;
	}
	span = agent_trace_begin("overlay");
	int rc = mount_overlay(id, lower, spec->upper_serial, rootfs, size, err);
	agent_trace_end(span);
	return rc;
}

int agent_rootfs_shared_dir(const char *id, char *out, size_t size)
{
	return container_path(out, size, id, "shared") < (int)size ? 0 : -1;
}

void agent_rootfs_sync(const char *id)
{
	char rw[SHORT_PATH];
	container_path(rw, sizeof(rw), id, "rw");
	int fd = open(rw, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (syncfs(fd) < 0)
		agent_log_error("syncfs %s: %s", rw, strerror(errno));
	close(fd);
}

/* Superblocks without a disk (tmpfs, overlay) of filesystems the agent
 * unmounted: only their device numbers tell whether one detached lazily
 * lives on, with a tenant's files in it. Pruned as they die. */
static dev_t *watched;
static size_t n_watched, cap_watched;

/* Whether a superblock with this device number exists: ustat(2), obsolete
 * for its statistics, still looks one up by number, detached or not. */
static bool superblock_alive(dev_t dev)
{
	unsigned kernel_dev = (minor(dev) & 0xffu) | (major(dev) << 8) | ((minor(dev) & ~0xffu) << 12);
	char ustat_buf[64];
	return syscall(SYS_ustat, kernel_dev, ustat_buf) == 0;
}

static void prune_watched(void)
{
	size_t kept = 0;
	for (size_t i = 0; i < n_watched; i++)
		if (superblock_alive(watched[i]))
			watched[kept++] = watched[i];
	n_watched = kept;
}

void agent_superblock_watch(dev_t dev)
{
	prune_watched();
	if (n_watched == cap_watched) {
		size_t cap = cap_watched ? 2 * cap_watched : 16;
		dev_t *grown = realloc(watched, cap * sizeof(*grown));
		if (grown == NULL) {
			agent_log_error("out of memory watching unmounted filesystems");
			return;
		}
		watched = grown;
		cap_watched = cap;
	}
	watched[n_watched++] = dev;
}

unsigned agent_superblocks_alive(void)
{
	prune_watched();
	return (unsigned)n_watched;
}

/* The device of the filesystem mounted at path, if one is and it has no
 * disk; else 0. */
static dev_t diskless_mount(const char *path)
{
	struct stat st, parent;
	char up[SHORT_PATH + 8];
	snprintf(up, sizeof(up), "%s/..", path);
	if (stat(path, &st) < 0 || stat(up, &parent) < 0 || st.st_dev == parent.st_dev || major(st.st_dev) != 0)
		return 0;
	return st.st_dev;
}

static void unmount_and_remove(const char *path)
{
	dev_t dev = diskless_mount(path);
	/* EINVAL: not a mount point, i.e. never mounted or already gone. */
	if (umount2(path, 0) < 0 && errno == EBUSY && umount2(path, MNT_DETACH) < 0)
		agent_log_error("umount %s: %s", path, strerror(errno));
	if (dev != 0)
		agent_superblock_watch(dev);
	if (rmdir(path) < 0 && errno != ENOENT)
		agent_log_error("rmdir %s: %s", path, strerror(errno));
}

void agent_rootfs_file_path(char *out, size_t size, const char *id, size_t index)
{
	char dir[SHORT_PATH];
	container_path(dir, sizeof(dir), id, "files");
	snprintf(out, size, "%s/%zu", dir, index);
}

static int write_file(const char *path, const Veil__Agent__V1__Mount *m, veil_err_t *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return veil_fail(err, errno, "create %s", path);
	for (size_t done = 0; done < m->content.len;) {
		ssize_t n = write(fd, m->content.data + done, m->content.len - done);
		if (n < 0 && errno != EINTR)
			return veil_fail(err, errno, "write %s", path);
		done += n > 0 ? (size_t)n : 0;
	}
	if (fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->mode) < 0)
		return veil_fail(err, errno, "chown/chmod %s", path);
	return 0;
}

int agent_rootfs_stage_files(const char *id, Veil__Agent__V1__Mount *const *mounts, size_t n, veil_err_t *err)
{
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = strcmp(mounts[i]->type, "file") == 0;
	if (!any)
		return 0;
	char dir[SHORT_PATH], path[SHORT_PATH + 24];
	container_path(dir, sizeof(dir), id, "files");
	if (make_dir(dir, err) < 0)
		return -1;
	/* Their own tmpfs, bounded: the container may write to them as to the
	 * host's bind mounts, but not grow them past what the host sent. */
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m,nr_inodes=128") < 0)
		return veil_fail(err, errno, "mount tmpfs on %s", dir);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(mounts[i]->type, "file") != 0)
			continue;
		agent_rootfs_file_path(path, sizeof(path), id, i);
		if (write_file(path, mounts[i], err) < 0)
			return -1;
	}
	return 0;
}

void agent_rootfs_unmount(const char *id)
{
	static const char *const leaves[] = { "rootfs", "rw", "lower", "files", "secrets", "shared", NULL };
	char path[SHORT_PATH];
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		container_path(path, sizeof(path), id, leaves[i]);
		unmount_and_remove(path);
	}
}

/* A mounted filesystem claims its block device exclusively, so an O_EXCL open
 * fails with EBUSY for as long as any mount of it lives on, detached or not. */
static int count_busy(const char *name, void *arg)
{
	char dev[300];
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	else if (errno == EBUSY)
		(*(unsigned *)arg)++;
	return 0;
}

unsigned agent_rootfs_leftovers(void)
{
	int64_t deadline = agent_now_ms() + DISK_RELEASE_MS;
	for (;;) {
		unsigned left = agent_superblocks_alive();
		each_disk(count_busy, &left);
		if (left == 0 || agent_now_ms() >= deadline)
			return left;
		usleep(10000);
	}
}
