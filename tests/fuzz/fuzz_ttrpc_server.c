/* Arbitrary bytes from a ttrpc peer, as containerd's connection to the shim
 * delivers them: the server's frame reader and envelope decoding, and each
 * request that decodes on to the Task service's handlers, over a pod
 * without a VM. What the server answers is read and dropped. */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim/task.h"
#include "shim/ttrpc.h"
#include "../unit/stub_pod.h"

static void serve(struct veil_ttrpc_server *s, int peer)
{
	struct pollfd pfds[VEIL_TTRPC_POLLFDS];
	veil_ttrpc_server_poll_fds(s, pfds);
	if (poll(pfds, VEIL_TTRPC_POLLFDS, 0) > 0)
		veil_ttrpc_server_poll_done(s, pfds);
	char sink[65536];
	while (recv(peer, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	static struct stub_task_service t;
	stub_task_service_start(&t, sv[1]);
	size_t done = 0;
	/* The socket holds less than a whole input may be: feed it as it drains. */
	for (int rounds = 0; done < size && rounds < 4096 && veil_ttrpc_server_connections(&t.server) > 0; rounds++) {
		ssize_t n = send(sv[0], data + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			done += (size_t)n;
		serve(&t.server, sv[0]);
	}
	serve(&t.server, sv[0]);
	stub_task_service_stop(&t);
	close(sv[0]);
	return 0;
}
