/* A QMP client over an already-connected stream socket. */
#ifndef VEIL_HV_QMP_H
#define VEIL_HV_QMP_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/error.h"

/* QMP replies and events are single lines; none veil asks for comes near this. */
#define VEIL_QMP_MAX_LINE (1u << 20)

struct veil_qmp {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
};

void veil_qmp_init(struct veil_qmp *q);
/* Takes ownership of fd, reads the greeting and negotiates capabilities. */
int veil_qmp_open(struct veil_qmp *q, int fd, int timeout_ms, veil_err_t *err);
/* Runs one command; events that arrive meanwhile are skipped. args is borrowed. */
int veil_qmp_execute(struct veil_qmp *q, const char *cmd, json_object *args, json_object **ret, int timeout_ms,
		     veil_err_t *err);
/* As veil_qmp_execute, passing fd (borrowed) to QEMU with the command (getfd). */
int veil_qmp_execute_fd(struct veil_qmp *q, const char *cmd, json_object *args, int fd, json_object **ret,
			int timeout_ms, veil_err_t *err);
void veil_qmp_close(struct veil_qmp *q);

#endif
