#include "hv/qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/fdpass.h"

/* One message being read: the bytes of its line taken so far. */
struct line {
	char *buf;
	size_t len;
	size_t cap;
};

/* Takes the rest of the current line, or all that has arrived of it, and no
 * more: a peek finds where the line ends. Returns 1 once the line is whole. */
static int take_line(int fd, struct line *l, veil_err_t *err)
{
	if (l->cap - l->len < 4096) {
		size_t cap = l->cap ? l->cap * 2 : 8192;
		if (cap > VEIL_QMP_MAX_LINE + 1)
			cap = VEIL_QMP_MAX_LINE + 1;
		char *grown = realloc(l->buf, cap);
		if (grown == NULL)
			return veil_fail(err, ENOMEM, "QMP");
		l->buf = grown;
		l->cap = cap;
	}
	ssize_t n = recv(fd, l->buf + l->len, l->cap - l->len, MSG_PEEK);
	if (n == 0)
		return veil_fail(err, 0, "QMP: QEMU closed the monitor (it exited)");
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : veil_fail(err, errno, "QMP: read");
	char *nl = memchr(l->buf + l->len, '\n', (size_t)n);
	size_t want = nl != NULL ? (size_t)(nl - (l->buf + l->len)) + 1 : (size_t)n;
	n = recv(fd, l->buf + l->len, want, 0);
	if (n < 0)
		return veil_fail(err, errno, "QMP: read");
	l->len += (size_t)n;
	return nl != NULL && (size_t)n == want;
}

/* Reads one JSON line, bounded in length and time. */
static json_object *read_message(int fd, long long deadline, veil_err_t *err)
{
	struct line l = { 0 };
	json_object *obj = NULL;
	for (;;) {
		if (l.len >= VEIL_QMP_MAX_LINE) {
			veil_fail(err, 0, "QMP: message longer than %u bytes", VEIL_QMP_MAX_LINE);
			break;
		}
		long long left = deadline - veil_now_ms();
		if (left <= 0) {
			veil_fail(err, 0, "QMP: timed out waiting for QEMU");
			break;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno != EINTR) {
			veil_fail(err, errno, "QMP: poll");
			break;
		}
		if (rc <= 0)
			continue;
		rc = take_line(fd, &l, err);
		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		enum json_tokener_error jerr = json_tokener_error_parse_eof;
		json_tokener *tok = json_tokener_new();
		if (tok != NULL) {
			obj = json_tokener_parse_ex(tok, l.buf, (int)l.len);
			jerr = json_tokener_get_error(tok);
			json_tokener_free(tok);
		}
		if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
			json_object_put(obj);
			obj = NULL;
			veil_fail(err, 0, "QMP: malformed message (%s)", json_tokener_error_desc(jerr));
		}
		break;
	}
	free(l.buf);
	return obj;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* QEMU takes an fd passed with SCM_RIGHTS along with the bytes of the
 * command that uses it (getfd), so it rides on the command's first byte. */
static int send_with_fd(int sock, const char *p, size_t len, int fd)
{
	if (veil_send_fds(sock, p, 1, &fd, 1) < 0)
		return -1;
	return write_all(sock, p + 1, len - 1);
}

int veil_qmp_execute(int fd, const char *cmd, json_object *args, json_object **ret, int timeout_ms, veil_err_t *err)
{
	return veil_qmp_execute_fd(fd, cmd, args, -1, ret, timeout_ms, err);
}

int veil_qmp_execute_fd(int fd, const char *cmd, json_object *args, int pass_fd, json_object **ret, int timeout_ms,
			veil_err_t *err)
{
	long long deadline = veil_now_ms() + timeout_ms;
	json_object *req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args != NULL)
		json_object_object_add(req, "arguments", json_object_get(args));
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	int rc = pass_fd >= 0 ? send_with_fd(fd, text, strlen(text), pass_fd) : write_all(fd, text, strlen(text));
	json_object_put(req);
	if (rc < 0 || write_all(fd, "\n", 1) < 0)
		return veil_fail(err, errno, "QMP: sending %s", cmd);

	for (;;) {
		json_object *msg = read_message(fd, deadline, err);
		if (msg == NULL)
			return veil_fail_context(err, "QMP %s", cmd);
		json_object *value;
		if (json_object_object_get_ex(msg, "return", &value)) {
			if (ret != NULL)
				*ret = json_object_get(value);
			json_object_put(msg);
			return 0;
		}
		if (json_object_object_get_ex(msg, "error", &value)) {
			json_object *desc = json_object_object_get(value, "desc");
			veil_fail(err, 0, "QMP %s: %s", cmd, desc ? json_object_get_string(desc) : "error");
			json_object_put(msg);
			return -1;
		}
		json_object_put(msg); /* an event */
	}
}

int veil_qmp_handshake(int fd, int timeout_ms, veil_err_t *err)
{
	json_object *greeting = read_message(fd, veil_now_ms() + timeout_ms, err);
	if (greeting == NULL)
		return veil_fail_context(err, "QMP greeting");
	bool ok = json_object_object_get_ex(greeting, "QMP", NULL);
	json_object_put(greeting);
	if (!ok)
		return veil_fail(err, 0, "QMP: unexpected greeting");
	return veil_qmp_execute(fd, "qmp_capabilities", NULL, NULL, timeout_ms, err);
}
