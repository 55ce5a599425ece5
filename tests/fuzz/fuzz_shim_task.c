/* Sequences of Task service requests with arbitrary payloads, straight to
 * the handlers (no framing), over a pod without a VM: records of
 * [method index][u16 length][payload], with process exits and OOMs reported
 * in between, so that the handlers' states (created, running, paused,
 * stopped, waits pending) meet every request. */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim/task.h"
#include "shim/ttrpc.h"
#include "../unit/stub_pod.h"

static const char *const methods[] = {
	"State", "Create", "Start", "Delete", "Pids", "Pause", "Resume", "Checkpoint", "Kill",
	"Exec", "ResizePty", "CloseIO", "Update", "Wait", "Stats", "Connect", "Shutdown",
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	static struct stub_task_service t;
	stub_task_service_start(&t, sv[1]);
	const struct veil_ttrpc_call call = { .conn = 0, .generation = t.server.conns[0].generation, .stream = 1 };
	char sink[65536];
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (op >= 0xf0) {
			/* The pod's side: a process exits, or an OOM, for the ID in the payload. */
			char id[VEIL_ID_MAX + 1] = "", exec_id[VEIL_ID_MAX + 1] = "";
			size_t idl = len < VEIL_ID_MAX ? len : VEIL_ID_MAX;
			memcpy(id, data, idl);
			id[strnlen(id, idl)] = '\0';
			if (op & 1)
				shim_service_oom(&t.svc, id);
			else
				shim_service_exited(&t.svc, id, op & 2 ? "e" : exec_id, op);
		} else if (op & 0x80) {
			/* The pod fails its next call. */
			t.pod.fail_next = op & 0x7f;
		} else {
			shim_service_handle(&t.svc, &t.server, &call, SHIM_TASK_SERVICE, methods[op % N_METHODS], data, len);
		}
		data += len;
		size -= len;
		while (recv(sv[0], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
	stub_task_service_stop(&t);
	close(sv[0]);
	return 0;
}
