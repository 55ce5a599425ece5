/* A container's persistent state: <root>/<id>/state.json, written atomically
 * by its monitor, and the OCI state document derived from it. */
#ifndef VEIL_STATE_H
#define VEIL_STATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lib/error.h"

struct veil_state {
	char *id;
	char *bundle;
	char *rootfs;
	char *created;          /* RFC 3339, UTC */
	pid_t pid;              /* the monitor: the host process that stands for the container */
	unsigned long long pid_start; /* its start time, to tell it from a reused pid */
	json_object *annotations;
	char *cgroup_path;      /* the host cgroup (below each hierarchy) the monitor joined; NULL if none */
};

/* Paths inside a container's state directory. */
char *veil_state_dir(const char *root, const char *id);
char *veil_state_file(const char *root, const char *id, const char *name);

int veil_state_write(const char *root, const struct veil_state *s, veil_err_t *err);
/* Errors: "container does not exist" (errnum ENOENT) or a corrupt state file. */
int veil_state_read(const char *root, const char *id, struct veil_state *s, veil_err_t *err);
void veil_state_free(struct veil_state *s);

/* Start time of pid from /proc (0 if it does not exist). */
unsigned long long veil_process_start_time(pid_t pid);
/* True if pid is the process that started at `start` and is not exiting: one
 * killed is dead from then on, while its sockets may still be closing. */
bool veil_process_alive(pid_t pid, unsigned long long start);
/* True if the monitor recorded in s is still the same live process. */
bool veil_state_monitor_alive(const struct veil_state *s);
/* Called by the monitor once the container has stopped, before it takes the
 * VM down: from then on a monitor that no longer answers is tearing down,
 * not still booting. */
void veil_state_mark_stopped(const char *root, const char *id);

/* The status a container is in: asks its monitor, "stopped" if there is none. */
const char *veil_state_status(const char *root, const struct veil_state *s);
/* The OCI runtime-spec state document. */
json_object *veil_state_oci_json(const struct veil_state *s, const char *status);

void veil_rfc3339_now(char *buf, size_t len);

#endif
