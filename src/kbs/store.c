#include "kbs/kbs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"

/* Syncs the directory holding path, so that a rename or unlink in it
 * survives a power cut too, not only a crash of this process. */
static void sync_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	cleanup_close int dfd = open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
}

static int path_of(const char *data_dir, const char *name, char out[PATH_MAX], veil_err_t *err)
{
	if (veil_kbs_resource_path_check(name, err) < 0)
		return -1;
	if (snprintf(out, PATH_MAX, "%s/resources/%s", data_dir, name) >= PATH_MAX)
		return veil_fail(err, ENAMETOOLONG, "resource %s", name);
	return 0;
}

int kbs_store_init(const char *data_dir, veil_err_t *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/resources", data_dir);
	if (veil_mkdir_p(path, 0700, err) < 0)
		return -1;
	/* Created 0700 above; an existing directory must not be open to others. */
	struct stat st;
	if (stat(data_dir, &st) < 0)
		return veil_fail(err, errno, "%s", data_dir);
	if ((st.st_mode & 077) != 0 && chmod(data_dir, st.st_mode & 0700) < 0)
		return veil_fail(err, errno, "making %s private", data_dir);
	return 0;
}

int kbs_store_put(const char *data_dir, const char *name, const uint8_t *data, size_t len, veil_err_t *err)
{
	char path[PATH_MAX];
	if (len > KBS_MAX_RESOURCE)
		return veil_fail(err, 0, "resource %s: %zu bytes, at most %u", name, len, KBS_MAX_RESOURCE);
	if (path_of(data_dir, name, path, err) < 0)
		return -1;
	*strrchr(path, '/') = '\0';
	if (veil_mkdir_p(path, 0700, err) < 0)
		return -1;
	path[strlen(path)] = '/';
	if (veil_write_file_atomic(path, data, len, err) < 0)
		return -1;
	sync_parent(path);
	return 0;
}

int kbs_store_get(const char *data_dir, const char *name, uint8_t **data, size_t *len, veil_err_t *err)
{
	char path[PATH_MAX];
	if (path_of(data_dir, name, path, err) < 0)
		return -1;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : veil_fail(err, errno, "resource %s", name);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KBS_MAX_RESOURCE)
		return veil_fail(err, 0, "resource %s: not a regular file of at most %u bytes", name, KBS_MAX_RESOURCE);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return veil_fail(err, ENOMEM, "resource %s", name);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			OPENSSL_cleanse(buf, got);
			free(buf);
			return veil_fail(err, n < 0 ? errno : EIO, "reading resource %s", name);
		}
		got += (size_t)n;
	}
	*data = buf;
	*len = got;
	return 1;
}

int kbs_store_delete(const char *data_dir, const char *name, veil_err_t *err)
{
	char path[PATH_MAX];
	if (path_of(data_dir, name, path, err) < 0)
		return -1;
	if (unlink(path) < 0)
		return veil_fail(err, errno, "deleting resource %s", name);
	sync_parent(path);
	return 0;
}

int kbs_store_put_file(const char *data_dir, const char *file, const char *text, size_t len, veil_err_t *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", data_dir, file);
	if (veil_write_file_atomic(path, text, len, err) < 0)
		return -1;
	sync_parent(path);
	return 0;
}

char *kbs_store_get_file(const char *data_dir, const char *file, size_t *len, veil_err_t *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", data_dir, file);
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		*len = 0;
		return strdup("");
	}
	return veil_read_file(path, KBS_MAX_POLICY, len, err);
}
