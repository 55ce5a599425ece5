#include "agent/rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/clock.h"
#include "agent/log.h"
#include "lib/cleanup.h"

/* Room for any path under AGENT_CONTAINERS_DIR: ids are at most AGENT_ID_MAX characters. */
#define SHORT_PATH 256

/* A disk hot-plugged just before CreateContainer may still be probing. */
#define DISK_WAIT_MS 2000

static void container_path(char *out, size_t size, const char *id, const char *leaf)
{
	snprintf(out, size, AGENT_CONTAINERS_DIR "/%s%s%s", id, leaf ? "/" : "", leaf ? leaf : "");
}

/* Returns 1 and the /dev path of the vd* disk whose serial matches, else 0. */
static int find_disk(const char *serial, char *dev, size_t size)
{
	DIR *d = opendir("/sys/block");
	if (d == NULL)
		return 0;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "vd", 2) != 0)
			continue;
		char path[300], value[64] = "";
		snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
		cleanup_fclose FILE *f = fopen(path, "re");
		if (f == NULL || fgets(value, sizeof(value), f) == NULL)
			continue;
		value[strcspn(value, "\n")] = '\0';
		if (strcmp(value, serial) == 0) {
			snprintf(dev, size, "/dev/%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

static int mount_lower(const char *serial, const char *lower, veil_err_t *err)
{
	char dev[300];
	int64_t deadline = agent_now_ms() + DISK_WAIT_MS;
	for (;;) {
		/* ENOENT: sysfs shows the disk a moment before devtmpfs has its node. */
		if (find_disk(serial, dev, sizeof(dev))) {
			if (mount(dev, lower, "erofs", MS_RDONLY, NULL) == 0)
				return 0;
			if (errno != ENOENT || agent_now_ms() >= deadline)
				return veil_fail(err, errno, "mount %s (serial %s) as erofs", dev, serial);
		} else if (agent_now_ms() >= deadline) {
			return veil_fail(err, ENOENT, "disk with serial %s", serial);
		}
		usleep(10000);
	}
}

static int make_dir(const char *path, veil_err_t *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "mkdir %s", path);
	return 0;
}

static int mount_overlay(const char *id, const char *lower, char *rootfs, size_t size, veil_err_t *err)
{
	char rw[SHORT_PATH], upper[SHORT_PATH + 8], work[SHORT_PATH + 8], data[4 * SHORT_PATH];
	container_path(rw, sizeof(rw), id, "rw");
	if (make_dir(rw, err) < 0)
		return -1;
	if (mount("tmpfs", rw, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return veil_fail(err, errno, "mount tmpfs on %s", rw);
	snprintf(upper, sizeof(upper), "%s/upper", rw);
	snprintf(work, sizeof(work), "%s/work", rw);
	container_path(rootfs, size, id, "rootfs");
	if (make_dir(upper, err) < 0 || make_dir(work, err) < 0 || make_dir(rootfs, err) < 0)
		return -1;
	snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	if (mount("overlay", rootfs, "overlay", 0, data) < 0)
		return veil_fail(err, errno, "mount overlay on %s", rootfs);
	return 0;
}

int agent_rootfs_mount(const char *id, const char *serial, bool readonly, char *rootfs, size_t size,
		       veil_err_t *err)
{
	char dir[SHORT_PATH], lower[SHORT_PATH];
	container_path(dir, sizeof(dir), id, NULL);
	container_path(lower, sizeof(lower), id, "lower");
	if (make_dir("/run/veil", err) < 0 || make_dir(AGENT_CONTAINERS_DIR, err) < 0 || make_dir(dir, err) < 0 ||
	    make_dir(lower, err) < 0 || mount_lower(serial, lower, err) < 0)
		return -1;
	if (readonly) {
		snprintf(rootfs, size, "%s", lower);
		return 0;
	}
	return mount_overlay(id, lower, rootfs, size, err);
}

static void unmount_and_remove(const char *path)
{
	/* EINVAL: not a mount point, i.e. never mounted or already gone. */
	if (umount2(path, 0) < 0 && errno == EBUSY && umount2(path, MNT_DETACH) < 0)
		agent_log_error("umount %s: %s", path, strerror(errno));
	if (rmdir(path) < 0 && errno != ENOENT)
		agent_log_error("rmdir %s: %s", path, strerror(errno));
}

void agent_rootfs_unmount(const char *id)
{
	static const char *const leaves[] = { "rootfs", "rw", "lower", NULL };
	char path[SHORT_PATH];
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		container_path(path, sizeof(path), id, leaves[i]);
		unmount_and_remove(path);
	}
}
