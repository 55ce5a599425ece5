/* The host's end of a confidential VM's TEE port (proto/tee.h): a process
 * beside QEMU, forked by whoever starts the VM (a container's monitor, or the
 * factory's keeper for a pooled VM), that stands in for what the host offers
 * a confidential guest:
 *
 *   - the emulated TEE's security processor: reports signed by the emulated
 *     chip, with the measurement of exactly what was launched and HOST_DATA
 *     = the init-data digest; the guest chooses only REPORT_DATA and VMPL;
 *   - the init-data the VM was launched with, which the guest checks against
 *     its TEE's HOST_DATA / MRCONFIGID before it trusts a byte of it;
 *   - a relay of the guest's byte stream to the key broker named in
 *     init-data. It sees only what the KBS protocol lets a host see: nonces,
 *     evidence, and secrets encrypted to a key that never leaves the guest.
 *
 * It is a process of its own, not a thread of its parent's, so that a pooled
 * VM keeps it when the VM changes hands: it lives exactly as long as QEMU,
 * whose pidfd it watches, and dies with its parent, as QEMU does. Its reads
 * of the guest's frames are bounded by the frame reader; it writes to the
 * port blocking, so a guest that stops reading stalls only its own service. */
#include "hv/tee.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attest/emulated.h"
#include "attest/kbs_client.h"
#include "attest/snp.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "proto/frame.h"
#include "proto/tee.h"

#define KBS_CONNECT_TIMEOUT_MS 5000
#define KBS_WRITE_TIMEOUT_MS 30000

struct service {
	const struct veil_tee_config *tc;
	const struct veil_emulated_chip *chip;
	const uint8_t *measurement;
	const char *name;
	int port;
	int qemu;
	int kbs;               /* -1 when not connected */
	struct veil_frame_reader reader;
};

static void respond(struct service *s, uint32_t stream, const void *data, size_t len)
{
	cleanup_free uint8_t *payload = malloc(1 + len);
	if (payload == NULL)
		_exit(1);
	payload[0] = 0;
	if (len > 0)
		memcpy(payload + 1, data, len);
	if (veil_frame_write(s->port, VEIL_FRAME_RESPONSE, 0, stream, payload, 1 + len) < 0)
		_exit(0); /* QEMU has gone */
}

__attribute__((format(printf, 3, 4))) static void respond_error(struct service *s, uint32_t stream, const char *fmt, ...)
{
	char msg[1 + VEIL_TEE_MAX_ERROR + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	/* One line of printable ASCII, as the guest insists. */
	for (char *c = msg + 1; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	msg[0] = 1;
	log_warn("TEE service of VM %s: %s", s->name, msg + 1);
	if (veil_frame_write(s->port, VEIL_FRAME_RESPONSE, 0, stream, msg, 1 + strlen(msg + 1)) < 0)
		_exit(0);
}

static void kbs_close(struct service *s, bool tell_guest)
{
	if (s->kbs < 0)
		return;
	veil_close_fd(&s->kbs);
	if (tell_guest &&
	    veil_frame_write(s->port, VEIL_FRAME_DATA, VEIL_FRAME_FLAG_CLOSED, VEIL_TEE_KBS_STREAM, NULL, 0) < 0)
		_exit(0);
}

/* ---- requests ---- */

static void sign_report(struct service *s, uint32_t stream, const struct veil_tee_request *req)
{
	if (s->chip == NULL) {
		respond_error(s, stream, "this VM's TEE is %s: ask the hardware for reports, not the host",
			      veil_tee_name(s->tc->tee));
		return;
	}
	struct veil_emulated_report_request r = {
		.policy = VEIL_SNP_POLICY_SMT | VEIL_SNP_POLICY_RESERVED_ONE,
		.reported_tcb = VEIL_EMULATED_TCB,
		.vmpl = req->vmpl,
	};
	uint8_t field[48];
	veil_tee_config_field(s->tc, field);
	memcpy(r.measurement, s->measurement, sizeof(r.measurement));
	memcpy(r.host_data, field, sizeof(r.host_data));
	memcpy(r.report_data, req->report_data, sizeof(r.report_data));
	size_t vcek_len;
	const uint8_t *vcek = veil_emulated_chip_vcek(s->chip, &vcek_len);
	uint8_t answer[VEIL_SNP_REPORT_SIZE + VEIL_TEE_MAX_CERT];
	veil_err_t err = NULL;
	if (vcek_len > VEIL_TEE_MAX_CERT || veil_emulated_chip_sign(s->chip, &r, answer, &err) < 0) {
		respond_error(s, stream, "the emulated chip could not sign: %s", err ? err->msg : "VCEK too large");
		veil_error_free(&err);
		return;
	}
	memcpy(answer + VEIL_SNP_REPORT_SIZE, vcek, vcek_len);
	log_debug("TEE service of VM %s: emulated report signed (VMPL %u)", s->name, req->vmpl);
	respond(s, stream, answer, VEIL_SNP_REPORT_SIZE + vcek_len);
}

/* A TCP connection to host:port within KBS_CONNECT_TIMEOUT_MS, blocking. */
static int tcp_connect(const struct veil_kbs_address *kbs, veil_err_t *err)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", kbs->port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(kbs->host, port, &hints, &res);
	if (rc != 0)
		return veil_fail(err, 0, "resolving %s: %s", kbs->host, gai_strerror(rc));
	int fd = -1, last = ECONNREFUSED;
	for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int soerr = ETIMEDOUT;
			socklen_t sl = sizeof(soerr);
			if (poll(&p, 1, KBS_CONNECT_TIMEOUT_MS) == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			errno = soerr;
		} else if (errno == 0 || errno == EISCONN) {
			errno = 0;
		}
		if (errno != 0) {
			last = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return veil_fail(err, last, "connecting to the KBS at %s", kbs->authority);
	/* HTTP requests are small and each waits for its answer: no Nagle delay. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void kbs_connect(struct service *s, uint32_t stream)
{
	kbs_close(s, false);
	if (s->tc->kbs.host[0] == '\0') {
		respond_error(s, stream, "the VM's init-data names no KBS (cdh.toml [kbc] url or aa.toml [token_configs.kbs] url)");
		return;
	}
	veil_err_t err = NULL;
	s->kbs = tcp_connect(&s->tc->kbs, &err);
	if (s->kbs < 0) {
		respond_error(s, stream, "%s", err->msg);
		veil_error_free(&err);
		return;
	}
	log_debug("TEE service of VM %s: connected to the KBS at %s", s->name, s->tc->kbs.authority);
	respond(s, stream, NULL, 0);
}

static void on_request(struct service *s, uint32_t stream, const uint8_t *payload, size_t len)
{
	struct veil_tee_request req;
	const char *why = NULL;
	if (veil_tee_request_decode(payload, len, &req, &why) < 0) {
		respond_error(s, stream, "bad request: %s", why);
		return;
	}
	switch (req.op) {
	case VEIL_TEE_OP_REPORT:
		sign_report(s, stream, &req);
		break;
	case VEIL_TEE_OP_INIT_DATA:
		respond(s, stream, s->tc->init_data.text, s->tc->init_data.text != NULL ? s->tc->init_data.len : 0);
		break;
	case VEIL_TEE_OP_KBS_CONNECT:
		kbs_connect(s, stream);
		break;
	}
}

/* ---- the relay ---- */

static void on_guest_data(struct service *s, const struct veil_frame_header *h, const uint8_t *payload)
{
	if (h->stream_id != VEIL_TEE_KBS_STREAM)
		return;
	if (s->kbs < 0) {
		/* Bytes for a connection that is gone: say so, unless the guest is closing it. */
		if (!(h->flags & VEIL_FRAME_FLAG_CLOSED) &&
		    veil_frame_write(s->port, VEIL_FRAME_DATA, VEIL_FRAME_FLAG_CLOSED, VEIL_TEE_KBS_STREAM, NULL, 0) < 0)
			_exit(0);
		return;
	}
	const struct veil_kbs_transport kbs = veil_kbs_fd_transport(&s->kbs);
	veil_err_t err = NULL;
	if (h->length > 0 && kbs.send(kbs.ctx, payload, h->length, KBS_WRITE_TIMEOUT_MS, &err) < 0) {
		log_warn("TEE service of VM %s: the KBS at %s: %s", s->name, s->tc->kbs.authority, err->msg);
		veil_error_free(&err);
		kbs_close(s, true);
		return;
	}
	if (h->flags & VEIL_FRAME_FLAG_CLOSED)
		kbs_close(s, false);
}

static void on_kbs_readable(struct service *s)
{
	uint8_t buf[VEIL_DATA_CHUNK];
	ssize_t n = recv(s->kbs, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		kbs_close(s, true);
		return;
	}
	if (veil_frame_write(s->port, VEIL_FRAME_DATA, 0, VEIL_TEE_KBS_STREAM, buf, (size_t)n) < 0)
		_exit(0);
}

/* ---- the loop ---- */

static void on_port_readable(struct service *s)
{
	size_t room;
	uint8_t *space = veil_frame_reader_space(&s->reader, &room);
	if (space == NULL)
		_exit(1);
	ssize_t n = read(s->port, space, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		_exit(0); /* QEMU has gone */
	veil_frame_reader_commit(&s->reader, (size_t)n);
	struct veil_frame_header h;
	const uint8_t *payload;
	int rc;
	while ((rc = veil_frame_reader_next(&s->reader, &h, &payload)) == 1) {
		if (h.type == VEIL_FRAME_REQUEST)
			on_request(s, h.stream_id, payload, h.length);
		else if (h.type == VEIL_FRAME_DATA)
			on_guest_data(s, &h, payload);
	}
	if (rc < 0) {
		/* No frame boundary can be found again: stop serving this guest. */
		log_warn("TEE service of VM %s: the guest broke the port's framing (%s); no more service", s->name,
			 strerror(-rc));
		_exit(0);
	}
}

__attribute__((noreturn)) static void serve(struct service *s)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = s->qemu, .events = POLLIN },
			{ .fd = s->port, .events = POLLIN },
			{ .fd = s->kbs, .events = POLLIN },
		};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (p[0].revents)
			_exit(0);
		if (p[1].revents)
			on_port_readable(s);
		if (s->kbs >= 0 && p[2].revents)
			on_kbs_readable(s);
	}
}

static int kbs_netns = -1;

void veil_tee_service_set_netns(int netns_fd)
{
	kbs_netns = netns_fd;
}

int veil_tee_service_start(const struct veil_tee_config *tc, const struct veil_emulated_chip *chip,
			   const uint8_t measurement[48], const char *name, int port_fd, int qemu_pidfd, pid_t *pid,
			   veil_err_t *err)
{
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0)
		return veil_fail(err, errno, "forking the TEE service");
	if (child > 0) {
		*pid = child;
		return 0;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "veil-tee");
	if (kbs_netns >= 0 && setns(kbs_netns, CLONE_NEWNET) < 0)
		log_warn("TEE service of VM %s: entering the caller's network namespace: %s; the KBS may be out of reach",
			 name, strerror(errno));
	/* Nothing of the parent's but the port, QEMU's pidfd and the log: a
	 * container's stdio or channels held here would never see EOF. */
	const int keep[] = { port_fd, qemu_pidfd, veil_log_forked_child() };
	veil_close_fds_except(keep, sizeof(keep) / sizeof(keep[0]));
	signal(SIGPIPE, SIG_IGN);
	int devnull = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3 && devnull >= 0; fd++) {
		bool kept = false;
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			kept |= keep[i] == fd;
		if (!kept && fd != devnull)
			dup2(devnull, fd);
	}
	struct service s = {
		.tc = tc, .chip = chip, .measurement = measurement, .name = name, .port = port_fd, .qemu = qemu_pidfd,
		.kbs = -1,
	};
	veil_frame_reader_init(&s.reader);
	serve(&s);
}
