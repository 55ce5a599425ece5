/* Feeds arbitrary bytes through the frame reader and both envelope decoders:
 * the agent decodes requests from an untrusted host, the host decodes
 * responses from an untrusted guest, spans included. Seeds: tests/fuzz/corpus/fuzz_frame. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hv/agent_client.h"
#include "lib/trace.h"
#include "proto/frame.h"
#include "proto/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct veil_frame_reader r;
	veil_frame_reader_init(&r);
	/* The guest's spans in responses go to the trace, which places and names them. */
	veil_trace_enable(NULL);
	veil_trace_start("fuzz");
	/* Split the input in uneven chunks to exercise reassembly. */
	size_t off = 0, step = 1;
	while (off < size) {
		size_t room;
		uint8_t *space = veil_frame_reader_space(&r, &room);
		if (space == NULL)
			break;
		size_t n = size - off < step ? size - off : step;
		n = n < room ? n : room;
		memcpy(space, data + off, n);
		veil_frame_reader_commit(&r, n);
		off += n;
		step = step * 3 + 1;
		struct veil_frame_header h;
		const uint8_t *payload;
		int rc;
		while ((rc = veil_frame_reader_next(&r, &h, &payload)) == 1) {
			if (h.type == VEIL_FRAME_REQUEST) {
				int method, code;
				char why[160];
				ProtobufCMessage *m =
					veil_rpc_unpack_request(NULL, payload, h.length, &method, &code, why, sizeof(why));
				if (m)
					protobuf_c_message_free_unpacked(m, NULL);
			} else if (h.type == VEIL_FRAME_RESPONSE) {
				for (int m = 0; m < VEIL_METHOD_COUNT; m++) {
					ProtobufCMessage *resp = NULL;
					int code;
					veil_err_t err = NULL;
					if (veil_agent_decode_response((enum veil_method)m, payload, h.length, &resp, &code,
								       &err) == 0)
						protobuf_c_message_free_unpacked(resp, NULL);
					veil_error_free(&err);
				}
			}
		}
		if (rc < 0)
			break;
	}
	veil_frame_reader_release(&r);
	veil_trace_finish("fuzz", "input");
	return 0;
}
