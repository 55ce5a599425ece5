/* The pod a shim serves: one sandbox (one microVM) and the processes of its
 * containers, behind the Task service (shim_pod_ops). The first container
 * gets the VM (veil_vm_get: pool, template or cold boot), every later one of
 * the same pod is added to it; a container without CRI's sandbox
 * annotations (ctr run) is a pod of one. Each process's stdio is relayed
 * between containerd's FIFOs (or file, or logging binary) and the agent. */
#ifndef VEIL_SHIM_POD_H
#define VEIL_SHIM_POD_H

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lib/config.h"
#include "lib/oci_spec.h"
#include "runtime/sandbox.h"
#include "runtime/stdio_relay.h"
#include "shim/io.h"
#include "shim/task.h"

/* CRI's annotations (containerd's, and CRI-O's equivalents). */
#define SHIM_ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define SHIM_ANNOTATION_SANDBOX_ID "io.kubernetes.cri.sandbox-id"
#define SHIM_ANNOTATION_CRIO_CONTAINER_TYPE "io.kubernetes.cri-o.ContainerType"
#define SHIM_ANNOTATION_CRIO_SANDBOX_ID "io.kubernetes.cri-o.SandboxID"
/* The pod's size, which containerd 1.6's CRI sets from the pod's limits. */
#define SHIM_ANNOTATION_SANDBOX_MEMORY "io.kubernetes.cri.sandbox-memory"
#define SHIM_ANNOTATION_SANDBOX_CPU_QUOTA "io.kubernetes.cri.sandbox-cpu-quota"
#define SHIM_ANNOTATION_SANDBOX_CPU_PERIOD "io.kubernetes.cri.sandbox-cpu-period"

/* In the pod's state directory: "PID START_TIME" of the shim serving it,
 * for delete to tell a live shim from one that was killed. */
#define SHIM_PID_RECORD "shim.pid"

#define SHIM_MAX_PROCS VEIL_SANDBOX_MAX_RELAYS
/* A pod's poll set: the agent, the VM, and each process's stdin, stdout, stderr. */
#define SHIM_POD_POLLFDS (2 + 3 * SHIM_MAX_PROCS)

struct shim_proc {
	bool used;
	char id[VEIL_ID_MAX + 1];
	char exec_id[VEIL_ID_MAX + 1];
	struct oci_process *process; /* an exec's own; NULL for an init, whose process is its spec's */
	struct shim_io io;
	struct veil_relay relay;
	bool started;  /* its relay is attached */
	bool reported; /* its exit went to the service */
};

struct shim_container {
	char *id; /* NULL: a free slot */
	struct oci_spec spec;
};

struct shim_pod {
	const struct veil_config *cfg;
	const char *ns;         /* containerd's namespace */
	char *state_root;       /* <state_dir>/containerd/<namespace>: the sandbox's directory is in it */
	int signal_fd;
	struct shim_service *svc;
	bool have_sandbox;
	bool is_pod;            /* CRI's sandbox: more containers may join */
	bool vm_gone;           /* the VM exited: every process was reported killed */
	struct veil_sandbox sb;
	char *sandbox_dir;      /* claimed, removed with the pod */
	struct shim_container containers[SHIM_MAX_TASKS];
	struct shim_proc procs[SHIM_MAX_PROCS];
	uint32_t oom_request;   /* the pending GetOOMEvent, 0 if none */
	pid_t loggers[SHIM_MAX_PROCS]; /* binary:// loggers of forgotten processes, to reap */
	/* Which process and stream each of the pod's poll entries after the first two is. */
	struct {
		struct shim_proc *proc;
		int stream; /* 0 stdin, 1 stdout, 2 stderr */
	} slots[3 * SHIM_MAX_PROCS];
};

extern const struct shim_pod_ops shim_pod_ops;

int shim_pod_init(struct shim_pod *pod, const struct veil_config *cfg, const char *ns, int signal_fd,
		  struct shim_service *svc, veil_err_t *err);
/* Fills the pod's poll entries (SHIM_POD_POLLFDS at most); returns how many. */
size_t shim_pod_poll_fds(struct shim_pod *pod, struct pollfd *pfds);
/* Handles what poll found there: agent frames, stdin, output, the VM's exit;
 * then reports the exits that came (shim_pod_report_exits). */
void shim_pod_poll_done(struct shim_pod *pod, const struct pollfd *pfds, size_t n);
/* Reports the exits that came, to the service: also after a ttrpc call,
 * since the agent's answers to other requests are routed while a call
 * waits for its own. */
void shim_pod_report_exits(struct shim_pod *pod);
/* Reaps logging binaries that exited (on SIGCHLD). */
void shim_pod_reap(struct shim_pod *pod);
/* Stops everything: the VM goes (or back to the factory), the state too. */
void shim_pod_release(struct shim_pod *pod);

/* CRI's annotation of spec (containerd's name, else CRI-O's); NULL if absent. */
const char *shim_annotation(const struct oci_spec *spec, const char *containerd_key, const char *crio_key);

#endif
