#include "rpc.h"

#include <stdlib.h>
#include <string.h>

#include "frame.h"

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

uint8_t *veil_rpc_pack_request(enum veil_method m, const ProtobufCMessage *inner, int64_t timeout_ns, size_t *len)
{
	size_t inner_len;
	uint8_t *payload = pack_message(inner, &inner_len);
	if (payload == NULL)
		return NULL;
	Veil__Agent__V1__Request req = VEIL__AGENT__V1__REQUEST__INIT;
	req.service = (char *)VEIL_AGENT_SERVICE;
	req.method = (char *)veil_method_name(m);
	req.payload.data = payload;
	req.payload.len = inner_len;
	req.timeout_nano = timeout_ns;
	uint8_t *out = pack_message(&req.base, len);
	free(payload);
	return out;
}

uint8_t *veil_rpc_pack_response(int32_t code, const char *message, const ProtobufCMessage *inner, size_t *len)
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
	uint8_t *out = pack_message(&resp.base, len);
	free(payload);
	return out;
}

ProtobufCMessage *veil_rpc_unpack_request(ProtobufCAllocator *allocator, const uint8_t *buf, size_t len,
					       int *method, int *code, const char **why)
{
	*method = -1;
	*code = VEIL_RPC_INVALID_ARGUMENT;
	if (len > VEIL_FRAME_MAX_PAYLOAD) {
		*why = "request too large";
		return NULL;
	}
	Veil__Agent__V1__Request *req = veil__agent__v1__request__unpack(allocator, len, buf);
	if (req == NULL) {
		*why = "malformed request envelope";
		return NULL;
	}
	ProtobufCMessage *inner = NULL;
	if (strcmp(req->service, VEIL_AGENT_SERVICE) != 0) {
		*code = VEIL_RPC_UNIMPLEMENTED;
		*why = "unknown service";
	} else if ((*method = veil_method_lookup(req->method)) < 0) {
		*code = VEIL_RPC_UNIMPLEMENTED;
		*why = "unknown method";
	} else {
		inner = protobuf_c_message_unpack(methods[*method].request, allocator, req->payload.len,
						  req->payload.data);
		if (inner == NULL)
			*why = "malformed request payload";
	}
	veil__agent__v1__request__free_unpacked(req, allocator);
	return inner;
}
