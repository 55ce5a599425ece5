#include "lib/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fdpass.h"

_Static_assert(VEIL_CTL_MAX_FDS <= VEIL_FDPASS_MAX, "a control record's fds fit one message");

/* sun_path holds 107 bytes, less than a state root plus a 64-character ID can
 * need; a longer path is reached through /proc/self/fd/N of its directory,
 * which *dirfd keeps open until the bind or connect is done. */
static int make_address(const char *path, struct sockaddr_un *addr, int *dirfd, veil_err_t *err)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(path) < sizeof(addr->sun_path)) {
		memcpy(addr->sun_path, path, strlen(path) + 1);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	if (slash == NULL || strlen(slash) > 64)
		return veil_fail(err, ENAMETOOLONG, "control socket path %s", path);
	cleanup_free char *dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return veil_fail(err, ENOMEM, "control socket path");
	*dirfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return veil_fail(err, errno, "%s", dir);
	snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d%s", *dirfd, slash);
	return 0;
}

int veil_ctl_listen(const char *path, veil_err_t *err)
{
	return veil_unix_listen(path, SOCK_SEQPACKET, err);
}

int veil_unix_listen(const char *path, int type, veil_err_t *err)
{
	struct sockaddr_un addr;
	cleanup_close int dirfd = -1;
	if (make_address(path, &addr, &dirfd, err) < 0)
		return -1;
	cleanup_close int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return veil_fail(err, errno, "socket");
	unlink(path);
	/* The umask makes the file 0600 from birth: no window where others could connect. */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0)
		return veil_fail(err, errno, "binding %s", path);
	if (listen(fd, 16) < 0)
		return veil_fail(err, errno, "listen %s", path);
	return veil_steal_fd(fd);
}

int veil_ctl_accept(int listen_fd, pid_t *peer_pid, veil_err_t *err)
{
	cleanup_close int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return veil_fail(err, errno, "accept");
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return veil_fail(err, errno, "SO_PEERCRED");
	if (cred.uid != 0 && cred.uid != geteuid())
		return veil_fail(err, EPERM, "peer pid %d uid %u refused", cred.pid, cred.uid);
	*peer_pid = cred.pid;
	return veil_steal_fd(fd);
}

int veil_ctl_connect(const char *path, veil_err_t *err)
{
	return veil_unix_connect(path, SOCK_SEQPACKET, err);
}

int veil_unix_connect(const char *path, int type, veil_err_t *err)
{
	struct sockaddr_un addr;
	cleanup_close int dirfd = -1;
	if (make_address(path, &addr, &dirfd, err) < 0)
		return -1;
	cleanup_close int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return veil_fail(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return veil_fail(err, errno, "connecting to %s", path);
	return veil_steal_fd(fd);
}

int veil_ctl_send(int fd, json_object *msg, const int *fds, int n_fds, veil_err_t *err)
{
	const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	if (len > VEIL_CTL_MAX_RECORD || n_fds < 0 || n_fds > VEIL_CTL_MAX_FDS)
		return veil_fail(err, EMSGSIZE, "control message");
	while (veil_send_fds(fd, text, len, fds, (size_t)n_fds) < 0) {
		if (errno != EAGAIN)
			return veil_fail(err, errno, "sending a control message");
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		poll(&p, 1, 1000);
	}
	return 0;
}

void veil_ctl_close_fds(int fds[VEIL_CTL_MAX_FDS])
{
	for (int i = 0; i < VEIL_CTL_MAX_FDS; i++)
		veil_close_fd(&fds[i]);
}

int veil_ctl_recv(int fd, json_object **msg, int fds[VEIL_CTL_MAX_FDS], int timeout_ms, veil_err_t *err)
{
	*msg = NULL;
	for (int i = 0; i < VEIL_CTL_MAX_FDS; i++)
		fds[i] = -1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rc;
	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return veil_fail(err, ETIMEDOUT, "waiting for the container monitor");
	static char buf[VEIL_CTL_MAX_RECORD + 1];
	int flags;
	ssize_t n = veil_recv_fds(fd, buf, VEIL_CTL_MAX_RECORD, fds, VEIL_CTL_MAX_FDS, &flags);
	if (n < 0)
		return veil_fail(err, errno, "receiving a control message");
	if (n == 0 && fds[0] < 0)
		return 0;
	const char *why = NULL;
	if (flags & (MSG_TRUNC | MSG_CTRUNC)) {
		why = "control message too large";
	} else {
		buf[n] = '\0';
		*msg = json_tokener_parse(buf);
		if (*msg == NULL || !json_object_is_type(*msg, json_type_object))
			why = "malformed control message";
	}
	if (why == NULL)
		return 0;
	json_object_put(*msg);
	*msg = NULL;
	veil_ctl_close_fds(fds);
	return veil_fail(err, EPROTO, "%s", why);
}

int veil_ctl_call(const char *path, json_object *req, const int *fds, int n_fds, json_object **reply,
		  veil_err_t *err)
{
	cleanup_close int fd = veil_ctl_connect(path, err);
	if (fd < 0)
		return -1;
	if (veil_ctl_send(fd, req, fds, n_fds, err) < 0)
		return -1;
	int got[VEIL_CTL_MAX_FDS];
	/* Long enough for a monitor that is busy booting or tearing down a VM. */
	if (veil_ctl_recv(fd, reply, got, 120000, err) < 0)
		return -1;
	veil_ctl_close_fds(got);
	if (*reply == NULL)
		return veil_fail(err, ECONNRESET, "the container monitor exited");
	json_object *why;
	if (json_object_object_get_ex(*reply, "error", &why)) {
		veil_fail(err, 0, "%s", json_object_get_string(why));
		json_object_put(*reply);
		*reply = NULL;
		return -1;
	}
	return 0;
}

json_object *veil_ctl_error_reply(const char *message)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(message));
	return o;
}

json_object *veil_ctl_ok_reply(void)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}
