/* Feeds arbitrary records, parsed as the factory's socket parses them
 * (lib/control.c), to the VM cache's decoders: claim and status requests
 * come from any process of a permitted uid; the replies and the keeper's
 * record are decoded on the other side. */
#include <stdint.h>

#include "cache/wire.h"
#include "fuzz_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *msg = fuzz_record(data, size);
	if (msg == NULL)
		return 0;
	veil_err_t err = NULL;
	struct cache_request req;
	if (cache_request_decode(msg, &req, &err) == 0 && (req.op == CACHE_OP_CLAIM || req.op == CACHE_OP_RETURN)) {
		/* What the daemon does next with a decoded claim or return. */
		char why[256];
		cache_shape_diff(&req.shape, &req.shape, why, sizeof(why));
	}
	veil_error_free(&err);
	struct cache_claim_reply reply;
	cache_claim_reply_decode(msg, &reply, &err);
	veil_error_free(&err);
	static struct cache_status status;
	cache_status_decode(msg, &status, &err);
	veil_error_free(&err);
	struct cache_ready ready;
	cache_ready_decode(msg, &ready, &err);
	veil_error_free(&err);
	json_object_put(msg);
	return 0;
}
