/* veil-agent: /init of the guest. Boots the VM's userspace, then serves the
 * host over the virtio-serial port in a single-threaded poll(2) loop. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/boot.h"
#include "agent/channel.h"
#include "agent/clock.h"
#include "agent/confidential.h"
#include "agent/container.h"
#include "agent/dispatch.h"
#include "agent/log.h"
#include "agent/scrub.h"
#include "agent/spawn.h"

enum slot_kind { SLOT_STDOUT, SLOT_STDERR, SLOT_STDIN, SLOT_MEMORY_EVENTS };

/* Which process fd, or container's memory.events, a pollfd entry stands for. */
struct slot {
	struct agent_process *p;
	struct agent_container *c;
	enum slot_kind kind;
};

#define MAX_SLOTS (AGENT_MAX_CONTAINERS * (AGENT_MAX_PROCESSES * 3 + 1))

static struct pollfd pfds[2 + MAX_SLOTS];
static struct slot slots[MAX_SLOTS];

static int open_signalfd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGIO);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		agent_fatal("sigprocmask: %s", strerror(errno));
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		agent_fatal("signalfd: %s", strerror(errno));
	return fd;
}

static void drain_signals(int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			agent_reap();
		else if (si.ssi_signo == SIGIO)
			agent_channel_wake();
	}
}

static void add_slot(nfds_t *n, int fd, short events, struct agent_process *p, enum slot_kind kind)
{
	pfds[*n] = (struct pollfd){ .fd = fd, .events = events };
	slots[*n - 2] = (struct slot){ .p = p, .c = NULL, .kind = kind };
	(*n)++;
}

/* Builds the poll set and returns its size; *timeout gets the nearest deadline. */
static nfds_t build_poll_set(int sfd, int *timeout)
{
	short ch_events = agent_channel_events();
	pfds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfds[1] = (struct pollfd){ .fd = ch_events ? agent_channel_fd() : -1, .events = ch_events };
	nfds_t n = 2;
	int64_t deadline = -1;
	/* Backpressure: while the host is behind, process output waits in the pipes. */
	bool congested = agent_channel_congested();
	for (struct agent_container *c = agent_container_first(); c != NULL; c = c->next) {
		if (c->events_fd >= 0) {
			add_slot(&n, c->events_fd, POLLPRI, NULL, SLOT_MEMORY_EVENTS);
			slots[n - 3].c = c;
		}
		for (struct agent_process *p = c->processes; p != NULL; p = p->next) {
			for (int i = 0; i < 2; i++)
				if (p->out[i].fd >= 0 && !congested)
					add_slot(&n, p->out[i].fd, POLLIN, p, i == 0 ? SLOT_STDOUT : SLOT_STDERR);
			if (p->in.fd >= 0 && p->in.len > 0)
				add_slot(&n, p->in.fd, POLLOUT, p, SLOT_STDIN);
			int64_t d = agent_process_deadline(p);
			if (d >= 0 && (deadline < 0 || d < deadline))
				deadline = d;
		}
	}
	*timeout = agent_channel_timeout_ms();
	if (deadline >= 0) {
		int ms = agent_ms_until(deadline);
		if (*timeout < 0 || ms < *timeout)
			*timeout = ms;
	}
	return n;
}

static void handle_process_fds(nfds_t n)
{
	for (nfds_t i = 2; i < n; i++) {
		if (pfds[i].revents == 0)
			continue;
		struct slot *s = &slots[i - 2];
		if (s->kind == SLOT_MEMORY_EVENTS)
			agent_dispatch_memory_events(s->c);
		else if (s->kind == SLOT_STDIN)
			agent_process_write_input(s->p);
		else if (!agent_channel_congested()) /* each read may queue a whole chunk */
			agent_process_read_output(s->p, s->kind == SLOT_STDOUT ? 0 : 1);
	}
}

static void tick_processes(void)
{
	int64_t now = agent_now_ms();
	for (struct agent_container *c = agent_container_first(); c != NULL; c = c->next)
		for (struct agent_process *p = c->processes; p != NULL; p = p->next)
			agent_process_tick(p, now);
}

int main(void)
{
	veil_err_t err = NULL;
	if (getpid() != 1) {
		agent_log_error("must run as PID 1 of a veil guest");
		return 1;
	}
	if (agent_boot(&err) < 0 || agent_spawn_init(&err) < 0 || agent_scrub_init(&err) < 0)
		agent_fatal("boot: %s", err->msg);
	/* Before the host is served: a confidential guest checks its init-data first. */
	agent_confidential_boot();
	/* Before the port exists: its SIGIO must land in the signalfd. */
	int sfd = open_signalfd();
	if (agent_channel_open(&err) < 0)
		agent_fatal("boot: %s", err->msg);
	agent_log_debug("ready");
	static const struct agent_channel_ops ops = {
		.on_frame = agent_dispatch_frame,
		.on_disconnect = agent_dispatch_disconnect,
	};
	for (;;) {
		int timeout;
		nfds_t n = build_poll_set(sfd, &timeout);
		if (poll(pfds, n, timeout) < 0 && errno != EINTR)
			agent_fatal("poll: %s", strerror(errno));
		if (pfds[0].revents)
			drain_signals(sfd);
		handle_process_fds(n);
		agent_channel_tick();
		/* Last: a request may free processes that the slots point to. */
		agent_channel_handle(pfds[1].revents, &ops);
		tick_processes();
		agent_dispatch_answer_waits();
	}
}
