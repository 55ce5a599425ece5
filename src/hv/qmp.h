/* A QMP client over an already-connected stream socket, private to the QEMU
 * backend. A read never takes a byte past the end of the message it waits
 * for, so the channel holds no state between calls: the socket can be handed
 * to another process (the VM cache does) at any time between commands. */
#ifndef VEIL_HV_QMP_H
#define VEIL_HV_QMP_H

#include <json-c/json.h>

#include "lib/error.h"

/* QMP replies and events are single lines; none veil asks for comes near this. */
#define VEIL_QMP_MAX_LINE (1u << 20)

/* Reads QEMU's greeting and negotiates capabilities. */
int veil_qmp_handshake(int fd, int timeout_ms, veil_err_t *err);
/* Runs one command; events that arrive meanwhile are skipped. args is borrowed. */
int veil_qmp_execute(int fd, const char *cmd, json_object *args, json_object **ret, int timeout_ms, veil_err_t *err);
/* As veil_qmp_execute, passing pass_fd (borrowed) to QEMU with the command (getfd). */
int veil_qmp_execute_fd(int fd, const char *cmd, json_object *args, int pass_fd, json_object **ret, int timeout_ms,
			veil_err_t *err);

#endif
