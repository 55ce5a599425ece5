#include "lib/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"

int veil_mkdir_p(const char *path, mode_t mode, veil_err_t *err)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return veil_fail(err, ENAMETOOLONG, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return veil_fail(err, errno, "creating %s", buf);
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void veil_remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int veil_write_file_atomic(const char *path, const void *data, size_t len, veil_err_t *err)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return veil_fail(err, ENAMETOOLONG, "%s", path);
	cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return veil_fail(err, errno, "creating %s", tmp);
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			unlink(tmp);
			return veil_fail(err, e, "writing %s", tmp);
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return veil_fail(err, e, "writing %s", path);
	}
	return 0;
}

int veil_write_pid_file(const char *path, pid_t pid, veil_err_t *err)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d", (int)pid);
	return veil_write_file_atomic(path, text, (size_t)n, err);
}

char *veil_read_file(const char *path, size_t max, size_t *len, veil_err_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		veil_fail(err, errno, "%s", path);
		return NULL;
	}
	cleanup_free char *buf = malloc(max + 1);
	if (buf == NULL) {
		veil_fail(err, ENOMEM, "%s", path);
		return NULL;
	}
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, max + 1 - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			veil_fail(err, errno, "reading %s", path);
			return NULL;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max) {
			veil_fail(err, EFBIG, "%s: larger than %zu bytes", path, max);
			return NULL;
		}
	}
	buf[have] = '\0';
	if (len != NULL)
		*len = have;
	return veil_steal_ptr(buf);
}

int veil_clone_mount(const char *path, bool readonly, bool recursive, bool *is_dir, veil_err_t *err)
{
	unsigned rec = recursive ? AT_RECURSIVE : 0;
	cleanup_close int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return veil_fail(err, errno, "bind mount source %s", path);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return veil_fail(err, 0, "bind mount source %s is neither a directory nor a regular file", path);
	*is_dir = S_ISDIR(st.st_mode);
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	if (readonly && mount_setattr(fd, "", AT_EMPTY_PATH | rec, &ro, sizeof(ro)) < 0)
		return veil_fail(err, errno, "making %s read-only", path);
	return veil_steal_fd(fd);
}
