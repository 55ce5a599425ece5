/* The control channel between `veil` verbs and a container's monitor: a
 * SOCK_SEQPACKET unix socket in the container's state directory (mode 0600,
 * peers checked with SO_PEERCRED). One JSON object per record, optionally
 * carrying fds (stdio of an exec'd process) with SCM_RIGHTS. */
#ifndef VEIL_CONTROL_H
#define VEIL_CONTROL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lib/error.h"

#define VEIL_CTL_MAX_RECORD (64u << 10)
#define VEIL_CTL_MAX_FDS 3

/* Binds and listens; the socket file is created 0600. */
int veil_ctl_listen(const char *path, veil_err_t *err);
/* Accepts one peer; refuses (closes, returns -1 with *err) peers that are
 * neither root nor our own uid. */
int veil_ctl_accept(int listen_fd, pid_t *peer_pid, veil_err_t *err);
int veil_ctl_connect(const char *path, veil_err_t *err);
/* The same for other socket types (SOCK_STREAM for ttrpc): the listening
 * socket is non-blocking, the connected one blocking. veil_ctl_accept takes
 * either kind. */
int veil_unix_listen(const char *path, int type, veil_err_t *err);
int veil_unix_connect(const char *path, int type, veil_err_t *err);

int veil_ctl_send(int fd, json_object *msg, const int *fds, int n_fds, veil_err_t *err);
/* *msg is NULL on orderly EOF. Received fds are CLOEXEC; unused slots are -1. */
/* Closes every fd a receive left open, marking each -1. */
void veil_ctl_close_fds(int fds[VEIL_CTL_MAX_FDS]);
int veil_ctl_recv(int fd, json_object **msg, int fds[VEIL_CTL_MAX_FDS], int timeout_ms, veil_err_t *err);

/* Connects, sends req, waits for one reply. A reply {"error": "..."} becomes *err. */
int veil_ctl_call(const char *path, json_object *req, const int *fds, int n_fds, json_object **reply,
		  veil_err_t *err);

json_object *veil_ctl_error_reply(const char *message);
json_object *veil_ctl_ok_reply(void);

#endif
