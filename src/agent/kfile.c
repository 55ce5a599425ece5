#include "agent/kfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/clock.h"
#include "lib/cleanup.h"

int agent_write_file(const char *path, const char *value)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n >= 0 && (size_t)n != len)
		errno = EIO;
	return n == (ssize_t)len ? 0 : -1;
}

int agent_kfile_open(struct agent_kfile *k, const char *path)
{
	k->start = k->end = 0;
	k->fd = open(path, O_RDONLY | O_CLOEXEC);
	return k->fd < 0 ? -1 : 0;
}

char *agent_kfile_line(struct agent_kfile *k)
{
	for (;;) {
		char *line = k->buf + k->start;
		char *nl = memchr(line, '\n', k->end - k->start);
		if (nl != NULL) {
			*nl = '\0';
			k->start = (size_t)(nl + 1 - k->buf);
			return line;
		}
		/* Room for more, and for the NUL of a last line without a newline. */
		memmove(k->buf, line, k->end - k->start);
		k->end -= k->start;
		k->start = 0;
		ssize_t n = 0;
		if (k->fd >= 0 && k->end < sizeof(k->buf) - 1)
			while ((n = read(k->fd, k->buf + k->end, sizeof(k->buf) - 1 - k->end)) < 0 && errno == EINTR)
				;
		if (n > 0) {
			k->end += (size_t)n;
			continue;
		}
		if (k->end == 0)
			return NULL;
		k->buf[k->end] = '\0';
		k->start = k->end = 0;
		return k->buf;
	}
}

void agent_kfile_close(struct agent_kfile *k)
{
	veil_close_fd(&k->fd);
	explicit_bzero(k->buf, sizeof(k->buf));
}

long agent_read_file(const char *path, char *buf, size_t size)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (long)len;
}

int agent_each_entry(const char *path, int (*fn)(const char *name, unsigned char type, void *arg), void *arg)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096] __attribute__((aligned(8)));
	int rc = 0;
	ssize_t n;
	while (rc == 0 && (n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; rc == 0 && off < n;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf + off);
			off += e->d_reclen;
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				rc = fn(e->d_name, e->d_type, arg);
		}
	}
	if (rc == 0 && n < 0)
		rc = -1;
	int saved = errno;
	explicit_bzero(buf, sizeof(buf));
	errno = saved;
	return rc;
}

struct port_query {
	const char *name;
	char *devpath;
	size_t size;
};

static int match_port(const char *port, unsigned char type, void *arg)
{
	(void)type;
	struct port_query *q = arg;
	char path[512], name[64];
	snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", port);
	size_t n = strlen(q->name);
	if (agent_read_file(path, name, sizeof(name)) < 0 || strncmp(name, q->name, n) != 0 || strcmp(name + n, "\n") != 0)
		return 0;
	snprintf(q->devpath, q->size, "/dev/%s", port);
	return 1;
}

int agent_virtio_port_open(const char *name, int wait_ms, char *devpath, size_t size, veil_err_t *err)
{
	struct port_query q = { .name = name, .devpath = devpath, .size = size };
	int64_t deadline = agent_now_ms() + wait_ms;
	for (;;) {
		/* The sysfs entry can precede the devtmpfs node by a moment. */
		int fd;
		if (agent_each_entry("/sys/class/virtio-ports", match_port, &q) > 0 &&
		    (fd = open(devpath, O_RDWR | O_CLOEXEC | O_NONBLOCK)) >= 0)
			return fd;
		if (agent_now_ms() >= deadline)
			return veil_fail(err, 0, "no virtio-serial port named %s after %d s", name, wait_ms / 1000);
		usleep(10000);
	}
}
