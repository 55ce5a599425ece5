/* The messages between veil's verbs and a container's monitor, over the
 * monitor's control socket (lib/control.h records): a request names its
 * operation; the reply is {"error": why} or {"ok": true} with what the
 * operation returns. One codec for both ends. */
#ifndef VEIL_MONITOR_MSG_H
#define VEIL_MONITOR_MSG_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "runtime/stdio_relay.h"

enum veil_monitor_op {
	VEIL_MONITOR_STATE,  /* -> status */
	VEIL_MONITOR_START,  /* start the init process */
	VEIL_MONITOR_KILL,   /* signal, all, exec_id */
	VEIL_MONITOR_PAUSE,
	VEIL_MONITOR_RESUME,
	VEIL_MONITOR_EXEC,   /* exec_id, process, and the process's stdio as 3 fds; the exit status follows */
	VEIL_MONITOR_RESIZE, /* exec_id: copy its terminal's size to the guest */
	VEIL_MONITOR_PS,     /* -> pids */
	/* container_id, bundle, start, and the init's stdio as 3 fds: a further
	 * container in this monitor's VM (runtime/join.h); its exit status follows */
	VEIL_MONITOR_JOIN,
};

struct veil_monitor_request {
	enum veil_monitor_op op;
	int signal;          /* KILL: 1..64, SIGTERM if not given */
	bool all;            /* KILL: every process of the container */
	const char *exec_id; /* KILL, EXEC, RESIZE: the process, "" for the init */
	json_object *process; /* EXEC: the OCI process object */
	const char *container_id; /* JOIN: the joining container's id, claimed by its `veil create` */
	const char *bundle;  /* JOIN: its bundle, absolute */
	bool start;          /* JOIN: start its init at once (`veil run`) */
};

/* The request as a record; its strings and process are copied. */
json_object *veil_monitor_request_encode(const struct veil_monitor_request *r);
/* Checks every field; the strings and process are borrowed from msg. */
int veil_monitor_request_decode(json_object *msg, struct veil_monitor_request *r, veil_err_t *err);

/* PS: the most host processes a container has (its monitor, its VM's
 * process, an exec client per process), and the most guest processes a
 * reply details: a record stays far below VEIL_CTL_MAX_RECORD. */
#define VEIL_MONITOR_MAX_PIDS 66
#define VEIL_MONITOR_MAX_PROCESSES 128

/* One of a container's processes, as the guest sees it. */
struct veil_monitor_process {
	pid_t pid, ppid;
	uint32_t uid;
	uint64_t cpu_ticks;  /* user plus system time, in clock ticks */
	char cmd[160];       /* its command line, cut; its name if it has none */
};

/* What an ok reply carries. */
struct veil_monitor_reply {
	char status[16];     /* STATE: "created", "running", "paused" or "stopped" */
	size_t n_pids;       /* PS: the host processes that stand for the container's */
	pid_t pids[VEIL_MONITOR_MAX_PIDS];
	size_t n_processes;  /* PS: the container's processes in the guest, the first of them */
	struct veil_monitor_process processes[VEIL_MONITOR_MAX_PROCESSES];
};

json_object *veil_monitor_reply_encode(const struct veil_monitor_reply *r);
/* A reply {"error": why} becomes *err. */
int veil_monitor_reply_decode(json_object *msg, struct veil_monitor_reply *r, veil_err_t *err);

/* One request to container id's monitor under state root, and its reply
 * (reply may be NULL). */
int veil_monitor_call(const char *root, const char *id, const struct veil_monitor_request *req,
		      struct veil_monitor_reply *reply, veil_err_t *err);

/* A client whose connection stands for a process (EXEC) or a container
 * (JOIN): sends req with the 3 stdio fds to the monitor at sock; once it is
 * answered ok, calls started(arg); then forwards the signals read from
 * signal_fd (SIGWINCH as RESIZE) for req's exec_id until the exit message,
 * and returns the code to exit with. */
int veil_monitor_client(const char *sock, const struct veil_monitor_request *req, const int fds[3], int signal_fd,
			void (*started)(void *arg), void *arg, veil_err_t *err);

/* EXEC: the process's end, the last message to its exec client. */
json_object *veil_monitor_exit_encode(const struct veil_exit_status *st);
/* 1 with *st if msg is that message, 0 if it is another (an answer to a
 * forwarded signal). */
int veil_monitor_exit_decode(json_object *msg, struct veil_exit_status *st);

#endif
