/* The shim's ttrpc server and client: framing, envelopes, calls answered
 * later without holding up others, and peers that break the protocol. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "lib/control.h"
#include "proto/rpc.h"
#include "shim/ttrpc.h"
#include "tap.h"

#define SERVICE "veil.test.v1.Clock"

struct fixture {
	struct veil_ttrpc_server server;
	struct veil_ttrpc_call later; /* the call "Later" keeps, answered when the test says */
	bool have_later;
	int calls;
};

/* "Now" answers at once with a Timestamp whose seconds are the payload's
 * length; "Later" is kept; anything else is UNIMPLEMENTED. */
static void handler(void *opaque, struct veil_ttrpc_server *s, const struct veil_ttrpc_call *call,
		    const char *service, const char *method, const uint8_t *payload, size_t len)
{
	struct fixture *f = opaque;
	(void)payload;
	f->calls++;
	if (strcmp(service, SERVICE) != 0) {
		veil_ttrpc_reply(s, call, VEIL_GRPC_UNIMPLEMENTED, "unknown service", NULL);
	} else if (strcmp(method, "Now") == 0) {
		Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
		t.seconds = (int64_t)len;
		veil_ttrpc_reply(s, call, VEIL_GRPC_OK, NULL, &t.base);
	} else if (strcmp(method, "Later") == 0) {
		f->later = *call;
		f->have_later = true;
	} else {
		veil_ttrpc_reply(s, call, VEIL_GRPC_UNIMPLEMENTED, "unknown method", NULL);
	}
}

static void serve_once(struct fixture *f, int timeout_ms)
{
	struct pollfd pfds[VEIL_TTRPC_POLLFDS];
	veil_ttrpc_server_poll_fds(&f->server, pfds);
	if (poll(pfds, VEIL_TTRPC_POLLFDS, timeout_ms) > 0)
		veil_ttrpc_server_poll_done(&f->server, pfds);
}

static void send_request(int fd, uint32_t stream, const char *service, const char *method, const void *inner,
			 size_t inner_len)
{
	Veil__Agent__V1__Request req = VEIL__AGENT__V1__REQUEST__INIT;
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)inner;
	req.payload.len = inner_len;
	size_t len = protobuf_c_message_get_packed_size(&req.base);
	uint8_t *buf = malloc(len + 1);
	protobuf_c_message_pack(&req.base, buf);
	veil_frame_write(fd, VEIL_FRAME_REQUEST, 0, stream, buf, len);
	free(buf);
}

/* Reads one frame from fd (blocking, bounded by a receive timeout): 1, or 0 at EOF. */
static int read_frame(int fd, struct veil_frame_header *h, Veil__Agent__V1__Response **resp)
{
	uint8_t hdr[VEIL_FRAME_HEADER_LEN];
	size_t got = 0;
	while (got < sizeof(hdr)) {
		ssize_t n = read(fd, hdr + got, sizeof(hdr) - got);
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	if (veil_frame_header_decode(hdr, h) < 0)
		return 0;
	uint8_t *payload = malloc(h->length + 1);
	for (got = 0; got < h->length;) {
		ssize_t n = read(fd, payload + got, h->length - got);
		if (n <= 0) {
			free(payload);
			return 0;
		}
		got += (size_t)n;
	}
	*resp = veil__agent__v1__response__unpack(NULL, h->length, payload);
	free(payload);
	return *resp != NULL;
}

static int64_t timestamp_of(const Veil__Agent__V1__Response *r)
{
	Google__Protobuf__Timestamp *t = google__protobuf__timestamp__unpack(NULL, r->payload.len, r->payload.data);
	int64_t s = t ? t->seconds : -1;
	google__protobuf__timestamp__free_unpacked(t, NULL);
	return s;
}

static int adopt_pair(struct fixture *f, int *client)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*client = sv[0];
	return veil_ttrpc_server_adopt(&f->server, sv[1]);
}

static void test_calls_and_deferred_answers(void)
{
	struct fixture f = { 0 };
	veil_ttrpc_server_init(&f.server, -1, handler, &f);
	int c;
	CHECK(adopt_pair(&f, &c) == 0, "a connected socket is adopted");
	send_request(c, 1, SERVICE, "Later", NULL, 0);
	send_request(c, 3, SERVICE, "Now", "abcde", 5);
	send_request(c, 5, SERVICE, "Nope", NULL, 0);
	send_request(c, 7, "other.Service", "Now", NULL, 0);
	for (int i = 0; i < 10 && f.calls < 4; i++)
		serve_once(&f, 100);
	CHECK(f.calls == 4 && f.have_later, "four requests handled, the first kept for later");

	struct veil_frame_header h;
	Veil__Agent__V1__Response *r = NULL;
	CHECK(read_frame(c, &h, &r) && h.stream_id == 3 && h.type == VEIL_FRAME_RESPONSE && timestamp_of(r) == 5,
	      "a call after a pending one is answered first, on its own stream id");
	veil__agent__v1__response__free_unpacked(r, NULL);
	CHECK(read_frame(c, &h, &r) && h.stream_id == 5 && r->status && r->status->code == VEIL_GRPC_UNIMPLEMENTED &&
		      strcmp(r->status->message, "unknown method") == 0,
	      "an unknown method gets the handler's UNIMPLEMENTED");
	veil__agent__v1__response__free_unpacked(r, NULL);
	CHECK(read_frame(c, &h, &r) && h.stream_id == 7 && r->status->code == VEIL_GRPC_UNIMPLEMENTED,
	      "an unknown service too");
	veil__agent__v1__response__free_unpacked(r, NULL);

	Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	t.seconds = 42;
	veil_ttrpc_reply(&f.server, &f.later, VEIL_GRPC_OK, NULL, &t.base);
	CHECK(read_frame(c, &h, &r) && h.stream_id == 1 && (r->status == NULL || r->status->code == 0) &&
		      timestamp_of(r) == 42,
	      "the kept call is answered later on its stream id");
	veil__agent__v1__response__free_unpacked(r, NULL);

	/* A garbage envelope is answered, not fatal. */
	const uint8_t junk[] = { 0x0a, 0xff, 0xff };
	veil_frame_write(c, VEIL_FRAME_REQUEST, 0, 9, junk, sizeof(junk));
	serve_once(&f, 100);
	r = NULL;
	int got = read_frame(c, &h, &r);
	CHECK(got && h.stream_id == 9 && r->status->code == VEIL_GRPC_INVALID_ARGUMENT,
	      "a malformed envelope gets INVALID_ARGUMENT (%s)", got && r->status ? r->status->message : "-");
	veil__agent__v1__response__free_unpacked(r, NULL);

	/* The peer goes; an answer for it is dropped. */
	send_request(c, 11, SERVICE, "Later", NULL, 0);
	serve_once(&f, 100);
	close(c);
	for (int i = 0; i < 5 && veil_ttrpc_server_connections(&f.server) > 0; i++)
		serve_once(&f, 100);
	CHECK(veil_ttrpc_server_connections(&f.server) == 0, "a peer that closes is forgotten");
	veil_ttrpc_reply(&f.server, &f.later, VEIL_GRPC_OK, NULL, NULL);
	CHECK(1, "answering a call whose peer has gone is harmless");
	veil_ttrpc_server_release(&f.server);
}

/* A frame that is not a request, or a header past the bound, ends the connection. */
static void test_protocol_errors(void)
{
	static const struct {
		uint8_t type;
		uint32_t stream, length;
		const char *what;
	} bad[] = {
		{ VEIL_FRAME_DATA, 2, 0, "a DATA frame" },
		{ VEIL_FRAME_RESPONSE, 1, 0, "a RESPONSE frame" },
		{ VEIL_FRAME_REQUEST, 2, 0, "a request on an even stream id" },
		{ VEIL_FRAME_REQUEST, 1, VEIL_FRAME_MAX_PAYLOAD + 1, "a length past 4 MiB" },
		{ 7, 1, 0, "an unknown frame type" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fixture f = { 0 };
		veil_ttrpc_server_init(&f.server, -1, handler, &f);
		int c;
		adopt_pair(&f, &c);
		uint8_t hdr[VEIL_FRAME_HEADER_LEN];
		struct veil_frame_header h = { .length = bad[i].length, .stream_id = bad[i].stream, .type = bad[i].type };
		veil_frame_header_encode(&h, hdr);
		(void)!write(c, hdr, sizeof(hdr));
		serve_once(&f, 100);
		uint8_t byte;
		CHECK(veil_ttrpc_server_connections(&f.server) == 0 && read(c, &byte, 1) == 0 && f.calls == 0,
		      "%s closes the connection without a call", bad[i].what);
		close(c);
		veil_ttrpc_server_release(&f.server);
	}
}

/* The client against the server on a real socket, the server in a thread. */
static atomic_bool stop_serving;
static void *serve_thread(void *arg)
{
	struct fixture *f = arg;
	while (!atomic_load(&stop_serving))
		serve_once(f, 20);
	return NULL;
}

static void test_client(void)
{
	char dir[] = "/tmp/veil-ttrpc-XXXXXX";
	if (mkdtemp(dir) == NULL)
		return;
	char path[128];
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	veil_err_t err = NULL;
	int lfd = veil_unix_listen(path, SOCK_STREAM, &err);
	CHECK(lfd >= 0, "a stream socket listens");
	struct fixture f = { 0 };
	veil_ttrpc_server_init(&f.server, lfd, handler, &f);
	pthread_t t;
	pthread_create(&t, NULL, serve_thread, &f);

	struct veil_ttrpc_client c;
	char address[160];
	snprintf(address, sizeof(address), "unix://%s", path);
	CHECK(veil_ttrpc_client_init(&c, address, &err) == 0, "a unix:// address is accepted");
	Google__Protobuf__Timestamp req = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	req.seconds = 1000; /* packs to 3 bytes */
	ProtobufCMessage *resp = NULL;
	int rc = veil_ttrpc_client_call(&c, SERVICE, "Now", &req.base, &google__protobuf__timestamp__descriptor, &resp,
					2000, &err);
	CHECK(rc == 0 && resp && ((Google__Protobuf__Timestamp *)resp)->seconds == 3, "a call gets its answer");
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	rc = veil_ttrpc_client_call(&c, SERVICE, "Nope", NULL, NULL, NULL, 2000, &err);
	CHECK(rc < 0 && strstr(err->msg, "unknown method") && strstr(err->msg, "code 12"),
	      "an error status becomes the error (%s)", rc < 0 ? err->msg : "-");
	veil_error_free(&err);
	rc = veil_ttrpc_client_call(&c, SERVICE, "Later", NULL, NULL, NULL, 300, &err);
	CHECK(rc < 0 && err && err->errnum == ETIMEDOUT, "an unanswered call times out");
	veil_error_free(&err);
	rc = veil_ttrpc_client_call(&c, SERVICE, "Now", NULL, &google__protobuf__timestamp__descriptor, &resp, 2000,
				    &err);
	CHECK(rc == 0, "after a timeout the client reconnects and calls again");
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	veil_ttrpc_client_release(&c);

	CHECK(veil_ttrpc_client_init(&c, "tcp://1.2.3.4:5", &err) < 0, "a non-unix address is refused");
	veil_error_free(&err);
	veil_ttrpc_client_release(&c);

	atomic_store(&stop_serving, true);
	pthread_join(t, NULL);
	veil_ttrpc_server_release(&f.server);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_calls_and_deferred_answers();
	test_protocol_errors();
	test_client();
	return tap_done();
}
