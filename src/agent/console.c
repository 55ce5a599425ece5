#include "agent/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "agent/resolve.h"
#include "lib/cleanup.h"
#include "lib/fdpass.h"

static int send_fd(int sock, int fd)
{
	char byte = 0;
	return veil_send_fds(sock, &byte, 1, &fd, 1) == 1 ? 0 : -1;
}

int agent_console_open(int root, int sock, unsigned rows, unsigned cols, veil_err_t *err)
{
	/* The container's /dev/ptmx: with a tmpfs /dev the agent made it a link to pts/ptmx. */
	cleanup_close int master = agent_resolve(root, "/dev/ptmx", O_RDWR | O_NOCTTY);
	if (master < 0)
		return veil_fail(err, errno, "open /dev/ptmx in the container");
	if (unlockpt(master) < 0)
		return veil_fail(err, errno, "unlockpt");
	/* TIOCGPTPEER opens the slave of this very master, with no path lookup to race. */
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return veil_fail(err, errno, "opening the pty slave");
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	if ((rows != 0 && cols != 0 && ioctl(slave, TIOCSWINSZ, &ws) < 0) || send_fd(sock, master) < 0) {
		int e = errno;
		close(slave);
		return veil_fail(err, e, "setting up the terminal");
	}
	return slave;
}

int agent_console_receive(int sock, int timeout_ms, int *master, veil_err_t *err)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int rc;
	while ((rc = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (rc == 0)
		return veil_fail(err, 0, "no terminal from the process within %d s", timeout_ms / 1000);
	char byte;
	int flags;
	ssize_t n = veil_recv_fds(sock, &byte, 1, master, 1, &flags);
	if (n < 0)
		return veil_fail(err, errno, "receiving the terminal");
	if (n == 0) {
		veil_close_fd(master);
		return 0;
	}
	if (*master < 0 || (flags & MSG_CTRUNC)) {
		veil_close_fd(master);
		return veil_fail(err, 0, "no terminal in the child's message");
	}
	return 1;
}
