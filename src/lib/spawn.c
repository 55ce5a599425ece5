#include "lib/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"

int veil_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

void veil_kill_and_reap(pid_t pid, int pidfd, int wait_ms)
{
	if (pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	else
		kill(pid, SIGKILL);
	int rc;
	while ((rc = waitpid(pid, NULL, 0)) < 0 && errno == EINTR)
		;
	if (rc < 0 && errno == ECHILD && pidfd >= 0) {
		struct pollfd gone = { .fd = pidfd, .events = POLLIN };
		while (poll(&gone, 1, wait_ms) < 0 && errno == EINTR)
			;
	}
}

/* Runs in the forked child: only async-signal-safe calls until exec. */
static void __attribute__((noreturn)) exec_child(char *const argv[], const struct veil_spawn_opts *o, pid_t parent,
						 int report_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (o->new_session)
		setsid();
	if (o->die_with_parent) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
	}
	if (o->no_huge_pages)
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	/* What the child reports: {errno, 1 if prepare failed}. */
	int report[2] = { 0, 1 };
	if (o->prepare != NULL && (report[0] = o->prepare(o->prepare_arg)) != 0) {
		(void)!write(report_fd, report, sizeof(report));
		_exit(127);
	}
	report[1] = 0;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* Move passed fds above the target range first so dup2 never clobbers one. */
	int moved[16];
	for (int i = 0; i < o->n_pass_fds && i < 16; i++)
		moved[i] = fcntl(o->pass_fds[i], F_DUPFD_CLOEXEC, 100);
	int out = o->stdout_fd >= 0 ? o->stdout_fd : devnull;
	int errfd = o->stderr_fd >= 0 ? o->stderr_fd : devnull;
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		goto fail;
	for (int i = 0; i < o->n_pass_fds && i < 16; i++)
		if (moved[i] < 0 || dup2(moved[i], 3 + i) < 0)
			goto fail;
	execvp(argv[0], argv);
fail:
	report[0] = errno;
	(void)!write(report_fd, report, sizeof(report));
	_exit(127);
}

int veil_spawn(char *const argv[], const struct veil_spawn_opts *opts, pid_t *pid, veil_err_t *err)
{
	if (opts->n_pass_fds > 16)
		return veil_fail(err, EINVAL, "spawn %s: too many fds", argv[0]);
	int report[2];
	pid_t parent = getpid();
	pid_t child = veil_fork_with_channel(0, report, err);
	if (child < 0)
		return -1;
	if (child == 0)
		exec_child(argv, opts, parent, report[1]);
	close(report[1]);
	int failure[2] = { 0, 0 };
	ssize_t n;
	do
		n = read(report[0], failure, sizeof(failure));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(failure)) {
		waitpid(child, NULL, 0);
		if (failure[1])
			return veil_fail(err, failure[0], "preparing %s", argv[0]);
		return veil_fail(err, failure[0], "cannot execute %s", argv[0]);
	}
	*pid = child;
	return 0;
}

/* Keeps the last non-empty line of a small text buffer. */
static void last_line(char *text, char *out, size_t out_size)
{
	size_t len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	const char *start = strrchr(text, '\n');
	start = start ? start + 1 : text;
	size_t n = strnlen(start, out_size - 1);
	memcpy(out, start, n);
	out[n] = '\0';
}

void veil_last_line_of(int fd, char *out, size_t size)
{
	char text[4096] = "";
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	last_line(text, out, size);
}

int veil_run_program(char *const argv[], veil_err_t *err)
{
	cleanup_close int errfd = -1;
	char tmpl[] = "/tmp/veil-stderr.XXXXXX";
	errfd = mkostemp(tmpl, O_CLOEXEC);
	if (errfd < 0)
		return veil_fail(err, errno, "mkostemp");
	unlink(tmpl);
	struct veil_spawn_opts opts = { .stdout_fd = -1, .stderr_fd = errfd, .die_with_parent = true };
	pid_t pid;
	if (veil_spawn(argv, &opts, &pid, err) < 0)
		return -1;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return veil_fail(err, errno, "waitpid %s", argv[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char line[512];
	veil_last_line_of(errfd, line, sizeof(line));
	if (WIFSIGNALED(status))
		return veil_fail(err, 0, "%s killed by signal %d", argv[0], WTERMSIG(status));
	return veil_fail(err, 0, "%s failed (exit %d)%s%s", argv[0], WEXITSTATUS(status), line[0] ? ": " : "", line);
}

void veil_close_fds_except(const int *keep, size_t n)
{
	unsigned int from = 0;
	for (;;) {
		/* The lowest kept fd at or above from. */
		unsigned int next = ~0U;
		for (size_t i = 0; i < n; i++)
			if (keep[i] >= 0 && (unsigned int)keep[i] >= from && (unsigned int)keep[i] < next)
				next = (unsigned int)keep[i];
		if (next > from)
			syscall(SYS_close_range, from, next == ~0U ? ~0U : next - 1, 0);
		if (next == ~0U)
			return;
		from = next + 1;
	}
}

int veil_signalfd_for(const int *signals, size_t n, veil_err_t *err)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return veil_fail(err, errno, "sigprocmask");
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return veil_fail(err, errno, "signalfd");
	return fd;
}

pid_t veil_fork_with_channel(int socket_type, int channel[2], veil_err_t *err)
{
	if (socket_type == 0 ? pipe2(channel, O_CLOEXEC) < 0
			     : socketpair(AF_UNIX, socket_type | SOCK_CLOEXEC, 0, channel) < 0)
		return veil_fail(err, errno, socket_type == 0 ? "pipe" : "socketpair");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(channel[0]);
		close(channel[1]);
		return veil_fail(err, e, "fork");
	}
	return pid;
}
