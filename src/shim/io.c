#include "shim/io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/hex.h"

#define FILE_SCHEME "file://"
#define BINARY_SCHEME "binary://"
#define FIFO_SCHEME "fifo://"
#define MAX_LOGGER_ARGS 64

void shim_io_init(struct shim_io *io)
{
	*io = (struct shim_io){ .in = -1, .out = -1, .err = -1 };
}

void shim_io_close(struct shim_io *io)
{
	veil_close_fd(&io->in);
	if (io->err == io->out)
		io->err = -1;
	veil_close_fd(&io->out);
	veil_close_fd(&io->err);
	io->logger = 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Percent-decodes [s, s+len) into a new string ("+" is a space in a query);
 * NULL if malformed or if it would hold a NUL. */
static char *url_decode(const char *s, size_t len, bool query)
{
	char *out = malloc(len + 1), *o = out;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < len ? veil_hex_value((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? veil_hex_value((unsigned char)s[i + 2]) : -1;
			if (lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = query && s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = '\0';
	return out;
}

/* The path of a file:// or binary:// URI (no host part), decoded. */
static char *uri_path(const char *rest, size_t len, veil_err_t *err)
{
	if (len == 0 || rest[0] != '/')
		return veil_fail(err, 0, "stdio URI must name an absolute path on this host"), NULL;
	char *path = url_decode(rest, len, false);
	if (path == NULL)
		veil_fail(err, 0, "stdio URI has a malformed %%-escape");
	return path;
}

int shim_io_binary_argv(const char *uri, char **argv, size_t max, veil_err_t *err)
{
	if (!has_prefix(uri, BINARY_SCHEME) || max < 2)
		return veil_fail(err, 0, "not a binary:// URI: %s", uri);
	const char *rest = uri + strlen(BINARY_SCHEME);
	const char *query = strchr(rest, '?');
	size_t n = 0;
	argv[0] = uri_path(rest, query ? (size_t)(query - rest) : strlen(rest), err);
	if (argv[0] == NULL)
		return -1;
	n = 1;
	for (const char *p = query ? query + 1 : NULL; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq ? (size_t)(eq - p) : len;
		if (key_len > 0) {
			if (n + (eq ? 2 : 1) >= max) {
				veil_fail(err, 0, "binary:// URI has more than %zu arguments", max - 2);
				goto fail;
			}
			if ((argv[n++] = url_decode(p, key_len, true)) == NULL)
				goto malformed;
			/* Go's URL.Query gives "k=" the value "", which the runc shim passes on. */
			if (eq != NULL && (argv[n++] = url_decode(eq + 1, len - key_len - 1, true)) == NULL)
				goto malformed;
		}
		p = amp ? amp + 1 : NULL;
	}
	argv[n] = NULL;
	return 0;
malformed:
	veil_fail(err, 0, "binary:// URI has a malformed %%-escape");
fail:
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	argv[0] = NULL;
	return -1;
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* A FIFO by path, read-write and non-blocking; or a regular file appended to. */
static int open_output(const char *path, veil_err_t *err)
{
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return veil_fail(err, errno, "opening %s", path);
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISFIFO(st.st_mode)) {
		close(fd);
		fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return veil_fail(err, errno, "opening %s", path);
	}
	return fd;
}

static int open_file_uri(struct shim_io *io, const char *uri, veil_err_t *err)
{
	const char *rest = uri + strlen(FILE_SCHEME);
	cleanup_free char *path = uri_path(rest, strlen(rest), err);
	if (path == NULL)
		return -1;
	cleanup_free char *dir = strdup(path);
	if (dir == NULL)
		return veil_fail(err, ENOMEM, "stdio");
	*strrchr(dir, '/') = '\0';
	if (dir[0] != '\0' && veil_mkdir_p(dir, 0755, err) < 0)
		return -1;
	io->out = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
	if (io->out < 0)
		return veil_fail(err, errno, "opening %s", path);
	io->err = io->out;
	return 0;
}

/* Starts the logger with the read ends of stdout's and stderr's pipes as
 * fds 3 and 4 and a pipe on fd 5 that it writes to, or closes, once ready. */
static int start_logger(struct shim_io *io, const char *uri, const char *id, const char *ns, veil_err_t *err)
{
	char *argv[MAX_LOGGER_ARGS + 2];
	if (shim_io_binary_argv(uri, argv, MAX_LOGGER_ARGS + 2, err) < 0)
		return -1;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, ready[2] = { -1, -1 };
	int rc = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
		veil_fail(err, errno, "pipe");
		goto done;
	}
	char env_id[128], env_ns[128];
	snprintf(env_id, sizeof(env_id), "CONTAINER_ID=%s", id);
	snprintf(env_ns, sizeof(env_ns), "CONTAINER_NAMESPACE=%s", ns);
	char *const envp[] = { env_id, env_ns, NULL };
	pid_t pid = fork();
	if (pid < 0) {
		veil_fail(err, errno, "fork");
		goto done;
	}
	if (pid == 0) {
		/* fds 3..5, in this order, above anything they could collide with. */
		int keep[3] = { fcntl(out[0], F_DUPFD_CLOEXEC, 10), fcntl(errp[0], F_DUPFD_CLOEXEC, 10),
				fcntl(ready[1], F_DUPFD_CLOEXEC, 10) };
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || keep[0] < 0 || keep[1] < 0 || keep[2] < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0)
			_exit(127);
		for (int i = 0; i < 3; i++)
			if (dup2(keep[i], 3 + i) < 0)
				_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	io->logger = pid;
	veil_close_fd(&ready[1]);
	/* Ready: a byte, or EOF once it closed fd 5 (or died). */
	struct pollfd p = { .fd = ready[0], .events = POLLIN };
	int n;
	while ((n = poll(&p, 1, SHIM_IO_LOGGER_READY_MS)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		kill(pid, SIGKILL);
		veil_fail(err, n == 0 ? ETIMEDOUT : errno, "logging binary %s did not get ready", argv[0]);
		goto done;
	}
	io->out = veil_steal_fd(out[1]);
	io->err = veil_steal_fd(errp[1]);
	if (set_nonblocking(io->out) < 0 || set_nonblocking(io->err) < 0) {
		veil_fail(err, errno, "fcntl");
		goto done;
	}
	rc = 0;
done:
	for (int i = 0; i < 2; i++) {
		veil_close_fd(&out[i]);
		veil_close_fd(&errp[i]);
		veil_close_fd(&ready[i]);
	}
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	return rc;
}

static int open_null(int *fd, veil_err_t *err)
{
	if (*fd >= 0)
		return 0;
	*fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return *fd < 0 ? veil_fail(err, errno, "/dev/null") : 0;
}

int shim_io_open(struct shim_io *io, const char *in, const char *out, const char *err_uri, const char *id,
		 const char *ns, veil_err_t *err)
{
	shim_io_init(io);
	if (in[0] != '\0') {
		io->in = open(in, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (io->in < 0) {
			veil_fail(err, errno, "opening stdin %s", in);
			goto fail;
		}
	}
	if (has_prefix(out, BINARY_SCHEME)) {
		if (start_logger(io, out, id, ns, err) < 0)
			goto fail;
	} else if (has_prefix(out, FILE_SCHEME)) {
		if (open_file_uri(io, out, err) < 0)
			goto fail;
	} else {
		const char *paths[2] = { out, err_uri };
		int *fds[2] = { &io->out, &io->err };
		for (int i = 0; i < 2; i++) {
			const char *path = has_prefix(paths[i], FIFO_SCHEME) ? paths[i] + strlen(FIFO_SCHEME) : paths[i];
			if (strstr(path, "://") != NULL) {
				veil_fail(err, 0, "unknown stdio scheme in %s", path);
				goto fail;
			}
			if (path[0] != '\0' && (*fds[i] = open_output(path, err)) < 0)
				goto fail;
		}
	}
	if (open_null(&io->out, err) < 0 || open_null(&io->err, err) < 0)
		goto fail;
	return 0;
fail:
	if (io->logger > 0)
		kill(io->logger, SIGKILL);
	shim_io_close(io);
	return -1;
}
