/* Passing file descriptors over unix sockets (SCM_RIGHTS): the one place
 * that builds and reads the control messages. */
#ifndef VEIL_FDPASS_H
#define VEIL_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* The most fds one message carries. */
#define VEIL_FDPASS_MAX 4

/* Sends len bytes of buf (at least one: fds ride on data) with n_fds of fds
 * (borrowed, at most VEIL_FDPASS_MAX) in one sendmsg, without SIGPIPE and
 * retrying EINTR. Returns the bytes sent, or -1 with errno. */
ssize_t veil_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);

/* Receives up to len bytes and up to max_fds fds (close-on-exec) in one
 * recvmsg, retrying EINTR. fds[] is filled in order, -1 where none came.
 * *msg_flags (may be NULL) gets recvmsg's msg_flags, where MSG_TRUNC and
 * MSG_CTRUNC tell that something was cut off: fds beyond max_fds are closed
 * and reported as MSG_CTRUNC too.
 * Returns the bytes received (0 at EOF), or -1 with errno. */
ssize_t veil_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max_fds, int *msg_flags);

#endif
