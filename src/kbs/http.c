#include "kbs/kbs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "lib/log.h"

#define PREFIX "/kbs/v0/"
#define RESOURCE_PREFIX PREFIX "resource/"
#define HEADER_MEMORY (32u << 10) /* request line and headers of one connection */
#define THREADS 4

/* One request's body as it arrives, bounded by what its endpoint accepts. */
struct upload {
	char *buf;
	size_t len, max;
	int endpoint;
	bool too_large;
	bool answered;                   /* refused up front: drop whatever follows */
};

enum endpoint { AUTH, ATTEST, RESOURCE };

/* Which endpoint url names, or -1 with the refusal's status and reason. */
static int route(const char *url, const char *method, unsigned *status, const char **why)
{
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0, get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	int e = strcmp(url, PREFIX "auth") == 0			       ? AUTH
		: strcmp(url, PREFIX "attest") == 0			       ? ATTEST
		: strncmp(url, RESOURCE_PREFIX, strlen(RESOURCE_PREFIX)) == 0 ? RESOURCE
									       : -1;
	if (e < 0) {
		*status = 404;
		*why = "no such endpoint (/kbs/v0/auth, /kbs/v0/attest, /kbs/v0/resource/REPO/TYPE/TAG)";
	} else if ((e == RESOURCE && !get) || (e != RESOURCE && !post)) {
		*status = 405;
		*why = "auth and attest take POST, resource takes GET";
		e = -1;
	}
	return e;
}

static size_t body_limit(int endpoint)
{
	return endpoint == AUTH ? VEIL_KBS_MAX_REQUEST : endpoint == ATTEST ? VEIL_KBS_MAX_ATTESTATION : 0;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct kbs *kbs, struct kbs_response *r)
{
	const char *body = r->body != NULL ? r->body : "";
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (r->set_cookie[0] != '\0') {
		char cookie[128];
		snprintf(cookie, sizeof(cookie), "%s=%s; Max-Age=%u; Path=/; HttpOnly", VEIL_KBS_COOKIE, r->set_cookie,
			 kbs->cfg.session_timeout);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	}
	enum MHD_Result rc = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result refuse(struct MHD_Connection *c, struct kbs *kbs, unsigned status, const char *kind,
			      const char *detail)
{
	struct kbs_response r = { 0 };
	log_warn("http: refused (%u %s): %s", status, kind, detail);
	kbs_respond_error(&r, status, kind, detail);
	enum MHD_Result rc = send_response(c, kbs, &r);
	kbs_response_free(&r);
	return rc;
}

static enum MHD_Result dispatch(struct MHD_Connection *c, struct kbs *kbs, const char *url, struct upload *u)
{
	const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, VEIL_KBS_COOKIE);
	struct kbs_response r = { 0 };
	if (u->endpoint == AUTH)
		kbs_handle_auth(kbs, u->buf, u->len, &r);
	else if (u->endpoint == ATTEST)
		kbs_handle_attest(kbs, cookie, u->buf, u->len, &r);
	else
		kbs_handle_resource(kbs, cookie, url + strlen(RESOURCE_PREFIX), &r);
	enum MHD_Result rc = send_response(c, kbs, &r);
	kbs_response_free(&r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *data, size_t *data_size, void **con_cls)
{
	(void)version;
	struct kbs *kbs = cls;
	struct upload *u = *con_cls;
	if (u == NULL) {
		u = calloc(1, sizeof(*u));
		if (u == NULL)
			return MHD_NO;
		*con_cls = u;
		unsigned status;
		const char *why;
		u->endpoint = route(url, method, &status, &why);
		if (u->endpoint < 0) {
			u->answered = true;
			return refuse(c, kbs, status, status == 404 ? "InvalidRequestPath" : "MethodNotAllowed", why);
		}
		u->max = body_limit(u->endpoint);
		/* Refuse an announced oversize body before reading any of it. */
		const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length != NULL && strtoull(length, NULL, 10) > u->max) {
			u->answered = true;
			char detail[96];
			snprintf(detail, sizeof(detail), "request body of %s bytes, at most %zu here", length, u->max);
			return refuse(c, kbs, 413, "PayloadTooLarge", detail);
		}
		return MHD_YES;
	}
	if (u->answered) {
		*data_size = 0;
		return MHD_YES;
	}
	if (*data_size > 0) {
		if (!u->too_large && u->len + *data_size <= u->max) {
			char *grown = realloc(u->buf, u->len + *data_size + 1);
			if (grown == NULL)
				return MHD_NO;
			u->buf = grown;
			memcpy(u->buf + u->len, data, *data_size);
			u->len += *data_size;
		} else {
			u->too_large = true;
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (u->too_large) {
		char detail[64];
		snprintf(detail, sizeof(detail), "request body larger than %zu bytes", u->max);
		return refuse(c, kbs, 413, "PayloadTooLarge", detail);
	}
	return dispatch(c, kbs, url, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	struct upload *u = *con_cls;
	if (u != NULL) {
		free(u->buf);
		free(u);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

struct MHD_Daemon *kbs_http_start(struct kbs *kbs, veil_err_t *err)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, kbs->cfg.listen_host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(kbs->cfg.port);
	} else {
		inet_pton(AF_INET6, kbs->cfg.listen_host, &v6->sin6_addr);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(kbs->cfg.port);
		flags |= MHD_USE_IPv6;
	}
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, kbs->cfg.port, NULL, NULL, on_request, kbs, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS, MHD_OPTION_CONNECTION_LIMIT, kbs->cfg.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, kbs->cfg.connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		NULL, MHD_OPTION_END);
	if (d == NULL)
		veil_fail(err, errno, "listening on %s port %u", kbs->cfg.listen_host, kbs->cfg.port);
	return d;
}

void kbs_http_stop(struct MHD_Daemon *d)
{
	MHD_stop_daemon(d);
}
