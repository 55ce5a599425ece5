/* Reading and writing the kernel's files (/proc, /sys, cgroupfs). Reads go
 * through buffers the agent owns and wipes, never stdio's or readdir's: what
 * these files list can be a tenant's (IPC keys, message queue and cgroup
 * names, its processes' cgroups), and a freed stdio buffer keeps it. */
#ifndef VEIL_AGENT_KFILE_H
#define VEIL_AGENT_KFILE_H

#include <stddef.h>

#include "lib/error.h"

/* Writes value in one write(2), as these files expect; 0, or -1 with errno. */
int agent_write_file(const char *path, const char *value);

/* A file read line by line. */
struct agent_kfile {
	int fd;
	size_t start, end; /* buf[start..end) is read, not yet returned */
	char buf[4096];
};

/* 0, or -1 with errno (k->fd is then -1; agent_kfile_close is still due). */
int agent_kfile_open(struct agent_kfile *k, const char *path);
/* The next line, without its newline, NUL-terminated in k's buffer (valid
 * until the next call); NULL at the end. A line longer than the buffer comes
 * in pieces. */
char *agent_kfile_line(struct agent_kfile *k);
/* Closes and wipes the buffer. */
void agent_kfile_close(struct agent_kfile *k);
#define cleanup_kfile __attribute__((cleanup(agent_kfile_close)))

/* Reads a whole small file into buf (NUL-terminated, size-1 bytes at most);
 * the byte count, or -1 with errno. */
long agent_read_file(const char *path, char *buf, size_t size);

/* Calls fn with the name and d_type of each entry of the directory at path but "." and
 * "..", until it returns non-zero; returns that, 0 after the last entry, or -1
 * with errno if the directory cannot be read. */
int agent_each_entry(const char *path, int (*fn)(const char *name, unsigned char type, void *arg), void *arg);

/* Opens the virtio-serial port called name (O_RDWR | O_NONBLOCK), waiting up
 * to wait_ms for it to appear; its path goes to devpath. The fd, or -1 with *err. */
int agent_virtio_port_open(const char *name, int wait_ms, char *devpath, size_t size, veil_err_t *err);

#endif
