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

static int send_fd(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	memset(&control, 0, sizeof(control));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
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
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	ssize_t n;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return veil_fail(err, errno, "receiving the terminal");
	if (n == 0)
		return 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return veil_fail(err, 0, "no terminal in the child's message");
	memcpy(master, CMSG_DATA(c), sizeof(int));
	return 1;
}
