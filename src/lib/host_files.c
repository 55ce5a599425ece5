#include "lib/host_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "proto/limits.h"

bool veil_is_bind_mount(const struct oci_mount *m)
{
	if (m->type != NULL && strcmp(m->type, "bind") == 0)
		return true;
	for (size_t i = 0; i < m->n_options; i++)
		if (strcmp(m->options[i], "bind") == 0 || strcmp(m->options[i], "rbind") == 0)
			return true;
	return false;
}

int veil_host_file_read(const struct oci_mount *m, size_t *budget, struct veil_host_file *file, char *why,
			size_t why_size)
{
	memset(file, 0, sizeof(*file));
	if (m->source == NULL) {
		snprintf(why, why_size, "it has no source");
		return 0;
	}
	/* O_NONBLOCK: a FIFO planted as the source must not hang the create. */
	cleanup_close int fd = open(m->source, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(why, why_size, "it is a directory, and no host filesystem is shared with the guest");
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "it is not a regular file");
		return 0;
	}
	if (st.st_size > (off_t)VEIL_MAX_FILE_BYTES) {
		snprintf(why, why_size, "it is larger than %u KiB, the most a file copied into the guest may be",
			 VEIL_MAX_FILE_BYTES >> 10);
		return 0;
	}
	if ((size_t)st.st_size > *budget) {
		snprintf(why, why_size, "the files copied into the guest would exceed %u KiB", VEIL_MAX_FILES_BYTES >> 10);
		return 0;
	}
	/* One byte more than allowed: a file that grew meanwhile is no longer small. */
	file->content = malloc(VEIL_MAX_FILE_BYTES + 1);
	if (file->content == NULL) {
		snprintf(why, why_size, "out of memory");
		return 0;
	}
	ssize_t n;
	while (file->len <= VEIL_MAX_FILE_BYTES &&
	       ((n = read(fd, file->content + file->len, VEIL_MAX_FILE_BYTES + 1 - file->len)) > 0 ||
		(n < 0 && errno == EINTR)))
		file->len += n > 0 ? (size_t)n : 0;
	if (file->len > VEIL_MAX_FILE_BYTES || file->len > *budget) {
		veil_host_file_release(file);
		snprintf(why, why_size, "it grew past what a file copied into the guest may be");
		return 0;
	}
	file->mode = st.st_mode & 07777;
	file->uid = st.st_uid;
	file->gid = st.st_gid;
	*budget -= file->len;
	return 1;
}

void veil_host_file_release(struct veil_host_file *file)
{
	free(file->content);
	memset(file, 0, sizeof(*file));
}
