/* A small ttrpc server and client: containerd's RPC between the daemon and
 * its shims. The framing is the agent channel's (proto/frame.h: 10-byte
 * header, odd client stream ids, 4 MiB bound) with only REQUEST and RESPONSE
 * frames, and the envelope is agent.proto's Request/Response, which is
 * field-compatible with ttrpc's.
 *
 * The server lives in its owner's poll loop and never blocks on a peer:
 * every connection's requests are read as they arrive and handed to one
 * handler, which answers at once or keeps the call and answers later (a
 * Wait answered when the process exits), and responses queue per connection
 * until the peer takes them. So a pending call holds up no other. */
#ifndef VEIL_SHIM_TTRPC_H
#define VEIL_SHIM_TTRPC_H

#include <poll.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "proto/frame.h"

#define VEIL_TTRPC_MAX_CONNS 64
/* Responses a peer has not read yet; a peer that lets more pile up is cut off. */
#define VEIL_TTRPC_MAX_QUEUED (16u << 20)
/* What one wakeup reads from one connection, so that one chatty peer cannot
 * starve the rest of the loop. */
#define VEIL_TTRPC_READ_BUDGET (1u << 20)

/* gRPC status codes (google.golang.org/grpc/codes), as containerd's errdefs reads them. */
enum veil_grpc_code {
	VEIL_GRPC_OK = 0,
	VEIL_GRPC_INVALID_ARGUMENT = 3,
	VEIL_GRPC_NOT_FOUND = 5,
	VEIL_GRPC_ALREADY_EXISTS = 6,
	VEIL_GRPC_RESOURCE_EXHAUSTED = 8,
	VEIL_GRPC_FAILED_PRECONDITION = 9,
	VEIL_GRPC_UNIMPLEMENTED = 12,
	VEIL_GRPC_INTERNAL = 13,
	VEIL_GRPC_UNAVAILABLE = 14,
};

/* A request being answered: its connection (by slot and generation, so that
 * an answer to a peer that has gone is dropped) and stream id. */
struct veil_ttrpc_call {
	uint32_t conn;
	uint32_t generation;
	uint32_t stream;
};

struct veil_ttrpc_server;
/* One request: payload is the method's message, valid during the call only.
 * The handler answers with veil_ttrpc_reply, now or later. */
typedef void (*veil_ttrpc_handler)(void *opaque, struct veil_ttrpc_server *s, const struct veil_ttrpc_call *call,
				   const char *service, const char *method, const uint8_t *payload, size_t len);

struct veil_ttrpc_conn {
	int fd; /* -1 when the slot is free */
	uint32_t generation;
	struct veil_frame_reader reader;
	uint8_t *out; /* responses not yet written */
	size_t out_len, out_cap;
};

struct veil_ttrpc_server {
	int listen_fd; /* -1: accepts nothing (tests adopt connections) */
	veil_ttrpc_handler handler;
	void *opaque;
	uint32_t next_generation;
	struct veil_ttrpc_conn conns[VEIL_TTRPC_MAX_CONNS];
};

#define VEIL_TTRPC_POLLFDS (1 + VEIL_TTRPC_MAX_CONNS)

/* listen_fd (non-blocking, SOCK_STREAM) becomes the server's. */
void veil_ttrpc_server_init(struct veil_ttrpc_server *s, int listen_fd, veil_ttrpc_handler handler, void *opaque);
/* Closes every connection and the listening socket. */
void veil_ttrpc_server_release(struct veil_ttrpc_server *s);
/* Serves an already-connected stream socket (it becomes the server's); -1
 * when every slot is taken. */
int veil_ttrpc_server_adopt(struct veil_ttrpc_server *s, int fd);
/* Fills the server's slots of the owner's poll set, then handles what poll
 * found there: accepts, reads and dispatches requests, flushes responses. */
void veil_ttrpc_server_poll_fds(const struct veil_ttrpc_server *s, struct pollfd pfds[VEIL_TTRPC_POLLFDS]);
void veil_ttrpc_server_poll_done(struct veil_ttrpc_server *s, const struct pollfd pfds[VEIL_TTRPC_POLLFDS]);
/* Connections open now. */
size_t veil_ttrpc_server_connections(const struct veil_ttrpc_server *s);

/* Answers call: with code VEIL_GRPC_OK the response message resp (NULL for
 * an empty one: google.protobuf.Empty), else the code and a one-line
 * message. Dropped if the connection has gone. */
void veil_ttrpc_reply(struct veil_ttrpc_server *s, const struct veil_ttrpc_call *call, int code, const char *message,
		      const ProtobufCMessage *resp);
/* Writes what is queued, as far as the peers take it now. */
void veil_ttrpc_server_flush(struct veil_ttrpc_server *s);

/* ---- client ---- */

struct veil_ttrpc_client {
	char *path;    /* the server's socket */
	int fd;        /* -1 until connected; reconnects after a failure */
	uint32_t next_stream;
	struct veil_frame_reader reader;
};

/* address: a socket path, or "unix://" followed by one. */
int veil_ttrpc_client_init(struct veil_ttrpc_client *c, const char *address, veil_err_t *err);
void veil_ttrpc_client_release(struct veil_ttrpc_client *c);
/* One call, waiting at most timeout_ms for the answer. On success *resp (if
 * resp_type is not NULL) is the decoded response, for
 * protobuf_c_message_free_unpacked(*resp, NULL). A failed call closes the
 * connection; the next one connects afresh. */
int veil_ttrpc_client_call(struct veil_ttrpc_client *c, const char *service, const char *method,
			   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_type,
			   ProtobufCMessage **resp, int timeout_ms, veil_err_t *err);

#endif
