/* Host side of the agent protocol (docs/agent-protocol.md): requests, and
 * dispatch of the DATA / WINDOW / async RESPONSE frames that interleave. */
#ifndef VEIL_AGENT_CLIENT_H
#define VEIL_AGENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"
#include "proto/frame.h"
#include "proto/rpc.h"

struct veil_agent_events {
	void *opaque;
	void (*data)(void *opaque, uint32_t stream, const uint8_t *buf, size_t len, bool closed);
	void (*window)(void *opaque, uint32_t stream, uint32_t credit);
	/* A response to a request sent with veil_agent_send. */
	void (*response)(void *opaque, uint32_t request_id, const uint8_t *payload, size_t len);
};

struct veil_agent_client {
	int fd;
	int vm_pidfd;    /* readable when the VMM exits: stop waiting */
	int signal_fd;   /* readable on a signal the caller wants to act on; -1 for none */
	int pending_signal; /* set when signal_fd fired during a call */
	uint32_t next_request_id;
	uint32_t next_io_stream;
	struct veil_frame_reader reader;
	struct veil_agent_events events;
};

void veil_agent_client_init(struct veil_agent_client *c, int fd, int vm_pidfd, int signal_fd);
void veil_agent_client_release(struct veil_agent_client *c);
uint32_t veil_agent_new_io_stream(struct veil_agent_client *c);

/* Sends a request without waiting; its response reaches events.response. */
int veil_agent_send(struct veil_agent_client *c, enum veil_method m, const ProtobufCMessage *req, uint32_t *request_id,
		    veil_err_t *err);
/* Sends a request and waits up to timeout_ms for its response, dispatching
 * other frames meanwhile. *resp (free with protobuf_c_message_free_unpacked)
 * is the method's response message. An agent error becomes *err. */
int veil_agent_call(struct veil_agent_client *c, enum veil_method m, const ProtobufCMessage *req,
		    ProtobufCMessage **resp, int timeout_ms, veil_err_t *err);
/* The handshake: protocol check, fresh entropy for the guest RNG and the host's
 * clock. Repeated when a pre-booted VM is handed to a new tenant. */
int veil_agent_hello(struct veil_agent_client *c, int timeout_ms, veil_err_t *err);
/* The handshake alone, for a VM readied by one who keeps no client (a pooled
 * VM, a template); signal_fd as for veil_agent_client_init. */
int veil_agent_hello_once(int fd, int vm_pidfd, int signal_fd, int timeout_ms, veil_err_t *err);
/* Decodes a Response envelope for method m (for async responses). */
int veil_agent_decode_response(enum veil_method m, const uint8_t *payload, size_t len, ProtobufCMessage **resp,
			       int *code, veil_err_t *err);
/* Reads what is available on the channel and dispatches every whole frame. */
int veil_agent_pump(struct veil_agent_client *c, veil_err_t *err);
int veil_agent_send_data(struct veil_agent_client *c, uint32_t stream, const void *buf, size_t len, bool closed,
			 veil_err_t *err);

#endif
