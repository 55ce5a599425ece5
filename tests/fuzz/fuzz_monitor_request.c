/* Feeds arbitrary records, parsed as a monitor's control socket parses them
 * (lib/control.c), to the monitor's request decoder and on to what the
 * monitor does with an exec's process; and to the verbs' reply decoders. */
#include <stdint.h>

#include "fuzz_record.h"
#include "lib/oci_spec.h"
#include "runtime/monitor_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *msg = fuzz_record(data, size);
	if (msg == NULL)
		return 0;
	veil_err_t err = NULL;
	struct veil_monitor_request req;
	if (veil_monitor_request_decode(msg, &req, &err) == 0 && req.op == VEIL_MONITOR_EXEC) {
		struct oci_process *p = NULL;
		if (oci_process_from_json(req.process, &p, &err) == 0)
			oci_process_free(p);
	}
	veil_error_free(&err);
	static struct veil_monitor_reply reply;
	veil_monitor_reply_decode(msg, &reply, &err);
	veil_error_free(&err);
	struct veil_exit_status st;
	veil_monitor_exit_decode(msg, &st);
	json_object_put(msg);
	return 0;
}
