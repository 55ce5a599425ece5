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

void veil_qmp_init(struct veil_qmp *q)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}

/* Reads one JSON line, bounded in length and time. */
static json_object *read_message(struct veil_qmp *q, long long deadline, veil_err_t *err)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		if (nl != NULL) {
			size_t line_len = (size_t)(nl - q->buf) + 1;
			enum json_tokener_error jerr = json_tokener_error_parse_eof;
			json_object *obj = NULL;
			json_tokener *tok = json_tokener_new();
			if (tok != NULL) {
				obj = json_tokener_parse_ex(tok, q->buf, (int)line_len);
				jerr = json_tokener_get_error(tok);
				json_tokener_free(tok);
			}
			memmove(q->buf, q->buf + line_len, q->len - line_len);
			q->len -= line_len;
			if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
				json_object_put(obj);
				veil_fail(err, 0, "QMP: malformed message (%s)", json_tokener_error_desc(jerr));
				return NULL;
			}
			return obj;
		}
		if (q->len >= VEIL_QMP_MAX_LINE) {
			veil_fail(err, 0, "QMP: message longer than %u bytes", VEIL_QMP_MAX_LINE);
			return NULL;
		}
		if (q->cap - q->len < 4096) {
			size_t cap = q->cap ? q->cap * 2 : 8192;
			if (cap > VEIL_QMP_MAX_LINE + 1)
				cap = VEIL_QMP_MAX_LINE + 1;
			char *grown = realloc(q->buf, cap);
			if (grown == NULL) {
				veil_fail(err, ENOMEM, "QMP");
				return NULL;
			}
			q->buf = grown;
			q->cap = cap;
		}
		long long left = deadline - veil_now_ms();
		if (left <= 0) {
			veil_fail(err, 0, "QMP: timed out waiting for QEMU");
			return NULL;
		}
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno != EINTR) {
			veil_fail(err, errno, "QMP: poll");
			return NULL;
		}
		if (rc <= 0)
			continue;
		ssize_t n = read(q->fd, q->buf + q->len, q->cap - q->len);
		if (n == 0) {
			veil_fail(err, 0, "QMP: QEMU closed the monitor (it exited)");
			return NULL;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			veil_fail(err, errno, "QMP: read");
			return NULL;
		}
		q->len += (size_t)n;
	}
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

int veil_qmp_execute(struct veil_qmp *q, const char *cmd, json_object *args, json_object **ret, int timeout_ms,
		     veil_err_t *err)
{
	return veil_qmp_execute_fd(q, cmd, args, -1, ret, timeout_ms, err);
}

int veil_qmp_execute_fd(struct veil_qmp *q, const char *cmd, json_object *args, int fd, json_object **ret,
			int timeout_ms, veil_err_t *err)
{
	long long deadline = veil_now_ms() + timeout_ms;
	json_object *req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args != NULL)
		json_object_object_add(req, "arguments", json_object_get(args));
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	int rc = fd >= 0 ? send_with_fd(q->fd, text, strlen(text), fd) : write_all(q->fd, text, strlen(text));
	json_object_put(req);
	if (rc < 0 || write_all(q->fd, "\n", 1) < 0)
		return veil_fail(err, errno, "QMP: sending %s", cmd);

	for (;;) {
		json_object *msg = read_message(q, deadline, err);
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

int veil_qmp_open(struct veil_qmp *q, int fd, int timeout_ms, veil_err_t *err)
{
	q->fd = fd;
	json_object *greeting = read_message(q, veil_now_ms() + timeout_ms, err);
	if (greeting == NULL)
		return veil_fail_context(err, "QMP greeting");
	bool ok = json_object_object_get_ex(greeting, "QMP", NULL);
	json_object_put(greeting);
	if (!ok)
		return veil_fail(err, 0, "QMP: unexpected greeting");
	return veil_qmp_execute(q, "qmp_capabilities", NULL, NULL, timeout_ms, err);
}

void veil_qmp_close(struct veil_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	veil_qmp_init(q);
}
