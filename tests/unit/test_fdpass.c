/* lib/fdpass: fds cross a unix socket with their data; what does not fit is
 * closed and reported, never leaked. */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fdpass.h"
#include "tap.h"

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

int main(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	int pipe_fds[2];
	CHECK(pipe(pipe_fds) == 0, "pipe");

	CHECK(veil_send_fds(sv[0], "hello", 5, pipe_fds, 2) == 5, "data and two fds go in one message");
	char buf[16];
	int got[3], flags = -1;
	ssize_t n = veil_recv_fds(sv[1], buf, sizeof(buf), got, 3, &flags);
	CHECK(n == 5 && memcmp(buf, "hello", 5) == 0, "the data arrives");
	CHECK(same_file(got[0], pipe_fds[0]) && same_file(got[1], pipe_fds[1]), "both fds arrive, in order");
	CHECK(got[2] == -1, "a slot without an fd is -1");
	CHECK((fcntl(got[0], F_GETFD) & FD_CLOEXEC) && (fcntl(got[1], F_GETFD) & FD_CLOEXEC),
	      "received fds are close-on-exec");
	CHECK((flags & (MSG_TRUNC | MSG_CTRUNC)) == 0, "nothing was cut off");
	close(got[0]);
	close(got[1]);

	int before = open_fds();
	CHECK(veil_send_fds(sv[0], "x", 1, pipe_fds, 2) == 1, "two fds sent to a reader that takes one");
	n = veil_recv_fds(sv[1], buf, sizeof(buf), got, 1, &flags);
	CHECK(n == 1 && same_file(got[0], pipe_fds[0]), "the first fd is taken");
	CHECK(flags & MSG_CTRUNC, "the other is reported as cut off");
	close(got[0]);
	CHECK(open_fds() == before, "and closed, not leaked");

	CHECK(veil_send_fds(sv[0], "y", 1, NULL, 0) == 1, "data without fds");
	n = veil_recv_fds(sv[1], buf, sizeof(buf), got, 2, NULL);
	CHECK(n == 1 && got[0] == -1 && got[1] == -1, "arrives without fds");

	int many[VEIL_FDPASS_MAX + 1] = { 0 };
	CHECK(veil_send_fds(sv[0], "z", 1, many, VEIL_FDPASS_MAX + 1) < 0, "more than VEIL_FDPASS_MAX fds is refused");

	close(sv[0]);
	CHECK(veil_recv_fds(sv[1], buf, sizeof(buf), got, 1, NULL) == 0 && got[0] == -1, "EOF reads as 0");
	close(sv[1]);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	return tap_done();
}
