#include "kbs/kbs.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "lib/log.h"

#define MAX_MESSAGE (KBS_MAX_RESOURCE / 3 * 4 + 8192)
#define IO_TIMEOUT_S 10

static int set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) | setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int unix_address(const char *path, struct sockaddr_un *sa, veil_err_t *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return veil_fail(err, ENAMETOOLONG, "admin socket %s", path);
	strcpy(sa->sun_path, path);
	return 0;
}

int kbs_admin_listen(const char *path, veil_err_t *err)
{
	struct sockaddr_un sa;
	if (unix_address(path, &sa, err) < 0)
		return -1;
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return veil_fail(err, errno, "admin socket");
	/* A socket left by a crash is replaced; one that answers is another broker's. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return veil_fail(err, 0, "admin socket %s: another veil-kbs is serving there", path);
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return veil_fail(err, errno, "admin socket");
	unlink(path);
	/* Created 0600 from the start: no window in which others may connect. */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0)
		return veil_fail(err, errno, "admin socket %s", path);
	return veil_steal_fd(fd);
}

/* Reads until EOF, at most max bytes. */
static char *read_all(int fd, size_t max, size_t *len, veil_err_t *err)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf != NULL) {
		if (n == cap) {
			if (cap >= max)
				break;
			cap = cap * 2 > max ? max : cap * 2;
			char *grown = realloc(buf, cap + 1);
			if (grown == NULL)
				break;
			buf = grown;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			veil_fail(err, errno, "admin socket");
			OPENSSL_cleanse(buf, n);
			free(buf);
			return NULL;
		}
		if (got == 0) {
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		n += (size_t)got;
	}
	if (buf != NULL)
		OPENSSL_cleanse(buf, n);
	free(buf);
	veil_fail(err, 0, "admin message larger than %zu bytes", max);
	return NULL;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Validates a new reference-values or policy file against the current other
 * one, stores it atomically, then makes it live. */
static int set_policy_file(struct kbs *kbs, const char *file, const char *text, size_t len, veil_err_t *err)
{
	struct kbs_policy probe = { 0 };
	int rc = strcmp(file, "policy.toml") == 0 ? kbs_rules_parse(text, len, &probe, err)
						   : kbs_reference_parse(text, len, &probe, err);
	kbs_policy_free(&probe);
	if (rc < 0 || kbs_store_put_file(kbs->cfg.data_dir, file, text, len, err) < 0)
		return -1;
	return kbs_reload_policy(kbs, err);
}

/* Runs one request; *out gets data to return (malloc'd) if any. */
static int run(struct kbs *kbs, json_object *req, uint8_t **out, size_t *out_len, veil_err_t *err)
{
	if (veil_json_check_members(req, "admin request",
				    VEIL_JSON_MEMBERS({ "op", json_type_string, true }, { "name", json_type_string, false },
						      { "data", json_type_string, false }),
				    err) < 0)
		return -1;
	const char *op = json_object_get_string(json_object_object_get(req, "op"));
	json_object *name_v = json_object_object_get(req, "name");
	json_object *data_v = json_object_object_get(req, "data");
	const char *name = name_v != NULL ? json_object_get_string(name_v) : NULL;
	cleanup_free uint8_t *data = NULL;
	size_t len = 0;
	if (data_v != NULL && veil_b64_decode(VEIL_B64_STD, json_object_get_string(data_v),
					      (size_t)json_object_get_string_len(data_v), "admin data", &data, &len, err) < 0)
		return -1;
	bool resource_op = strncmp(op, "resource-", 9) == 0;
	if (resource_op && name == NULL)
		return veil_fail(err, 0, "%s: missing the resource name", op);
	bool needs_data = strcmp(op, "resource-set") == 0 || strcmp(op, "reference-set") == 0 || strcmp(op, "policy-set") == 0;
	if (needs_data && data == NULL)
		return veil_fail(err, 0, "%s: missing data", op);
	int rc;
	if (strcmp(op, "resource-set") == 0) {
		rc = kbs_store_put(kbs->cfg.data_dir, name, data, len, err);
		OPENSSL_cleanse(data, len);
		if (rc == 0)
			log_info("admin: resource %s set (%zu bytes)", name, len);
		return rc;
	}
	if (strcmp(op, "resource-get") == 0) {
		rc = kbs_store_get(kbs->cfg.data_dir, name, out, out_len, err);
		return rc == 0 ? veil_fail_tagged(err, ENOENT, "resource %s does not exist", name) : rc < 0 ? -1 : 0;
	}
	if (strcmp(op, "resource-delete") == 0) {
		rc = kbs_store_delete(kbs->cfg.data_dir, name, err);
		if (rc == 0)
			log_info("admin: resource %s deleted", name);
		return rc;
	}
	const char *file = strncmp(op, "reference-", 10) == 0 ? "reference-values.toml"
			   : strncmp(op, "policy-", 7) == 0   ? "policy.toml"
							      : NULL;
	const char *verb = file == NULL ? "" : strchr(op, '-') + 1;
	if (file != NULL && strcmp(verb, "set") == 0) {
		rc = set_policy_file(kbs, file, (const char *)data, len, err);
		if (rc == 0)
			log_info("admin: %s replaced (%zu bytes)", file, len);
		return rc;
	}
	if (file != NULL && strcmp(verb, "get") == 0) {
		*out = (uint8_t *)kbs_store_get_file(kbs->cfg.data_dir, file, out_len, err);
		return *out != NULL ? 0 : -1;
	}
	return veil_fail(err, 0, "unknown admin operation \"%.32s\"", op);
}

void kbs_admin_serve(struct kbs *kbs, int fd)
{
	veil_err_t err = NULL;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || (cred.uid != 0 && cred.uid != geteuid())) {
		log_warn("admin: refused a connection from uid %d (only root or uid %d)", (int)cred.uid, (int)geteuid());
		return;
	}
	set_timeouts(fd);
	size_t len = 0;
	char *text = read_all(fd, MAX_MESSAGE, &len, &err);
	cleanup_json json_object *req = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc = text != NULL && veil_json_parse(text, len, "admin request", &req, &err) == 0 ? run(kbs, req, &out, &out_len, &err) : -1;
	if (text != NULL) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	json_object *reply = json_object_new_object();
	if (rc < 0) {
		json_object_object_add(reply, "error", json_object_new_string(err != NULL ? err->msg : "failed"));
		log_warn("admin: %s", err != NULL ? err->msg : "failed");
	} else if (out != NULL) {
		char *b64 = veil_b64_encode(VEIL_B64_STD, out, out_len);
		json_object_object_add(reply, "data", json_object_new_string(b64 != NULL ? b64 : ""));
		if (b64 != NULL)
			OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
		OPENSSL_cleanse(out, out_len);
	}
	free(out);
	veil_error_free(&err);
	const char *s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	write_all(fd, s, strlen(s));
	json_object_put(reply);
}

int kbs_admin_call(const char *socket_path, const char *op, const char *name, const uint8_t *data, size_t len,
		   veil_err_t *err)
{
	struct sockaddr_un sa;
	if (unix_address(socket_path, &sa, err) < 0)
		return -1;
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return veil_fail(err, errno, "connecting to the veil-kbs admin socket %s", socket_path);
	set_timeouts(fd);
	json_object *req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string(op));
	if (name != NULL)
		json_object_object_add(req, "name", json_object_new_string(name));
	if (data != NULL) {
		char *b64 = veil_b64_encode(VEIL_B64_STD, data, len);
		json_object_object_add(req, "data", json_object_new_string(b64 != NULL ? b64 : ""));
		free(b64);
	}
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	int wrc = write_all(fd, s, strlen(s));
	json_object_put(req);
	if (wrc < 0 || shutdown(fd, SHUT_WR) < 0)
		return veil_fail(err, errno, "writing to %s", socket_path);
	size_t rlen;
	cleanup_free char *text = read_all(fd, MAX_MESSAGE, &rlen, err);
	cleanup_json json_object *reply = NULL;
	if (text == NULL || veil_json_parse(text, rlen, "veil-kbs reply", &reply, err) < 0)
		return -1;
	json_object *e = json_object_object_get(reply, "error");
	if (e != NULL)
		return veil_fail(err, 0, "%s", json_object_get_string(e));
	json_object *d = json_object_object_get(reply, "data");
	if (d == NULL)
		return 0;
	cleanup_free uint8_t *bytes = NULL;
	size_t blen;
	if (veil_b64_decode(VEIL_B64_STD, json_object_get_string(d), (size_t)json_object_get_string_len(d), "reply", &bytes,
			    &blen, err) < 0)
		return -1;
	return fwrite(bytes, 1, blen, stdout) == blen && fflush(stdout) == 0 ? 0 : veil_fail(err, errno, "stdout");
}
