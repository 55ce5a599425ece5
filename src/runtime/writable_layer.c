#include "runtime/writable_layer.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/spawn.h"

void veil_writable_layer_init(struct veil_writable_layer *w)
{
	*w = (struct veil_writable_layer){ .lock_fd = -1 };
}

/* A fresh image at path: made under a temporary name, formatted, flushed
 * and renamed, so that no half-made image is ever found there. 1 if made, 0
 * if another create made one first. */
static int make_image(const char *path, veil_err_t *err)
{
	cleanup_free char *tmp = NULL;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		abort();
	cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "creating %s", tmp);
	int rc = ftruncate(fd, VEIL_WRITABLE_LAYER_BYTES) < 0 ? veil_fail(err, errno, "sizing %s", tmp) : 0;
	if (rc == 0) {
		/* Lazy init: the inode tables and the journal are zeroed when first
		 * used, not written now; a sparse 8 GiB image takes ~4 MiB. */
		char *const argv[] = { "mkfs.ext4", "-q", "-F", "-m", "0", "-E",
				       "lazy_itable_init=1,lazy_journal_init=1,nodiscard", tmp, NULL };
		rc = veil_run_program(argv, err);
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = veil_fail(err, errno, "flushing %s", tmp);
	bool made = true;
	if (rc == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST)
			made = false;
		else
			rc = veil_fail(err, errno, "renaming %s to %s", tmp, path);
	}
	if (rc < 0 || !made)
		unlink(tmp);
	if (rc < 0)
		return veil_fail_context(err, "making the writable layer");
	return made;
}

int veil_writable_layer_open(const char *rootfs, const char *id, struct veil_writable_layer *w, veil_err_t *err)
{
	veil_writable_layer_init(w);
	cleanup_free char *copy = strdup(rootfs);
	if (copy == NULL)
		abort();
	const char *dir = dirname(copy);
	if (access(dir, W_OK) < 0) {
		log_info("container %s: writable layer in guest memory: %s cannot hold its image: %s", id, dir,
			 strerror(errno));
		return 0;
	}
	if (asprintf(&w->path, "%s/veil-%s.upper.ext4", dir, id) < 0)
		abort();
	if (access(w->path, F_OK) < 0) {
		int made = make_image(w->path, err);
		if (made < 0)
			goto fail;
		w->created = made == 1;
	}
	w->lock_fd = open(w->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (w->lock_fd < 0) {
		veil_fail(err, errno, "writable layer %s", w->path);
		goto fail;
	}
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		veil_fail(err, errno == EWOULDBLOCK ? 0 : errno, "writable layer %s is in use by another container",
			  w->path);
		goto fail;
	}
	return 0;
fail:
	veil_writable_layer_close(w, true);
	return -1;
}

void veil_writable_layer_close(struct veil_writable_layer *w, bool discard)
{
	if (discard && w->created && w->path != NULL)
		unlink(w->path);
	veil_close_fd(&w->lock_fd);
	free(w->path);
	veil_writable_layer_init(w);
}
