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
	/* The first byte picks a read size, so that frames split across reads are covered. */
	size_t step = size > 0 ? (size_t)data[0] * 7 + 1 : 1;
	struct veil_frame_reader r;
	veil_frame_reader_init(&r);
	for (size_t off = size > 0 ? 1 : 0; off < size;) {
		size_t room;
		uint8_t *space = veil_frame_reader_space(&r, &room);
		if (space == NULL)
			break;
		size_t n = size - off < room ? size - off : room;
		if (n > step)
			n = step;
		memcpy(space, data + off, n);
		veil_frame_reader_commit(&r, n);
		off += n;
		struct veil_frame_header h;
		const uint8_t *payload;
		int rc;
		while ((rc = veil_frame_reader_next(&r, &h, &payload)) == 1)
			handle(&h, payload);
		if (rc < 0)
			break; /* the agent stops reading a broken stream */
	}
	veil_frame_reader_release(&r);
	return 0;
}
