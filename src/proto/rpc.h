/* The ttrpc envelope around veil.agent.v1.Agent messages. */
#ifndef VEIL_PROTO_RPC_H
#define VEIL_PROTO_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"

enum veil_method {
	VEIL_METHOD_HELLO,
	VEIL_METHOD_CREATE_CONTAINER,
	VEIL_METHOD_EXEC_PROCESS,
	VEIL_METHOD_WAIT_PROCESS,
	VEIL_METHOD_SIGNAL_PROCESS,
	VEIL_METHOD_RESIZE_TERMINAL,
	VEIL_METHOD_DESTROY_CONTAINER,
	VEIL_METHOD_SHUTDOWN,
	VEIL_METHOD_CONFIGURE_INTERFACE,
	VEIL_METHOD_SCRUB,
	VEIL_METHOD_LIST_PROCESSES,
	VEIL_METHOD_UPDATE_CONTAINER,
	VEIL_METHOD_STATS_CONTAINER,
	VEIL_METHOD_GET_OOM_EVENT,
	VEIL_METHOD_FREEZE_CONTAINER,
	VEIL_METHOD_COUNT
};

/* gRPC status codes carried in Response.status.code. */
enum veil_rpc_code {
	VEIL_RPC_OK = 0,
	VEIL_RPC_INVALID_ARGUMENT = 3,
	VEIL_RPC_NOT_FOUND = 5,
	VEIL_RPC_ALREADY_EXISTS = 6,
	VEIL_RPC_PERMISSION_DENIED = 7,
	VEIL_RPC_RESOURCE_EXHAUSTED = 8,
	VEIL_RPC_FAILED_PRECONDITION = 9,
	VEIL_RPC_UNIMPLEMENTED = 12,
	VEIL_RPC_INTERNAL = 13,
};

const char *veil_method_name(enum veil_method m);
/* Request.method string -> method, or -1 if unknown. */
int veil_method_lookup(const char *name);
/* Descriptor of the method's request / response message. */
const ProtobufCMessageDescriptor *veil_method_request_descriptor(enum veil_method m);
const ProtobufCMessageDescriptor *veil_method_response_descriptor(enum veil_method m);

/* Serialize an envelope around `inner` (may be NULL for an empty payload).
 * Returns a malloc'd buffer, or NULL if it would exceed VEIL_FRAME_MAX_PAYLOAD. */
uint8_t *veil_rpc_pack_request(enum veil_method m, const ProtobufCMessage *inner, int64_t timeout_ns, size_t *len);
/* The same envelope for any ttrpc service and method (the shim's ttrpc). */
uint8_t *veil_rpc_pack_envelope(const char *service, const char *method, const ProtobufCMessage *inner,
				int64_t timeout_ns, size_t *len);
uint8_t *veil_rpc_pack_response(int32_t code, const char *message, const ProtobufCMessage *inner, size_t *len);
/* The same with the agent's spans of the request (Response.spans). */
uint8_t *veil_rpc_pack_traced_response(int32_t code, const char *message, const ProtobufCMessage *inner,
				       Veil__Agent__V1__Span **spans, size_t n_spans, size_t *len);

/* What decoding one request may allocate in all: a few times its size on the
 * wire, plus room for the fields of a legitimate request, whose number the
 * agent's limits bound (about 10000; protobuf-c keeps 32 bytes per field
 * while it scans a message, then a struct per submessage). Empty repeated
 * messages or unknown fields cost two wire bytes each but tens of bytes
 * decoded; past this budget the request is refused instead of running the
 * guest out of memory. */
#define VEIL_RPC_DECODE_FACTOR 4u
#define VEIL_RPC_DECODE_SLACK (1u << 20)

/* Decode and check an envelope: service must be VEIL_AGENT_SERVICE, the
 * method known, and neither the envelope nor the message may carry a field
 * this protocol does not define. Returns the inner message, or NULL with *code
 * and why (one line, at most why_size bytes) describing the rejection. *method is set when known. Every block of
 * the envelope and of the message comes from allocator (NULL: malloc), within
 * a budget of VEIL_RPC_DECODE_FACTOR * len + VEIL_RPC_DECODE_SLACK bytes; free
 * the message with protobuf_c_message_free_unpacked and the same allocator.
 * The agent passes one that wipes what it frees. */
ProtobufCMessage *veil_rpc_unpack_request(ProtobufCAllocator *allocator, const uint8_t *buf, size_t len,
					  int *method, int *code, char *why, size_t why_size);

/* Unpacks one message of type d within the same budget as a request, and
 * with strict, refusing a field d (or a message inside it) does not define.
 * NULL with why on failure; free it with protobuf_c_message_free_unpacked(msg,
 * NULL). */
ProtobufCMessage *veil_rpc_unpack_message(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
					  bool strict, char *why, size_t why_size);

#endif
