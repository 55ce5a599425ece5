/* A pod without a VM for the Task service's unit tests and fuzzer: every
 * operation is noted and succeeds, except where the script says otherwise.
 * Exec'd processes' specs are parsed as the real pod parses them. */
#ifndef VEIL_TEST_STUB_POD_H
#define VEIL_TEST_STUB_POD_H

#include <stdbool.h>

#include "shim/task.h"
#include "shim/ttrpc.h"

#define STUB_POD_PID 4242

struct stub_pod {
	/* The next call fails with this errno (0: none), then the script is spent. */
	int fail_next;
	unsigned creates, execs, starts, signals, removes, freezes, resizes, closes, updates, stats;
	char last_id[VEIL_ID_MAX + 1], last_exec[VEIL_ID_MAX + 1];
	int last_signal;
	bool last_all, last_frozen;
	unsigned last_rows, last_cols;
	struct veil_agent_limits last_limits;
};

extern const struct shim_pod_ops stub_pod_ops;

/* The Task service over a stub pod, its ttrpc server serving one connection
 * (connection 0) on fd, which it takes. */
struct stub_task_service {
	struct stub_pod pod;
	struct shim_service svc;
	struct veil_ttrpc_server server;
};
void stub_task_service_start(struct stub_task_service *t, int fd);
void stub_task_service_stop(struct stub_task_service *t);

#endif
