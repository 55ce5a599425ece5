/* Small filesystem helpers for state directories. */
#ifndef VEIL_FSUTIL_H
#define VEIL_FSUTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/error.h"

int veil_mkdir_p(const char *path, mode_t mode, veil_err_t *err);
/* Removes path and everything below it without following symlinks. */
void veil_remove_tree(const char *path);
/* Writes data to path atomically (temp file + fsync + rename), mode 0600. */
int veil_write_file_atomic(const char *path, const void *data, size_t len, veil_err_t *err);
/* Writes a pid file whole or not at all: conmon and the shim read it as soon as it exists. */
int veil_write_pid_file(const char *path, pid_t pid, veil_err_t *err);
/* A detached copy of the mount at path (a bind mount of it, with the mounts
 * below it if recursive; made read-only if asked), as an fd for
 * move_mount(2); *is_dir says whether it is a directory. Only directories
 * and regular files: nothing else is shared with a guest. */
int veil_clone_mount(const char *path, bool readonly, bool recursive, bool *is_dir, veil_err_t *err);
/* Reads a whole file of at most max bytes; NUL-terminated. */
char *veil_read_file(const char *path, size_t max, size_t *len, veil_err_t *err);

#endif
