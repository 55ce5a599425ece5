#include "proto/rpc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

struct method_entry {
	const char *name;
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *response;
};

static const struct method_entry methods[VEIL_METHOD_COUNT] = {
	[VEIL_METHOD_HELLO] = { "Hello", &veil__agent__v1__hello_request__descriptor,
				&veil__agent__v1__hello_response__descriptor },
	[VEIL_METHOD_CREATE_CONTAINER] = { "CreateContainer", &veil__agent__v1__create_container_request__descriptor,
					   &veil__agent__v1__create_container_response__descriptor },
	[VEIL_METHOD_EXEC_PROCESS] = { "ExecProcess", &veil__agent__v1__exec_process_request__descriptor,
				       &veil__agent__v1__exec_process_response__descriptor },
	[VEIL_METHOD_WAIT_PROCESS] = { "WaitProcess", &veil__agent__v1__wait_process_request__descriptor,
				       &veil__agent__v1__wait_process_response__descriptor },
	[VEIL_METHOD_SIGNAL_PROCESS] = { "SignalProcess", &veil__agent__v1__signal_process_request__descriptor,
					 &veil__agent__v1__signal_process_response__descriptor },
	[VEIL_METHOD_RESIZE_TERMINAL] = { "ResizeTerminal", &veil__agent__v1__resize_terminal_request__descriptor,
					  &veil__agent__v1__resize_terminal_response__descriptor },
	[VEIL_METHOD_DESTROY_CONTAINER] = { "DestroyContainer",
					    &veil__agent__v1__destroy_container_request__descriptor,
					    &veil__agent__v1__destroy_container_response__descriptor },
	[VEIL_METHOD_SHUTDOWN] = { "Shutdown", &veil__agent__v1__shutdown_request__descriptor,
				   &veil__agent__v1__shutdown_response__descriptor },
	[VEIL_METHOD_CONFIGURE_INTERFACE] = { "ConfigureInterface",
					      &veil__agent__v1__configure_interface_request__descriptor,
					      &veil__agent__v1__configure_interface_response__descriptor },
	[VEIL_METHOD_SCRUB] = { "Scrub", &veil__agent__v1__scrub_request__descriptor,
				&veil__agent__v1__scrub_response__descriptor },
	[VEIL_METHOD_LIST_PROCESSES] = { "ListProcesses", &veil__agent__v1__list_processes_request__descriptor,
					 &veil__agent__v1__list_processes_response__descriptor },
	[VEIL_METHOD_UPDATE_CONTAINER] = { "UpdateContainer", &veil__agent__v1__update_container_request__descriptor,
					   &veil__agent__v1__update_container_response__descriptor },
	[VEIL_METHOD_STATS_CONTAINER] = { "StatsContainer", &veil__agent__v1__stats_container_request__descriptor,
					  &veil__agent__v1__stats_container_response__descriptor },
	[VEIL_METHOD_GET_OOM_EVENT] = { "GetOOMEvent", &veil__agent__v1__get_oomevent_request__descriptor,
					&veil__agent__v1__get_oomevent_response__descriptor },
	[VEIL_METHOD_FREEZE_CONTAINER] = { "FreezeContainer", &veil__agent__v1__freeze_container_request__descriptor,
					   &veil__agent__v1__freeze_container_response__descriptor },
};

const char *veil_method_name(enum veil_method m)
{
	return (unsigned)m < VEIL_METHOD_COUNT ? methods[m].name : "?";
}

int veil_method_lookup(const char *name)
{
	for (int i = 0; i < VEIL_METHOD_COUNT; i++)
		if (strcmp(methods[i].name, name) == 0)
			return i;
	return -1;
}

const ProtobufCMessageDescriptor *veil_method_request_descriptor(enum veil_method m)
{
	return methods[m].request;
}

const ProtobufCMessageDescriptor *veil_method_response_descriptor(enum veil_method m)
{
	return methods[m].response;
}

/* Packs msg into a fresh buffer (NULL packs to zero bytes). NULL if over the frame bound. */
static uint8_t *pack_message(const ProtobufCMessage *msg, size_t *len)
{
	*len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	if (*len > VEIL_FRAME_MAX_PAYLOAD)
		return NULL;
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf != NULL && msg != NULL)
		protobuf_c_message_pack(msg, buf);
	return buf;
}

/* A packed inner message is copied into its envelope, then freed: wiped
 * first, as it may hold what the guest must not keep (a tenant's env, a secret). */
static void free_packed(uint8_t *buf, size_t len)
{
	explicit_bzero(buf, len);
	free(buf);
}

uint8_t *veil_rpc_pack_request(enum veil_method m, const ProtobufCMessage *inner, int64_t timeout_ns, size_t *len)
{
	return veil_rpc_pack_envelope(VEIL_AGENT_SERVICE, veil_method_name(m), inner, timeout_ns, len);
}

uint8_t *veil_rpc_pack_envelope(const char *service, const char *method, const ProtobufCMessage *inner,
				int64_t timeout_ns, size_t *len)
{
	size_t inner_len;
	uint8_t *payload = pack_message(inner, &inner_len);
	if (payload == NULL)
		return NULL;
	Veil__Agent__V1__Request req = VEIL__AGENT__V1__REQUEST__INIT;
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = payload;
	req.payload.len = inner_len;
	req.timeout_nano = timeout_ns;
	uint8_t *out = pack_message(&req.base, len);
	free_packed(payload, inner_len);
	return out;
}

uint8_t *veil_rpc_pack_response(int32_t code, const char *message, const ProtobufCMessage *inner, size_t *len)
{
	return veil_rpc_pack_traced_response(code, message, inner, NULL, 0, len);
}

uint8_t *veil_rpc_pack_traced_response(int32_t code, const char *message, const ProtobufCMessage *inner,
				       Veil__Agent__V1__Span **spans, size_t n_spans, size_t *len)
{
	size_t inner_len;
	uint8_t *payload = pack_message(code == VEIL_RPC_OK ? inner : NULL, &inner_len);
	if (payload == NULL)
		return NULL;
	Veil__Agent__V1__Status status = VEIL__AGENT__V1__STATUS__INIT;
	status.code = code;
	status.message = (char *)(message ? message : "");
	Veil__Agent__V1__Response resp = VEIL__AGENT__V1__RESPONSE__INIT;
	resp.status = &status;
	resp.payload.data = payload;
	resp.payload.len = inner_len;
	resp.spans = spans;
	resp.n_spans = n_spans;
	uint8_t *out = pack_message(&resp.base, len);
	free_packed(payload, inner_len);
	return out;
}

/* Caps what one request's decoding allocates (VEIL_RPC_DECODE_*). Blocks are
 * the inner allocator's (malloc without one), so they are freed as usual. */
struct decode_budget {
	ProtobufCAllocator *inner;
	size_t left;
	bool exhausted;
};

static void *budget_alloc(void *data, size_t size)
{
	struct decode_budget *b = data;
	if (size > b->left) {
		b->exhausted = true;
		return NULL;
	}
	b->left -= size;
	return b->inner ? b->inner->alloc(b->inner->allocator_data, size) : malloc(size);
}

static void budget_free(void *data, void *p)
{
	struct decode_budget *b = data;
	if (b->inner)
		b->inner->free(b->inner->allocator_data, p);
	else
		free(p);
}

/* The first field, in msg or any message inside it, that the parser did not
 * recognise: protobuf-c keeps those instead of rejecting them. */
static const ProtobufCMessage *with_unknown_field(const ProtobufCMessage *msg)
{
	if (msg->n_unknown_fields > 0)
		return msg;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const uint8_t *at = (const uint8_t *)msg + f->offset;
		size_t n = 1;
		ProtobufCMessage *const *subs = (ProtobufCMessage *const *)at;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)((const uint8_t *)msg + f->quantifier_offset);
			subs = *(ProtobufCMessage *const *const *)at;
		}
		for (size_t k = 0; k < n; k++) {
			const ProtobufCMessage *found = subs[k] ? with_unknown_field(subs[k]) : NULL;
			if (found != NULL)
				return found;
		}
	}
	return NULL;
}

/* Unpacks one message within the budget, refusing unknown fields when
 * strict; NULL with why set on failure. */
static ProtobufCMessage *unpack_checked(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *budget,
				       const uint8_t *buf, size_t len, bool strict, char *why, size_t why_size)
{
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, budget, len, buf);
	if (msg == NULL) {
		const struct decode_budget *b = budget->allocator_data;
		if (b->exhausted)
			snprintf(why, why_size, "request decodes to more than %u times its size", VEIL_RPC_DECODE_FACTOR);
		else
			snprintf(why, why_size, "malformed %s", d->name);
		return NULL;
	}
	const ProtobufCMessage *odd = strict ? with_unknown_field(msg) : NULL;
	if (odd != NULL) {
		snprintf(why, why_size, "request has an unknown field %u in %s", odd->unknown_fields[0].tag,
			 odd->descriptor->name);
		protobuf_c_message_free_unpacked(msg, budget);
		return NULL;
	}
	return msg;
}

ProtobufCMessage *veil_rpc_unpack_request(ProtobufCAllocator *allocator, const uint8_t *buf, size_t len,
					       int *method, int *code, char *why, size_t why_size)
{
	*method = -1;
	*code = VEIL_RPC_INVALID_ARGUMENT;
	if (len > VEIL_FRAME_MAX_PAYLOAD) {
		snprintf(why, why_size, "request too large");
		return NULL;
	}
	struct decode_budget b = { .inner = allocator, .left = VEIL_RPC_DECODE_FACTOR * len + VEIL_RPC_DECODE_SLACK };
	ProtobufCAllocator budget = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };
	ProtobufCMessage *env =
		unpack_checked(&veil__agent__v1__request__descriptor, &budget, buf, len, true, why, why_size);
	if (env == NULL)
		return NULL;
	const Veil__Agent__V1__Request *req = (const Veil__Agent__V1__Request *)env;
	ProtobufCMessage *inner = NULL;
	if (strcmp(req->service, VEIL_AGENT_SERVICE) != 0) {
		*code = VEIL_RPC_UNIMPLEMENTED;
		snprintf(why, why_size, "unknown service");
	} else if ((*method = veil_method_lookup(req->method)) < 0) {
		*code = VEIL_RPC_UNIMPLEMENTED;
		snprintf(why, why_size, "unknown method");
	} else {
		inner = unpack_checked(methods[*method].request, &budget, req->payload.data, req->payload.len, true,
				       why, why_size);
	}
	protobuf_c_message_free_unpacked(env, &budget);
	return inner;
}

ProtobufCMessage *veil_rpc_unpack_message(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
					  bool strict, char *why, size_t why_size)
{
	if (len > VEIL_FRAME_MAX_PAYLOAD) {
		snprintf(why, why_size, "message too large");
		return NULL;
	}
	struct decode_budget b = { .left = VEIL_RPC_DECODE_FACTOR * len + VEIL_RPC_DECODE_SLACK };
	ProtobufCAllocator budget = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };
	return unpack_checked(d, &budget, buf, len, strict, why, why_size);
}
