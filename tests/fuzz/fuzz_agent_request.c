/* libFuzzer target: arbitrary bytes from the host, through the agent's whole
 * input path up to the point where requests act: the frame reader, the
 * envelope and payload decoding (with the agent's wiping allocator, within
 * the decode budget, refusing unknown fields), and validation of every
 * request field. The method comes from the envelope's method name, so every
 * method is reachable, Scrub included. Seeds: tests/fuzz/corpus/fuzz_agent_request. */
#include <stdint.h>
#include <string.h>

#include "agent/validate.h"
#include "agent/wipe.h"
#include "fuzz_frames.h"
#include "proto/frame.h"
#include "proto/rpc.h"

static void handle(const struct veil_frame_header *h, const uint8_t *payload)
{
	if (h->type != VEIL_FRAME_REQUEST)
		return;
	int method, code;
	char why[160] = "";
	ProtobufCMessage *msg =
		veil_rpc_unpack_request(&agent_wipe_allocator, payload, h->length, &method, &code, why, sizeof(why));
	if (msg == NULL) {
		if (why[0] == '\0' || code == VEIL_RPC_OK)
			__builtin_trap(); /* a refused request gets a reason and an error code */
		return;
	}
	veil_err_t err = NULL;
	if (agent_validate_request(method, msg, &code, &err) < 0 && (err == NULL || code == VEIL_RPC_OK))
		__builtin_trap(); /* a rejection always has a reason and an error code */
	veil_error_free(&err);
	protobuf_c_message_free_unpacked(msg, &agent_wipe_allocator);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_frames(data, size, handle);
	return 0;
}
