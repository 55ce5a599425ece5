/* containerd's Task service (runtime/v2/task/shim.proto, 17 methods) as
 * the shim serves it: each request decoded, checked and answered here, with
 * the tasks' states, exit statuses and pending Waits, and the events
 * published; what must happen in the VM is asked of the pod through
 * struct shim_pod_ops (shim/pod.c; the unit tests and the fuzzer give a
 * double). docs/shim.md says how each method maps to the runtime. */
#ifndef VEIL_SHIM_TASK_H
#define VEIL_SHIM_TASK_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "github.com/containerd/containerd/runtime/v2/task/shim.pb-c.h"
#include "hv/agent_client.h"
#include "lib/error.h"
#include "runtime/sandbox.h"
#include "shim/ttrpc.h"

#define SHIM_TASK_SERVICE "containerd.task.v2.Task"
/* Containers the pod can hold: the guest agent's bound per VM. */
#define SHIM_MAX_TASKS VEIL_SANDBOX_MAX_CONTAINERS
/* Exec'd processes per container, alive or not yet deleted (the agent's bound). */
#define SHIM_MAX_EXECS 64
/* Waits pending per process. */
#define SHIM_MAX_WAITS 16

/* containerd.v1.types.Status */
enum shim_status { SHIM_CREATED = 1, SHIM_RUNNING = 2, SHIM_STOPPED = 3, SHIM_PAUSED = 4 };

/* A process's stdio as containerd named it. */
struct shim_stdio {
	const char *in, *out, *err;
	bool terminal;
};

/* What the service asks of the pod. Each returns 0, or -1 with *err, whose
 * errnum classifies it for containerd: ENOENT (not found), EEXIST, EINVAL,
 * ENOTSUP, EBUSY (a precondition), anything else internal. */
struct shim_pod_ops {
	/* A container from its bundle, with containerd's rootfs mounts and its
	 * init's stdio, created but not started. *pid: the host process that
	 * stands for it (the VM's). */
	int (*create)(void *pod, const Containerd__Task__V2__CreateTaskRequest *req, uint32_t *pid, veil_err_t *err);
	/* An exec'd process from its OCI process (JSON), not started. */
	int (*add_exec)(void *pod, const char *id, const char *exec_id, const struct shim_stdio *io,
			json_object *process, veil_err_t *err);
	/* Starts a process that create or add_exec prepared (exec_id "": the init). */
	int (*start)(void *pod, const char *id, const char *exec_id, veil_err_t *err);
	int (*signal)(void *pod, const char *id, const char *exec_id, int sig, bool all, veil_err_t *err);
	/* Forgets a process that has exited or never started; the init takes
	 * its container with it. */
	int (*remove)(void *pod, const char *id, const char *exec_id, veil_err_t *err);
	int (*freeze)(void *pod, const char *id, bool frozen, veil_err_t *err);
	int (*resize)(void *pod, const char *id, const char *exec_id, unsigned rows, unsigned cols, veil_err_t *err);
	int (*close_stdin)(void *pod, const char *id, const char *exec_id, veil_err_t *err);
	int (*update)(void *pod, const char *id, const struct veil_agent_limits *limits, veil_err_t *err);
	int (*stats)(void *pod, const char *id, struct veil_agent_stats *out, veil_err_t *err);
};

struct shim_process {
	bool used;
	char exec_id[VEIL_ID_MAX + 1]; /* "" for the init */
	enum shim_status status;
	uint32_t pid;
	uint32_t exit_status;
	struct timespec exited_at;
	char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	struct veil_ttrpc_call waits[SHIM_MAX_WAITS];
	size_t n_waits;
};

struct shim_task {
	char *id; /* NULL: a free slot */
	char *bundle;
	struct shim_process init;
	struct shim_process execs[SHIM_MAX_EXECS];
};

struct shim_service {
	const struct shim_pod_ops *ops;
	void *pod;
	/* Publishes a containerd.events message under a topic; NULL drops events. */
	void (*publish)(void *opaque, const char *topic, const ProtobufCMessage *event);
	void *publish_opaque;
	struct veil_ttrpc_server *server; /* where pending Waits are answered */
	struct shim_task tasks[SHIM_MAX_TASKS];
	/* Shutdown was asked for with no task left: the shim may exit once its
	 * answers are out. */
	bool done;
};

/* The ttrpc handler (opaque: the service). */
void shim_service_handle(void *opaque, struct veil_ttrpc_server *s, const struct veil_ttrpc_call *call,
			 const char *service, const char *method, const uint8_t *payload, size_t len);
/* The pod reports that a started process exited (exit_status as a shell
 * reports it); waits are answered and TaskExit published. */
void shim_service_exited(struct shim_service *svc, const char *id, const char *exec_id, uint32_t exit_status);
/* The guest killed a process of container id for lack of memory. */
void shim_service_oom(struct shim_service *svc, const char *id);
/* Tasks still known (not deleted). */
size_t shim_service_tasks(const struct shim_service *svc);
/* Frees every task; pending Waits are dropped. */
void shim_service_release(struct shim_service *svc);

#endif
