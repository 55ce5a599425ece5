/* Host side of the agent protocol (docs/agent-protocol.md): one typed call
 * per request, each message built here and nowhere else, and dispatch of the
 * DATA / WINDOW / async RESPONSE frames that interleave. It lives with the
 * hypervisor interface because a VM is its VMM plus this channel: the cache
 * greets and scrubs VMs, the runtime runs containers in them. */
#ifndef VEIL_AGENT_CLIENT_H
#define VEIL_AGENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"
#include "hv/guest_spec.h"
#include "lib/oci_spec.h"
#include "proto/frame.h"
#include "proto/rpc.h"

struct veil_agent_events {
	void *opaque;
	void (*data)(void *opaque, uint32_t stream, const uint8_t *buf, size_t len, bool closed);
	void (*window)(void *opaque, uint32_t stream, uint32_t credit);
	/* A response to a request sent with veil_agent_send. */
	void (*response)(void *opaque, uint32_t request_id, const uint8_t *payload, size_t len);
};

struct veil_agent_client {
	int fd;
	int vm_pidfd;    /* readable when the VMM exits: stop waiting */
	int signal_fd;   /* readable on a signal the caller wants to act on; -1 for none */
	int pending_signal; /* set when signal_fd fired during a call */
	uint32_t next_request_id;
	uint32_t next_io_stream;
	struct veil_frame_reader reader;
	struct veil_agent_events events;
};

void veil_agent_client_init(struct veil_agent_client *c, int fd, int vm_pidfd, int signal_fd);
void veil_agent_client_release(struct veil_agent_client *c);
uint32_t veil_agent_new_io_stream(struct veil_agent_client *c);

/* The handshake: protocol check, fresh entropy for the guest RNG and the host's
 * clock. Repeated when a pre-booted VM is handed to a new tenant. */
int veil_agent_hello(struct veil_agent_client *c, int timeout_ms, veil_err_t *err);
/* The handshake alone, for a VM readied by one who keeps no client (a pooled
 * VM, a template); signal_fd as for veil_agent_client_init. */
int veil_agent_hello_once(int fd, int vm_pidfd, int signal_fd, int timeout_ms, veil_err_t *err);
/* The most spans of one response that go to the trace; the agent sends fewer. */
#define VEIL_AGENT_MAX_SPANS 32
/* Decodes a Response envelope for method m; its spans go to the trace. */
int veil_agent_decode_response(enum veil_method m, const uint8_t *payload, size_t len, ProtobufCMessage **resp,
			       int *code, veil_err_t *err);
/* Reads what is available on the channel and dispatches every whole frame. */
int veil_agent_pump(struct veil_agent_client *c, veil_err_t *err);
int veil_agent_send_data(struct veil_agent_client *c, uint32_t stream, const void *buf, size_t len, bool closed,
			 veil_err_t *err);

/* ---- requests: the calls wait up to timeout_ms for the answer; the _send
 * ones do not wait, and their answer, if any, reaches events.response ---- */

/* CreateContainer for spec, built by veil_guest_request_build (guest_spec.h)
 * with its files where fs says; own_netns gives the init a network namespace
 * of its own. secrets (a confidential guest's): the agent fetches them from
 * the KBS before it answers, and the answer says why if it could not. */
struct veil_secret_ref;
int veil_agent_create_container(struct veil_agent_client *c, const char *id, const struct oci_spec *spec,
				const struct veil_container_fs *fs, bool own_netns, const struct veil_joined_namespaces *joined,
				const struct veil_secret_ref *secrets, size_t n_secrets, int timeout_ms, veil_err_t *err);

/* ConfigureInterface: the guest NIC with this MAC takes this identity. */
struct veil_agent_interface {
	const char *mac;
	const char *name;
	uint32_t mtu;
	const char *const *addresses; /* "a.b.c.d/len" */
	size_t n_addresses;
	const char *gateway;          /* "" for none */
};
int veil_agent_configure_interface(struct veil_agent_client *c, const struct veil_agent_interface *ifc, int timeout_ms,
				   veil_err_t *err);

/* A process's stdio as I/O stream ids; 0 for none. */
struct veil_agent_streams {
	uint32_t in, out, err;
};
/* ExecProcess: starts process in the container; exec_id "" is its init.
 * container_init: for an exec, the container's own process, whose
 * capabilities, no_new_privileges and oomScoreAdj it inherits where its
 * process.json sets none (veil_guest_process); NULL for the init. */
int veil_agent_exec(struct veil_agent_client *c, const char *container_id, const char *exec_id,
		    const struct oci_process *process, const struct oci_process *container_init,
		    const struct veil_agent_streams *streams, int timeout_ms, veil_err_t *err);

/* WaitProcess, answered when the process exits: the answer arrives with
 * *request_id, and veil_agent_wait_result reads it. */
int veil_agent_wait_send(struct veil_agent_client *c, const char *container_id, const char *exec_id,
			 uint32_t *request_id, veil_err_t *err);
int veil_agent_wait_result(const uint8_t *payload, size_t len, int *exit_code, int *signal, veil_err_t *err);
/* WaitProcess, waiting up to timeout_ms for the process to exit. */
int veil_agent_wait(struct veil_agent_client *c, const char *container_id, const char *exec_id, int timeout_ms,
		    int *exit_code, int *signal, veil_err_t *err);

/* SignalProcess; all: every process of the container. */
int veil_agent_signal(struct veil_agent_client *c, const char *container_id, const char *exec_id, int signal, bool all,
		      int timeout_ms, veil_err_t *err);
int veil_agent_signal_send(struct veil_agent_client *c, const char *container_id, const char *exec_id, int signal,
			   bool all, veil_err_t *err);

/* ResizeTerminal of the process's pty. */
int veil_agent_resize_send(struct veil_agent_client *c, const char *container_id, const char *exec_id, unsigned rows,
			   unsigned cols, veil_err_t *err);

/* ListProcesses: the container's processes as the guest sees them; free *out
 * with protobuf_c_message_free_unpacked. */
int veil_agent_list_processes(struct veil_agent_client *c, const char *container_id, int timeout_ms,
			      Veil__Agent__V1__ListProcessesResponse **out, veil_err_t *err);
/* DestroyContainer: kills what runs in it and forgets it; its pending waits
 * are answered. */
int veil_agent_destroy_container(struct veil_agent_client *c, const char *container_id, int timeout_ms,
				 veil_err_t *err);

/* UpdateContainer: cgroup limits in linux.resources' units; 0 leaves a limit
 * as it is, -1 lifts it. */
struct veil_agent_limits {
	int64_t memory;     /* bytes */
	int64_t cpu_quota;  /* us per cpu_period */
	uint64_t cpu_period;
	int64_t pids;
};
int veil_agent_update_container(struct veil_agent_client *c, const char *container_id,
				const struct veil_agent_limits *limits, int timeout_ms, veil_err_t *err);

/* FreezeContainer: stops or resumes every process of the container. */
int veil_agent_freeze_container(struct veil_agent_client *c, const char *container_id, bool frozen, int timeout_ms,
				veil_err_t *err);

/* StatsContainer: the container's cgroup v2 figures (limits 0 when none). */
struct veil_agent_stats {
	uint64_t cpu_usage_usec, cpu_user_usec, cpu_system_usec, cpu_nr_periods, cpu_nr_throttled,
		cpu_throttled_usec;
	uint64_t memory_usage, memory_limit, memory_anon, memory_file, memory_kernel_stack, memory_slab,
		memory_shmem, memory_pgfault, memory_pgmajfault;
	uint64_t pids_current, pids_limit;
	uint64_t oom, oom_kill;
};
int veil_agent_stats(struct veil_agent_client *c, const char *container_id, struct veil_agent_stats *out,
		     int timeout_ms, veil_err_t *err);

/* GetOOMEvent, answered at the guest's next OOM kill: the answer arrives
 * with *request_id, and veil_agent_oom_event_result reads the container's id. */
int veil_agent_oom_event_send(struct veil_agent_client *c, uint32_t *request_id, veil_err_t *err);
int veil_agent_oom_event_result(const uint8_t *payload, size_t len, char *container_id, size_t size,
				veil_err_t *err);

/* Scrub (docs/agent-protocol.md): padding is pushed through the channel's
 * receive buffers; *out says what the guest still has afterwards. */
struct veil_agent_scrub_result {
	uint32_t processes_left, mounts_left, containers_left;
	uint64_t mem_free_kib;
};
int veil_agent_scrub(struct veil_agent_client *c, const void *padding, size_t len, int timeout_ms,
		     struct veil_agent_scrub_result *out, veil_err_t *err);

#endif
