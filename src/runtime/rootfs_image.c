#include "runtime/rootfs_image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/hypervisor.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/trace.h"

/* Changes whenever what an image is built from, or how, changes. */
#define FINGERPRINT_FORMAT "veil-rootfs-2 mkfs.erofs uncompressed, padded to the slot"
/* Deeper trees are not cached (they are still built). */
#define MAX_DEPTH 128

static int build(const char *rootfs_dir, const char *image_path, veil_err_t *err)
{
	struct stat st;
	if (stat(rootfs_dir, &st) < 0)
		return veil_fail(err, errno, "rootfs %s", rootfs_dir);
	if (!S_ISDIR(st.st_mode))
		return veil_fail(err, ENOTDIR, "rootfs %s", rootfs_dir);
	/* Uncompressed: under TCG the guest's decompression costs more than the
	 * extra blocks it saves. Ownership and modes are kept as in the bundle. */
	char *const argv[] = { "mkfs.erofs", "--quiet", (char *)image_path, (char *)rootfs_dir, NULL };
	int span = veil_trace_begin("image.build");
	int rc = veil_run_program(argv, err);
	veil_trace_end(span);
	if (rc < 0)
		return veil_fail_context(err, "building the rootfs image");
	if (stat(image_path, &st) < 0)
		return veil_fail(err, errno, "rootfs image %s", image_path);
	if ((unsigned long long)st.st_size > VEIL_DISK_SLOT_BYTES)
		return veil_fail(err, EFBIG, "the rootfs image of %s has %lld bytes, more than the %llu a VM's rootfs slot holds",
				 rootfs_dir, (long long)st.st_size, VEIL_DISK_SLOT_BYTES);
	/* Sparse: the padding costs no disk, and reads as zeros. */
	if (truncate(image_path, (off_t)VEIL_DISK_SLOT_BYTES) < 0)
		return veil_fail(err, errno, "padding the rootfs image %s", image_path);
	return 0;
}

/* ---- fingerprint ---- */

/* One entry's record: fixed-width numbers, then NUL-terminated strings, so
 * that no two trees hash alike by shifting bytes between fields. */
struct entry_record {
	uint64_t mode, uid, gid, size, ino, rdev, mtime_s, mtime_ns, ctime_s, ctime_ns;
};

static void hash_entry(EVP_MD_CTX *ctx, const char *path, const struct stat *st, const char *target)
{
	const struct entry_record r = {
		.mode = st->st_mode, .uid = st->st_uid, .gid = st->st_gid, .size = (uint64_t)st->st_size,
		.ino = st->st_ino, .rdev = st->st_rdev, .mtime_s = (uint64_t)st->st_mtim.tv_sec,
		.mtime_ns = (uint64_t)st->st_mtim.tv_nsec, .ctime_s = (uint64_t)st->st_ctim.tv_sec,
		.ctime_ns = (uint64_t)st->st_ctim.tv_nsec,
	};
	EVP_DigestUpdate(ctx, path, strlen(path) + 1);
	EVP_DigestUpdate(ctx, &r, sizeof(r));
	EVP_DigestUpdate(ctx, target, strlen(target) + 1);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The entries of the directory dir (consumed), sorted; NULL with errno. */
static char **sorted_names(int dir, size_t *n)
{
	DIR *d = fdopendir(dir);
	if (d == NULL) {
		close(dir);
		return NULL;
	}
	/* Never NULL but on failure, even for an empty directory. */
	size_t cap = 16;
	char **names = malloc(cap * sizeof(*names));
	if (names == NULL)
		abort();
	*n = 0;
	for (struct dirent *e; (errno = 0, e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap *= 2;
			char **grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL)
				abort();
			names = grown;
		}
		if ((names[(*n)++] = strdup(e->d_name)) == NULL)
			abort();
	}
	int e = errno;
	closedir(d);
	if (e != 0) {
		free_names(names, *n);
		errno = e;
		return NULL;
	}
	qsort(names, *n, sizeof(*names), by_name);
	return names;
}

/* Hashes the entries under the directory at path (open as dir, consumed). */
static int walk(int dir, const char *path, int depth, EVP_MD_CTX *ctx, veil_err_t *err)
{
	if (depth > MAX_DEPTH) {
		close(dir);
		return veil_fail(err, ELOOP, "%s is more than %d directories deep", path, MAX_DEPTH);
	}
	int walked = dup(dir);
	size_t n;
	char **names = walked < 0 ? NULL : sorted_names(walked, &n);
	if (names == NULL) {
		int e = errno;
		close(dir);
		return veil_fail(err, e, "reading %s", path);
	}
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char sub[PATH_MAX], target[PATH_MAX] = "";
		struct stat st;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, names[i]) >= (int)sizeof(sub)) {
			rc = veil_fail(err, ENAMETOOLONG, "a path under %s", path);
			break;
		}
		if (fstatat(dir, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = veil_fail(err, errno, "%s", sub);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t len = readlinkat(dir, names[i], target, sizeof(target) - 1);
			if (len < 0) {
				rc = veil_fail(err, errno, "%s", sub);
				break;
			}
			target[len] = '\0';
		}
		hash_entry(ctx, sub, &st, target);
		if (S_ISDIR(st.st_mode)) {
			int child = openat(dir, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = child < 0 ? veil_fail(err, errno, "%s", sub) : walk(child, sub, depth + 1, ctx, err);
		}
	}
	free_names(names, n);
	close(dir);
	return rc;
}

int veil_rootfs_fingerprint(const char *rootfs_dir, char out[65], veil_err_t *err)
{
	int dir = open(rootfs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (dir < 0 || fstat(dir, &st) < 0) {
		int e = errno;
		if (dir >= 0)
			close(dir);
		return veil_fail(err, e, "rootfs %s", rootfs_dir);
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	EVP_DigestUpdate(ctx, FINGERPRINT_FORMAT, sizeof(FINGERPRINT_FORMAT));
	hash_entry(ctx, "", &st, "");
	int rc = walk(dir, "", 0, ctx, err);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	if (rc < 0)
		return veil_fail_context(err, "fingerprinting the rootfs %s", rootfs_dir);
	veil_hex_encode(md, 32, out);
	return 0;
}

/* ---- the cache ---- */

/* Whoever can write the cache decides what containers run: it must be ours alone. */
static int usable(const struct veil_image_cache *cache, veil_err_t *err)
{
	struct stat st;
	if (veil_mkdir_p(cache->dir, 0700, err) < 0)
		return -1;
	if (lstat(cache->dir, &st) < 0)
		return veil_fail(err, errno, "%s", cache->dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		return veil_fail(err, EPERM, "%s is not a directory private to uid %u", cache->dir, (unsigned)geteuid());
	return 0;
}

/* An entry's name: the fingerprint, then ".erofs". */
#define ENTRY_NAME_LEN (64 + sizeof(".erofs") - 1)

struct cached {
	char name[ENTRY_NAME_LEN + 1];
	time_t used;
	uint64_t bytes;
};

static int oldest_first(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;
	return (x->used > y->used) - (x->used < y->used);
}

/* Removes the least recently used images until the rest fit max_bytes. A
 * removed image lives on in the containers that link it. */
static void evict(const struct veil_image_cache *cache)
{
	DIR *d = opendir(cache->dir);
	if (d == NULL)
		return;
	struct cached *all = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		struct stat st;
		if (len != ENTRY_NAME_LEN || strcmp(e->d_name + 64, ".erofs") != 0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			struct cached *grown = realloc(all, cap * sizeof(*all));
			if (grown == NULL)
				abort();
			all = grown;
		}
		memcpy(all[n].name, e->d_name, ENTRY_NAME_LEN + 1);
		all[n].used = st.st_mtime;
		all[n].bytes = (uint64_t)st.st_blocks * 512;
		total += all[n++].bytes;
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), oldest_first);
	for (size_t i = 0; i < n && total > cache->max_bytes; i++)
		if (unlinkat(dirfd(d), all[i].name, 0) == 0)
			total -= all[i].bytes;
	closedir(d);
	free(all);
}

/* Builds the image at image_path, then links it into the cache as entry,
 * whole and on disk before anyone can find it there. A cache it cannot go
 * into (on another filesystem, say) costs a warning, not the container. */
static int build_cached(const char *rootfs_dir, const char *image_path, const struct veil_image_cache *cache,
			const char *entry, veil_err_t *err)
{
	if (build(rootfs_dir, image_path, err) < 0)
		return -1;
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", entry, (int)getpid());
	cleanup_close int fd = open(image_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0 || link(image_path, tmp) < 0 || rename(tmp, entry) < 0) {
		log_warn("rootfs image cache: %s not kept as %s: %s", image_path, entry, strerror(errno));
		unlink(tmp);
		return 0;
	}
	evict(cache);
	return 0;
}

int veil_rootfs_image_get(const char *rootfs_dir, const char *image_path, const struct veil_image_cache *cache,
			  bool *hit, veil_err_t *err)
{
	*hit = false;
	if (cache->max_bytes == 0)
		return build(rootfs_dir, image_path, err);
	char key[65], entry[PATH_MAX];
	veil_err_t why = NULL;
	int span = veil_trace_begin("image.fingerprint");
	int rc = veil_rootfs_fingerprint(rootfs_dir, key, &why);
	veil_trace_end(span);
	if (rc == 0 && usable(cache, &why) < 0)
		rc = -1;
	if (rc == 0 && snprintf(entry, sizeof(entry), "%s/%s.erofs", cache->dir, key) >= (int)sizeof(entry))
		rc = veil_fail(&why, ENAMETOOLONG, "%s", cache->dir);
	if (rc == 0 && link(entry, image_path) == 0) {
		*hit = true;
		utimensat(AT_FDCWD, entry, NULL, 0); /* recently used */
		return 0;
	}
	if (rc == 0 && errno == ENOENT)
		return build_cached(rootfs_dir, image_path, cache, entry, err);
	if (rc == 0)
		veil_fail(&why, errno, "linking %s to %s", entry, image_path);
	log_warn("rootfs image cache not used: %s", why->msg);
	veil_error_free(&why);
	return build(rootfs_dir, image_path, err);
}
