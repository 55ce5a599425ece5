/* LD_PRELOAD shim that records the frames veil writes to the agent, for the
 * fuzz targets' seed corpora (tests/fuzz/capture-corpus.sh): every writev(2)
 * whose first iovec is a well-formed frame header is saved whole, header and
 * payload, as one file in $VEIL_CAPTURE_DIR; so is every JSON record sent
 * with sendmsg(2) on a control socket (the factory's claims and returns). Not
 * part of veil. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto/frame.h"

static void save_record(const struct msghdr *mh)
{
	const char *dir = getenv("VEIL_CAPTURE_DIR");
	if (dir == NULL || mh->msg_iovlen != 1 || mh->msg_iov[0].iov_len == 0 ||
	    ((const char *)mh->msg_iov[0].iov_base)[0] != '{')
		return;
	static unsigned seq;
	char path[4096];
	snprintf(path, sizeof(path), "%s/../records/record-%d-%u", dir, (int)getpid(), seq++);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, mh->msg_iov[0].iov_base, mh->msg_iov[0].iov_len) < 0)
		unlink(path);
	close(fd);
}

static void save(const struct iovec *iov, int n)
{
	const char *dir = getenv("VEIL_CAPTURE_DIR");
	struct veil_frame_header h;
	if (dir == NULL || n < 1 || iov[0].iov_len != VEIL_FRAME_HEADER_LEN ||
	    veil_frame_header_decode(iov[0].iov_base, &h) < 0 || h.type != VEIL_FRAME_REQUEST)
		return;
	static unsigned seq;
	char path[4096];
	snprintf(path, sizeof(path), "%s/request-%d-%u", dir, (int)getpid(), seq++);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	for (int i = 0; i < n; i++)
		if (write(fd, iov[i].iov_base, iov[i].iov_len) != (ssize_t)iov[i].iov_len)
			break;
	close(fd);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	if (real == NULL)
		real = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	save(iov, n);
	return real(fd, iov, n);
}

ssize_t sendmsg(int fd, const struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	if (real == NULL)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	save_record(mh);
	return real(fd, mh, flags);
}
