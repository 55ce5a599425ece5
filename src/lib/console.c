#include "lib/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fdpass.h"

int veil_pty_open(int *master, int *slave, veil_err_t *err)
{
	cleanup_close int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return veil_fail(err, errno, "posix_openpt");
	char name[128];
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
		return veil_fail(err, errno, "preparing a pty");
	int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return veil_fail(err, errno, "opening %s", name);
	*master = veil_steal_fd(m);
	*slave = s;
	return 0;
}

int veil_console_send(const char *socket_path, int master, veil_err_t *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return veil_fail(err, ENAMETOOLONG, "console socket %s", socket_path);
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return veil_fail(err, errno, "connecting to console socket %s", socket_path);
	char name[128] = "/dev/ptmx";
	ptsname_r(master, name, sizeof(name));
	if (veil_send_fds(fd, name, strlen(name), &master, 1) < 0)
		return veil_fail(err, errno, "sending the pty to console socket %s", socket_path);
	return 0;
}

void veil_tty_make_raw(struct veil_raw_tty *t, int fd)
{
	t->fd = -1;
	if (!isatty(fd) || tcgetattr(fd, &t->saved) < 0)
		return;
	struct termios raw = t->saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSANOW, &raw) == 0)
		t->fd = fd;
}

void veil_tty_restore(struct veil_raw_tty *t)
{
	if (t->fd >= 0)
		tcsetattr(t->fd, TCSANOW, &t->saved);
	t->fd = -1;
}
