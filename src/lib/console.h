/* Host-side terminals: ptys for --console-socket (runc's protocol: the
 * master is sent over a unix socket with SCM_RIGHTS) and raw mode. */
#ifndef VEIL_CONSOLE_H
#define VEIL_CONSOLE_H

#include <termios.h>

#include "lib/error.h"

int veil_pty_open(int *master, int *slave, veil_err_t *err);
/* Connects to the console socket and hands the master over. */
int veil_console_send(const char *socket_path, int master, veil_err_t *err);

struct veil_raw_tty {
	int fd;   /* -1 if nothing to restore */
	struct termios saved;
};
/* The guest's pty does the line discipline; a host tty in front of it must pass bytes through. */
void veil_tty_make_raw(struct veil_raw_tty *t, int fd);
void veil_tty_restore(struct veil_raw_tty *t);

#endif
