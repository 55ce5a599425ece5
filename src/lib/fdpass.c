#include "lib/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

union fd_control {
	char buf[CMSG_SPACE(sizeof(int) * VEIL_FDPASS_MAX)];
	struct cmsghdr align;
};

ssize_t veil_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	if (n_fds > VEIL_FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union fd_control control;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n_fds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	ssize_t n;
	while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n;
}

ssize_t veil_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max_fds, int *msg_flags)
{
	for (size_t i = 0; i < max_fds; i++)
		fds[i] = -1;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union fd_control control;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	ssize_t n;
	while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	size_t got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < max_fds) {
				fds[got++] = fd;
			} else {
				close(fd);
				mh.msg_flags |= MSG_CTRUNC;
			}
		}
	}
	if (msg_flags != NULL)
		*msg_flags = mh.msg_flags;
	return n;
}
