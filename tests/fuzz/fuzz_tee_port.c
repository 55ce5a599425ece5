/* libFuzzer target for the TEE port (proto/tee.h), whose bytes each side
 * takes from the other: the input is a byte stream cut into frames as both
 * ends read it (fuzz_frames.h), each REQUEST payload decoded as the host's
 * TEE service does and each RESPONSE payload as the guest does, for every op. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_frames.h"
#include "proto/frame.h"
#include "proto/tee.h"

static void check_response(enum veil_tee_op op, const uint8_t *payload, size_t len)
{
	struct veil_tee_response resp;
	const char *why = NULL;
	if (veil_tee_response_decode(op, payload, len, &resp, &why) < 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (resp.data != payload + 1 || resp.len != len - 1)
		abort();
	if (resp.ok && op == VEIL_TEE_OP_REPORT &&
	    (resp.report != resp.data || resp.cert_len == 0 || resp.cert_len > VEIL_TEE_MAX_CERT ||
	     resp.cert + resp.cert_len != payload + len))
		abort();
	if (!resp.ok)
		for (size_t i = 0; i < resp.len; i++)
			if (resp.data[i] < 0x20 || resp.data[i] > 0x7e)
				abort();
}

/* What either end makes of one frame. */
static void handle(const struct veil_frame_header *h, const uint8_t *payload)
{
	if (h->type == VEIL_FRAME_REQUEST) {
		struct veil_tee_request req;
		const char *why = NULL;
		if (veil_tee_request_decode(payload, h->length, &req, &why) == 0) {
			uint8_t again[1 + VEIL_TEE_REPORT_DATA_LEN + 4];
			size_t len = veil_tee_request_encode(&req, again);
			if (len != h->length || memcmp(again, payload, len) != 0 || req.vmpl > VEIL_TEE_MAX_VMPL)
				abort();
		} else if (why == NULL) {
			abort();
		}
	} else if (h->type == VEIL_FRAME_RESPONSE) {
		check_response(VEIL_TEE_OP_REPORT, payload, h->length);
		check_response(VEIL_TEE_OP_INIT_DATA, payload, h->length);
		check_response(VEIL_TEE_OP_KBS_CONNECT, payload, h->length);
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	fuzz_frames(data, size, handle);
	return 0;
}
