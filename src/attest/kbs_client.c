#include "attest/kbs_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/cleanup.h"
#include "lib/json.h"

#define DEFAULT_TIMEOUT_MS 30000

/* A connection's received bytes that are not yet part of a response: with
 * requests pipelined, a read can reach into the next response. */
struct http_conn {
	const struct veil_kbs_transport *t;
	char buf[VEIL_KBS_HTTP_MAX_HEADERS];
	size_t held;
};

/* A resource requested along with the attestation, and its answer. */
struct prefetched {
	const char *path;
	struct veil_kbs_http_reply reply;
};

struct veil_kbs_client {
	struct veil_kbs_transport t;
	struct http_conn conn;
	char host[256];
	int timeout_ms;
	char cookie[129];
	EVP_PKEY *key;
	char *token;
	struct prefetched *prefetched;
	size_t n_prefetched;
};

/* ---- HTTP ---- */

static int wait_fd(int fd, short events, int timeout_ms, veil_err_t *err)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int n = poll(&p, 1, timeout_ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return veil_fail(err, ETIMEDOUT, "KBS connection: no progress in %d ms", timeout_ms);
		if (errno != EINTR)
			return veil_fail(err, errno, "KBS connection");
	}
}

static int fd_send(void *ctx, const void *buf, size_t len, int timeout_ms, veil_err_t *err)
{
	int fd = *(int *)ctx;
	const char *p = buf;
	while (len > 0) {
		if (wait_fd(fd, POLLOUT, timeout_ms, err) < 0)
			return -1;
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return veil_fail(err, n < 0 ? errno : EPIPE, "sending to the KBS");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t fd_recv(void *ctx, void *buf, size_t len, int timeout_ms, veil_err_t *err)
{
	int fd = *(int *)ctx;
	for (;;) {
		if (wait_fd(fd, POLLIN, timeout_ms, err) < 0)
			return -1;
		ssize_t n = read(fd, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return veil_fail(err, errno, "reading from the KBS");
		return n;
	}
}

struct veil_kbs_transport veil_kbs_fd_transport(int *fd)
{
	return (struct veil_kbs_transport){ .ctx = fd, .send = fd_send, .recv = fd_recv };
}

/* Reads into buf until it holds `want` bytes, or (want == 0) a blank line
 * ending the headers. Returns the bytes held; *header_end is set for want 0. */
static int recv_until(const struct veil_kbs_transport *t, char *buf, size_t cap, size_t *held, size_t want,
		      size_t *header_end, int timeout_ms, veil_err_t *err)
{
	for (;;) {
		if (want == 0) {
			char *end = *held >= 4 ? memmem(buf, *held, "\r\n\r\n", 4) : NULL;
			if (end != NULL) {
				*header_end = (size_t)(end - buf) + 4;
				return 0;
			}
			if (*held >= cap)
				return veil_fail(err, 0, "KBS response headers longer than %zu bytes", cap);
		} else if (*held >= want) {
			return 0;
		}
		ssize_t n = t->recv(t->ctx, buf + *held, (want ? want : cap) - *held, timeout_ms, err);
		if (n < 0)
			return -1;
		if (n == 0)
			return veil_fail(err, ECONNRESET, "the KBS closed the connection mid-response");
		*held += (size_t)n;
	}
}

/* The value of header `name` in the header block (CRLF lines), copied. */
static bool header_value(const char *headers, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	for (const char *line = headers; line != NULL && *line != '\0';) {
		const char *eol = strstr(line, "\r\n");
		if (eol == NULL)
			break;
		if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vl = (size_t)(eol - v);
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= size)
				vl = size - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
		line = eol + 2;
	}
	return false;
}

static int parse_head(const char *head, struct veil_kbs_http_reply *reply, size_t *content_length, veil_err_t *err)
{
	unsigned major, minor, status;
	int used = 0;
	if (sscanf(head, "HTTP/%u.%u %3u%n", &major, &minor, &status, &used) != 3 || major != 1 || status < 100 ||
	    status > 599 || (head[used] != ' ' && head[used] != '\r'))
		return veil_fail(err, 0, "KBS response: not an HTTP/1.x status line");
	reply->status = status;
	char value[160];
	if (header_value(head, "Transfer-Encoding", value, sizeof(value)))
		return veil_fail(err, 0, "KBS response: Transfer-Encoding \"%s\" is not supported", value);
	if (!header_value(head, "Content-Length", value, sizeof(value)))
		return veil_fail(err, 0, "KBS response: no Content-Length");
	char *end;
	errno = 0;
	unsigned long long cl = strtoull(value, &end, 10);
	if (*end != '\0' || value[0] == '\0' || value[0] == '-' || errno != 0 || cl > VEIL_KBS_HTTP_MAX_RESPONSE)
		return veil_fail(err, 0, "KBS response: Content-Length \"%.32s\" is not 0..%u", value, VEIL_KBS_HTTP_MAX_RESPONSE);
	*content_length = (size_t)cl;
	if (header_value(head, "Set-Cookie", value, sizeof(value))) {
		size_t pl = strlen(VEIL_KBS_COOKIE);
		if (strncmp(value, VEIL_KBS_COOKIE, pl) == 0 && value[pl] == '=') {
			size_t vl = strcspn(value + pl + 1, "; ");
			if (vl == 0 || vl >= sizeof(reply->set_cookie))
				return veil_fail(err, 0, "KBS response: bad %s cookie", VEIL_KBS_COOKIE);
			memcpy(reply->set_cookie, value + pl + 1, vl);
			reply->set_cookie[vl] = '\0';
		}
	}
	return 0;
}

static int http_send(const struct veil_kbs_transport *t, const char *method, const char *host, const char *path,
		     const char *cookie, const char *body, size_t body_len, int timeout_ms, veil_err_t *err)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n%s%s%s%s%s"
			 "Content-Length: %zu\r\n\r\n",
			 method, path, host, body != NULL ? "Content-Type: application/json\r\n" : "",
			 cookie != NULL ? "Cookie: " : "", cookie != NULL ? VEIL_KBS_COOKIE "=" : "",
			 cookie != NULL ? cookie : "", cookie != NULL ? "\r\n" : "", body != NULL ? body_len : 0);
	if (n < 0 || (size_t)n >= sizeof(head))
		return veil_fail(err, 0, "KBS request line too long");
	/* One write for head and body: split, Nagle and delayed ACKs would hold
	 * the body back for tens of milliseconds on TCP. */
	size_t total = (size_t)n + (body != NULL ? body_len : 0);
	cleanup_free char *request = malloc(total);
	if (request == NULL)
		return veil_fail(err, ENOMEM, "KBS request");
	memcpy(request, head, (size_t)n);
	if (body != NULL)
		memcpy(request + n, body, body_len);
	return t->send(t->ctx, request, total, timeout_ms, err);
}

/* The next response on conn; bytes past it stay in conn for the next. */
static int http_recv(struct http_conn *conn, int timeout_ms, struct veil_kbs_http_reply *reply, veil_err_t *err)
{
	memset(reply, 0, sizeof(*reply));
	size_t header_end = 0, content_length = 0;
	if (recv_until(conn->t, conn->buf, sizeof(conn->buf), &conn->held, 0, &header_end, timeout_ms, err) < 0)
		return -1;
	char saved = conn->buf[header_end - 2];
	conn->buf[header_end - 2] = '\0'; /* keep the last header's CRLF for header_value */
	int rc = parse_head(conn->buf, reply, &content_length, err);
	conn->buf[header_end - 2] = saved;
	if (rc < 0)
		return -1;
	reply->body = malloc(content_length + 1);
	if (reply->body == NULL)
		return veil_fail(err, ENOMEM, "KBS response");
	size_t extra = conn->held - header_end, take = extra < content_length ? extra : content_length;
	memcpy(reply->body, conn->buf + header_end, take);
	reply->len = take;
	memmove(conn->buf, conn->buf + header_end + take, extra - take);
	conn->held = extra - take;
	explicit_bzero(conn->buf + conn->held, header_end + take);
	if (recv_until(conn->t, reply->body, content_length, &reply->len, content_length, NULL, timeout_ms, err) < 0) {
		veil_kbs_http_reply_free(reply);
		return -1;
	}
	reply->body[content_length] = '\0';
	return 0;
}

int veil_kbs_http(const struct veil_kbs_transport *t, const char *method, const char *host, const char *path,
		  const char *cookie, const char *body, size_t body_len, int timeout_ms, struct veil_kbs_http_reply *reply,
		  veil_err_t *err)
{
	memset(reply, 0, sizeof(*reply));
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_TIMEOUT_MS;
	if (http_send(t, method, host, path, cookie, body, body_len, timeout_ms, err) < 0)
		return -1;
	cleanup_free struct http_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return veil_fail(err, ENOMEM, "KBS response");
	conn->t = t;
	if (http_recv(conn, timeout_ms, reply, err) < 0)
		return -1;
	/* One request at a time here: nothing may follow the response. */
	if (conn->held > 0) {
		explicit_bzero(conn->buf, conn->held);
		veil_kbs_http_reply_free(reply);
		return veil_fail(err, 0, "KBS response: more bytes than its Content-Length");
	}
	return 0;
}

void veil_kbs_http_reply_free(struct veil_kbs_http_reply *reply)
{
	if (reply->body != NULL)
		OPENSSL_cleanse(reply->body, reply->len);
	free(reply->body);
	memset(reply, 0, sizeof(*reply));
}

/* A non-200 answer as an error naming the step and the KBS's reason. */
static int refused(const char *step, const struct veil_kbs_http_reply *r, veil_err_t *err)
{
	char *kind = NULL, *detail = NULL;
	if (veil_kbs_error_parse(r->body, r->len, &kind, &detail, NULL) < 0)
		return veil_fail_tagged(err, EPERM, "KBS refused %s (HTTP %u) without an error body", step, r->status);
	veil_fail_tagged(err, EPERM, "KBS refused %s (%u %s): %s", step, r->status, kind, detail);
	free(kind);
	free(detail);
	return -1;
}

/* ---- RCAR ---- */

static int send_request(struct veil_kbs_client *c, const char *step, const char *method, const char *path,
			const char *body, veil_err_t *err)
{
	if (http_send(&c->t, method, c->host, path, c->cookie[0] ? c->cookie : NULL, body, body ? strlen(body) : 0,
		      c->timeout_ms, err) < 0)
		return veil_fail_context(err, "%s", step);
	return 0;
}

/* The answer to the oldest request sent and not answered yet, which must be 200. */
static int answer(struct veil_kbs_client *c, const char *step, struct veil_kbs_http_reply *r, veil_err_t *err)
{
	if (http_recv(&c->conn, c->timeout_ms, r, err) < 0)
		return veil_fail_context(err, "%s", step);
	if (r->status != 200) {
		refused(step, r, err);
		veil_kbs_http_reply_free(r);
		return -1;
	}
	return 0;
}

static int rcar(struct veil_kbs_client *c, const struct veil_kbs_client_opts *o, veil_err_t *err)
{
	enum veil_jwe_alg alg = o->alg ? o->alg : VEIL_JWE_ECDH_ES_A256KW;
	/* A fresh key per attestation, living as long as this session. It is
	 * made before the exchange starts, as guest-components does: an RSA key
	 * can take seconds on a loaded machine, long enough for a KBS to drop the
	 * connection as idle between auth and attest. */
	c->key = veil_jose_generate_key(alg, err);
	if (c->key == NULL)
		return -1;
	cleanup_free char *request = veil_kbs_request_build(o->tee, o->version);
	struct veil_kbs_http_reply r;
	if (request == NULL)
		return veil_fail(err, ENOMEM, "KBS request");
	if (send_request(c, "auth", "POST", "/kbs/v0/auth", request, err) < 0 || answer(c, "auth", &r, err) < 0)
		return -1;
	char nonce[VEIL_KBS_NONCE_MAX + 1];
	bool wants_tenancy = false;
	int rc = veil_kbs_challenge_parse(r.body, r.len, nonce, &wants_tenancy, err);
	if (rc == 0 && r.set_cookie[0] == '\0')
		rc = veil_fail(err, 0, "KBS auth: no %s cookie in the answer", VEIL_KBS_COOKIE);
	if (rc == 0)
		memcpy(c->cookie, r.set_cookie, sizeof(c->cookie));
	veil_kbs_http_reply_free(&r);
	if (rc < 0)
		return -1;
	cleanup_json json_object *jwk = veil_jwk_from_key(c->key, alg, err);
	uint8_t report_data[64];
	const struct veil_tenancy *tenancy = wants_tenancy ? o->tenancy : NULL;
	if (jwk == NULL || veil_kbs_report_data(o->version, nonce, jwk, tenancy, report_data, err) < 0)
		return -1;
	cleanup_json json_object *evidence = NULL;
	if (o->evidence(o->evidence_ctx, report_data, &evidence, err) < 0)
		return veil_fail_context(err, "evidence");
	cleanup_free char *att =
		veil_kbs_attestation_build(o->version, nonce, jwk, tenancy, evidence, o->init_data, o->init_data_len, err);
	if (att == NULL || send_request(c, "attest", "POST", "/kbs/v0/attest", att, err) < 0)
		return -1;
	/* The resources wanted go right behind the attestation (HTTP/1.1
	 * pipelining): the KBS answers in order, so they are read after it. */
	if (o->n_prefetch > 0 && (c->prefetched = calloc(o->n_prefetch, sizeof(*c->prefetched))) == NULL)
		return veil_fail(err, ENOMEM, "KBS client");
	for (size_t i = 0; i < o->n_prefetch; i++) {
		char url[512], step[300];
		if (snprintf(url, sizeof(url), "/kbs/v0/resource/%s", o->prefetch[i]) >= (int)sizeof(url))
			return veil_fail(err, ENAMETOOLONG, "resource %s", o->prefetch[i]);
		snprintf(step, sizeof(step), "resource %.200s", o->prefetch[i]);
		if (send_request(c, step, "GET", url, NULL, err) < 0)
			return -1;
	}
	if (answer(c, "attest", &r, err) < 0)
		return -1;
	rc = veil_kbs_token_parse(r.body, r.len, &c->token, err);
	veil_kbs_http_reply_free(&r);
	for (size_t i = 0; rc == 0 && i < o->n_prefetch; i++) {
		struct prefetched *p = &c->prefetched[c->n_prefetched++];
		p->path = o->prefetch[i];
		if (http_recv(&c->conn, c->timeout_ms, &p->reply, err) < 0)
			rc = veil_fail_context(err, "resource %.200s", p->path);
	}
	return rc;
}

int veil_kbs_client_attest(const struct veil_kbs_transport *t, const struct veil_kbs_client_opts *opts,
			   struct veil_kbs_client **client, veil_err_t *err)
{
	struct veil_kbs_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return veil_fail(err, ENOMEM, "KBS client");
	c->t = *t;
	c->conn.t = &c->t;
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	snprintf(c->host, sizeof(c->host), "%s", opts->host != NULL ? opts->host : "kbs");
	if (rcar(c, opts, err) < 0) {
		veil_kbs_client_free(c);
		return -1;
	}
	*client = c;
	return 0;
}

int veil_kbs_client_get_resource(struct veil_kbs_client *c, const char *path, uint8_t **data, size_t *len,
				 veil_err_t *err)
{
	char url[512];
	if (snprintf(url, sizeof(url), "/kbs/v0/resource/%s", path) >= (int)sizeof(url))
		return veil_fail(err, ENAMETOOLONG, "resource %s", path);
	char step[300];
	snprintf(step, sizeof(step), "resource %.200s", path);
	struct veil_kbs_http_reply r;
	struct prefetched *p = NULL;
	for (size_t i = 0; i < c->n_prefetched && p == NULL; i++)
		if (c->prefetched[i].path != NULL && strcmp(c->prefetched[i].path, path) == 0)
			p = &c->prefetched[i];
	if (p != NULL) {
		r = p->reply;
		p->path = NULL;
		memset(&p->reply, 0, sizeof(p->reply));
		if (r.status != 200) {
			refused(step, &r, err);
			veil_kbs_http_reply_free(&r);
			return -1;
		}
	} else if (send_request(c, step, "GET", url, NULL, err) < 0 || answer(c, step, &r, err) < 0) {
		return -1;
	}
	int rc = veil_jwe_decrypt(c->key, r.body, r.len, data, len, err);
	veil_kbs_http_reply_free(&r);
	return rc < 0 ? veil_fail_context(err, "%s", step) : 0;
}

const char *veil_kbs_client_token(const struct veil_kbs_client *c)
{
	return c->token;
}

void veil_kbs_client_free(struct veil_kbs_client *c)
{
	if (c == NULL)
		return;
	EVP_PKEY_free(c->key);
	free(c->token);
	for (size_t i = 0; i < c->n_prefetched; i++)
		veil_kbs_http_reply_free(&c->prefetched[i].reply);
	free(c->prefetched);
	explicit_bzero(c->conn.buf, sizeof(c->conn.buf));
	free(c);
}
