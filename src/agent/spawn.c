/* Starting a container process. The agent forks a "joiner", which enters the
 * container (cgroup, namespaces) from outside it, keeps only the fds the
 * process needs, and forks the process itself: only then does anything of
 * the agent become visible inside the container's pid namespace, as in runc's
 * nsexec. The steps, in order:
 *
 *   joiner (agent's pid namespace; for an exec, the container's others)
 *     1. hide          non-dumpable, named SETUP_COMM
 *     2. signals       default dispositions, nothing blocked
 *     3. cgroup        joins the container's
 *     4. stdio         pipes or /dev/null onto 0-2
 *     5. namespaces    exec: setns into every one of the init's, the mount
 *                      namespace (and so its root) included, pid last, which
 *                      only the joiner's children enter; init: a new pid
 *                      namespace (the rest come in step 7)
 *     6. fds           every other fd closed (close_range) but the status
 *                      pipe and the console socket
 *     fork, report the process's pid, exit
 *   container process
 *     7. init only     new namespaces, pivot_root and mounts
 *                      (agent_mountns_setup), hostname
 *     8. session       setsid; with a terminal, a pty of the container's
 *                      devpts as controlling terminal on 0-2
 *     9. limits        rlimits
 *    10. credentials   groups, gid, uid, umask
 *    11. cwd           resolved inside the container's root
 *    12. no_new_privs
 *    13. exec          the first byte the container's program runs
 *
 * A failing step writes a report to the status pipe; the pipe is CLOEXEC, so
 * EOF after the pid means the process exec'd, or died first, which its name
 * (still SETUP_COMM) tells apart. */
#include "agent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/clock.h"
#include "agent/console.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/mountns.h"
#include "agent/resolve.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Setup runs no container code before exec, so only a kernel problem makes it this slow. */
#define SETUP_TIMEOUT_MS 10000
/* File descriptors the agent itself may need: stdio of every process it serves. */
#define AGENT_NOFILE 65536
/* The name of a process until it execs. Exec names a process after the
 * basename of its file, which holds no '/': a process still called this has
 * not exec'd. */
#define SETUP_COMM "veil/setup"
/* How long after EOF on the status pipe an exec may take to rename the
 * process, or a dying one to become a zombie: both follow at once, unless
 * something holds the process's memory map. */
#define SETTLE_MS 1000
/* The container namespaces an exec joins: at most the five below, and pid. */
#define MAX_JOINED_NS 6

/* The limit the agent started with, which container processes get back by default. */
static struct rlimit boot_nofile;

int agent_spawn_init(veil_err_t *err)
{
	if (getrlimit(RLIMIT_NOFILE, &boot_nofile) < 0)
		return veil_fail(err, errno, "getrlimit");
	struct rlimit raised = { AGENT_NOFILE, AGENT_NOFILE };
	if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
		agent_log_error("raising RLIMIT_NOFILE: %s", strerror(errno));
	return 0;
}

/* What the child side writes to the status pipe: the pid of the process
 * (from the joiner), or why setup failed. Smaller than PIPE_BUF, so each
 * arrives whole. */
enum report_kind { REPORT_PID = 1, REPORT_FAILURE = 2 };

struct setup_report {
	int32_t kind;
	int32_t code; /* REPORT_FAILURE: the gRPC code to answer with */
	int32_t pid;  /* REPORT_PID: in the agent's pid namespace */
	char msg[sizeof(((struct veil_error *)0)->msg)];
};

/* Everything the child needs, opened by the agent before fork: the child only uses it. */
struct child_ctx {
	const struct agent_container *c;
	const Veil__Agent__V1__Process *proc;
	bool init;
	int stdio[3];   /* pipes or /dev/null; with a terminal, /dev/null until the pty */
	int console;    /* with a terminal: socket to send the pty master on, else -1 */
	int cgroup_procs;
	int ns_fds[MAX_JOINED_NS]; /* exec: namespaces of the init to join, pid last */
	int ns_types[MAX_JOINED_NS];
	size_t n_ns;
	int status;     /* write end of the status pipe */
	char **argv, **envp;
};

/* ---- child side ---- */

__attribute__((noreturn)) static void report_failure(const struct child_ctx *x, int code, veil_err_t err)
{
	struct setup_report r = { .kind = REPORT_FAILURE, .code = code };
	snprintf(r.msg, sizeof(r.msg), "%s", err ? err->msg : "process setup failed");
	ssize_t ignored = write(x->status, &r, sizeof(r));
	(void)ignored;
	_exit(127);
}

/* 1. Nothing in the container may read the agent's memory or fds through
 * /proc/<pid> while this runs, nor mistake it for a program. */
static int hide(veil_err_t *err)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NAME, SETUP_COMM, 0, 0, 0) < 0)
		return veil_fail(err, errno, "prctl");
	return 0;
}

/* 2. Ignored dispositions and the blocked mask survive execve; the agent's must not. */
static int reset_signals(veil_err_t *err)
{
	(void)err;
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return 0;
}

/* 3. */
static int join_cgroup(const struct child_ctx *x, veil_err_t *err)
{
	if (write(x->cgroup_procs, "0", 1) != 1)
		return veil_fail(err, errno, "joining the container's cgroup");
	return 0;
}

/* 4. The agent keeps 0-2 taken, so no stdio fd is itself 0-2. */
static int attach_stdio(const struct child_ctx *x, veil_err_t *err)
{
	for (int i = 0; i < 3; i++)
		if (dup2(x->stdio[i], i) < 0)
			return veil_fail(err, errno, "dup2");
	return 0;
}

/* 5. */
static int join_namespaces(const struct child_ctx *x, veil_err_t *err)
{
	if (x->init) {
		if ((x->c->ns_flags & CLONE_NEWPID) && unshare(CLONE_NEWPID) < 0)
			return veil_fail(err, errno, "unshare pid namespace");
		return 0;
	}
	for (size_t i = 0; i < x->n_ns; i++)
		if (setns(x->ns_fds[i], x->ns_types[i]) < 0)
			return veil_fail(err, errno, "joining the container's namespaces");
	return 0;
}

/* 6. Every fd of the agent is CLOEXEC, but that only helps at execve: until
 * then the process would hold the port to the host and other processes' pipes. */
static int close_other_fds(const struct child_ctx *x, veil_err_t *err)
{
	int keep[2] = { x->status, x->console };
	if (keep[1] >= 0 && keep[1] < keep[0]) {
		keep[1] = keep[0];
		keep[0] = x->console;
	}
	unsigned from = 3;
	for (int i = 0; i < 2; i++) {
		if (keep[i] < 0)
			continue;
		if ((unsigned)keep[i] > from && close_range(from, (unsigned)keep[i] - 1, 0) < 0)
			return veil_fail(err, errno, "close_range");
		from = (unsigned)keep[i] + 1;
	}
	if (close_range(from, ~0u, 0) < 0)
		return veil_fail(err, errno, "close_range");
	return 0;
}

/* 7. Always new: the mount namespace because the init pivots its root away,
 * the cgroup namespace (entered after joining the cgroup) so that the
 * container's cgroup2 mount shows its own subtree as the root. */
static int create_container(const struct child_ctx *x, veil_err_t *err)
{
	if (unshare((x->c->ns_flags & ~CLONE_NEWPID) | CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
		return veil_fail(err, errno, "unshare");
	if (agent_mountns_setup(x->c->spec, x->c->rootfs, err) < 0)
		return -1;
	const char *hostname = x->c->spec->hostname;
	if ((x->c->ns_flags & CLONE_NEWUTS) && hostname[0] != '\0' && sethostname(hostname, strlen(hostname)) < 0)
		return veil_fail(err, errno, "sethostname");
	return 0;
}

/* 8. */
static int start_session(const struct child_ctx *x, int root, veil_err_t *err)
{
	if (setsid() < 0)
		return veil_fail(err, errno, "setsid");
	if (x->console < 0)
		return 0;
	cleanup_close int tty = agent_console_open(root, x->console, x->proc->console_rows, x->proc->console_cols, err);
	if (tty < 0)
		return -1;
	if (ioctl(tty, TIOCSCTTY, 0) < 0)
		return veil_fail(err, errno, "setting the controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(tty, i) < 0)
			return veil_fail(err, errno, "dup2");
	return 0;
}

/* 9. */
static int set_limits(const Veil__Agent__V1__Process *proc, veil_err_t *err)
{
	if (setrlimit(RLIMIT_NOFILE, &boot_nofile) < 0)
		return veil_fail(err, errno, "restoring RLIMIT_NOFILE");
	for (size_t i = 0; i < proc->n_rlimits; i++) {
		const Veil__Agent__V1__Rlimit *rl = proc->rlimits[i];
		struct rlimit lim = { .rlim_cur = rl->soft, .rlim_max = rl->hard };
		if (setrlimit(agent_rlimit_resource(rl->type), &lim) < 0)
			return veil_fail(err, errno, "setrlimit %s", rl->type);
	}
	return 0;
}

/* 10. Groups before gid before uid: each step needs the privilege the next one drops. */
static int set_credentials(const Veil__Agent__V1__Process *proc, veil_err_t *err)
{
	gid_t gids[AGENT_MAX_GIDS];
	for (size_t i = 0; i < proc->n_additional_gids; i++)
		gids[i] = proc->additional_gids[i];
	if (setgroups(proc->n_additional_gids, gids) < 0)
		return veil_fail(err, errno, "setgroups");
	if (setgid(proc->gid) < 0)
		return veil_fail(err, errno, "setgid %u", proc->gid);
	if (setuid(proc->uid) < 0)
		return veil_fail(err, errno, "setuid %u", proc->uid);
	umask(proc->has_umask ? proc->umask : 0022);
	return 0;
}

/* 11. After setuid, so that the directory is checked with the process's own permissions. */
static int enter_cwd(const Veil__Agent__V1__Process *proc, int root, veil_err_t *err)
{
	const char *cwd = proc->cwd[0] != '\0' ? proc->cwd : "/";
	cleanup_close int dir = agent_resolve(root, cwd, O_PATH | O_DIRECTORY);
	if (dir < 0 || fchdir(dir) < 0)
		return veil_fail(err, errno, "chdir %s", cwd);
	return 0;
}

/* 12. */
static int restrict_privileges(const Veil__Agent__V1__Process *proc, veil_err_t *err)
{
	if (proc->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return veil_fail(err, errno, "no_new_privs");
	return 0;
}

static const char *search_path(char *const *envp)
{
	for (size_t i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	return DEFAULT_PATH;
}

/* 13. execve, searching PATH from the process's own environment; returns the errno that explains the failure. */
static int exec_program(char *const *argv, char *const *envp)
{
	const char *file = argv[0];
	if (strchr(file, '/') != NULL) {
		execve(file, argv, envp);
		return errno;
	}
	int result = ENOENT;
	const char *dir = search_path(envp);
	for (;;) {
		const char *end = strchrnul(dir, ':');
		char candidate[PATH_MAX];
		int n = snprintf(candidate, sizeof(candidate), "%.*s%s%s", (int)(end - dir), dir, end == dir ? "" : "/",
				 file);
		if (n > 0 && (size_t)n < sizeof(candidate)) {
			execve(candidate, argv, envp);
			/* As execvp does: a later directory may still hold an executable match. */
			if (errno == EACCES)
				result = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR)
				return errno;
		}
		if (*end == '\0')
			return result;
		dir = end + 1;
	}
}

__attribute__((noreturn)) static void process_main(const struct child_ctx *x)
{
	veil_err_t err = NULL;
	int root = -1;
	if ((x->init && create_container(x, &err) < 0) ||
	    (root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    start_session(x, root, &err) < 0 || set_limits(x->proc, &err) < 0 ||
	    set_credentials(x->proc, &err) < 0 || enter_cwd(x->proc, root, &err) < 0 ||
	    restrict_privileges(x->proc, &err) < 0) {
		if (err == NULL)
			veil_fail(&err, errno, "open /");
		report_failure(x, VEIL_RPC_FAILED_PRECONDITION, err);
	}
	close(root);
	int e = exec_program(x->argv, x->envp);
	int code = e == ENOENT ? VEIL_RPC_NOT_FOUND : VEIL_RPC_FAILED_PRECONDITION;
	/* runc's wording: podman and the shim map it to exit status 127. */
	if (e == ENOENT && strchr(x->argv[0], '/') == NULL)
		veil_fail(&err, 0, "exec: \"%s\": executable file not found in $PATH", x->argv[0]);
	else
		veil_fail(&err, e, "exec: \"%s\"", x->argv[0]);
	report_failure(x, code, err);
}

__attribute__((noreturn)) static void joiner_main(const struct child_ctx *x)
{
	veil_err_t err = NULL;
	if (hide(&err) < 0 || reset_signals(&err) < 0 || join_cgroup(x, &err) < 0 || attach_stdio(x, &err) < 0 ||
	    join_namespaces(x, &err) < 0 || close_other_fds(x, &err) < 0)
		report_failure(x, VEIL_RPC_FAILED_PRECONDITION, err);
	pid_t pid = fork();
	if (pid == 0)
		process_main(x);
	if (pid < 0) {
		veil_fail(&err, errno, "fork");
		report_failure(x, VEIL_RPC_INTERNAL, err);
	}
	struct setup_report r = { .kind = REPORT_PID, .pid = pid };
	_exit(write(x->status, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
}

/* ---- parent side ---- */

/* The agent's copies of what only the child uses, closed once it has forked. */
struct child_fds {
	int fds[16];
	size_t n;
};

static int keep(struct child_fds *k, int fd)
{
	k->fds[k->n++] = fd;
	return fd;
}

static void release(struct child_fds *k)
{
	for (size_t i = 0; i < k->n; i++)
		close(k->fds[i]);
	k->n = 0;
}

static int set_nonblock(int fd, veil_err_t *err)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return veil_fail(err, errno, "fcntl");
	return 0;
}

/* One pipe: the agent's end goes to *mine (non-blocking), the child's into k. */
static int make_pipe(bool agent_writes, int *mine, int *theirs, struct child_fds *k, veil_err_t *err)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return veil_fail(err, errno, "pipe");
	*mine = agent_writes ? fds[1] : fds[0];
	*theirs = keep(k, agent_writes ? fds[0] : fds[1]);
	return set_nonblock(*mine, err);
}

/* The master the child sent: output is drained even without a stream, or the
 * process would block on a full pty. Separate fds for output and input, so each
 * closes on its own schedule. */
static int configure_terminal(const Veil__Agent__V1__ExecProcessRequest *req, struct agent_process *p, veil_err_t *err)
{
	if (set_nonblock(p->tty, err) < 0)
		return -1;
	p->out[0].fd = fcntl(p->tty, F_DUPFD_CLOEXEC, 3);
	if (p->out[0].fd < 0 || (req->stdin_stream != 0 && (p->in.fd = fcntl(p->tty, F_DUPFD_CLOEXEC, 3)) < 0))
		return veil_fail(err, errno, "dup");
	return 0;
}

static int open_stdio(const Veil__Agent__V1__ExecProcessRequest *req, struct agent_process *p, int stdio[3],
		      struct child_fds *k, veil_err_t *err)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return veil_fail(err, errno, "open /dev/null");
	stdio[0] = stdio[1] = stdio[2] = keep(k, devnull);
	if (req->process->terminal)
		return 0;
	if (req->stdin_stream != 0 && make_pipe(true, &p->in.fd, &stdio[0], k, err) < 0)
		return -1;
	const uint32_t streams[2] = { req->stdout_stream, req->stderr_stream };
	for (int i = 0; i < 2; i++)
		if (streams[i] != 0 && make_pipe(false, &p->out[i].fd, &stdio[i + 1], k, err) < 0)
			return -1;
	return 0;
}

/* The init's namespaces, for an exec to join: the pid namespace last. */
static int open_init_namespaces(const struct agent_container *c, pid_t init, struct child_ctx *x, struct child_fds *k,
				veil_err_t *err)
{
	static const struct {
		int flag;
		const char *name;
	} order[] = { { CLONE_NEWCGROUP, "cgroup" }, { CLONE_NEWUTS, "uts" }, { CLONE_NEWIPC, "ipc" },
		      { CLONE_NEWNET, "net" },	     { CLONE_NEWNS, "mnt" },	{ CLONE_NEWPID, "pid" } };
	char path[64];
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!((c->ns_flags | CLONE_NEWNS | CLONE_NEWCGROUP) & order[i].flag))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", init, order[i].name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return veil_fail(err, errno, "open %s", path);
		x->ns_fds[x->n_ns] = keep(k, fd);
		x->ns_types[x->n_ns++] = order[i].flag;
	}
	return 0;
}

/* Reads one report, waiting up to the setup timeout. 1 with *r, 0 at EOF, -1. */
static int read_report(int fd, struct setup_report *r, veil_err_t *err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int rc;
	while ((rc = poll(&pfd, 1, SETUP_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (rc == 0)
		return veil_fail(err, 0, "process setup timed out");
	ssize_t n;
	while ((n = read(fd, r, sizeof(*r))) < 0 && errno == EINTR)
		;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*r) || (r->kind != REPORT_PID && r->kind != REPORT_FAILURE))
		return veil_fail(err, n < 0 ? errno : 0, "reading the setup status");
	r->msg[sizeof(r->msg) - 1] = '\0';
	return 1;
}

/* Whether the process still bears SETUP_COMM: it has not exec'd. */
static bool still_in_setup(pid_t pid)
{
	char path[64], comm[32];
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	return agent_read_file(path, comm, sizeof(comm)) > 0 && strcmp(comm, SETUP_COMM "\n") == 0;
}

/* The report after the pid: a failure, or EOF once the process exec'd or died. */
static int await_exec(int fd, pid_t pid, int *code, veil_err_t *err)
{
	struct setup_report r;
	int rc = read_report(fd, &r, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		*code = r.kind == REPORT_FAILURE ? r.code : VEIL_RPC_INTERNAL;
		return veil_fail(err, 0, "%s", r.kind == REPORT_FAILURE ? r.msg : "process setup reported twice");
	}
	/* EOF comes a moment before either: execve closes CLOEXEC fds before it
	 * renames the process, a dying process closes its fds before it is a
	 * zombie. Not reaped yet (only the main loop reaps), /proc still has it. */
	siginfo_t info = { 0 };
	for (int64_t give_up = agent_now_ms() + SETTLE_MS; still_in_setup(pid) && agent_now_ms() < give_up;) {
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
			break;
		usleep(1000);
	}
	/* Renamed, or not gone within SETTLE_MS: it exec'd. */
	if (info.si_pid != pid || !still_in_setup(pid))
		return 0;
	*code = VEIL_RPC_FAILED_PRECONDITION;
	if (info.si_code == CLD_EXITED)
		return veil_fail(err, 0, "the process exited with status %d before it exec'd", info.si_status);
	return veil_fail(err, 0, "the process was killed by signal %d before it exec'd", info.si_status);
}

static char **null_terminated(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	if (out != NULL)
		memcpy(out, v, n * sizeof(*out));
	return out;
}

/* A socket pair for the terminal: the agent's end in *mine, the child's into k. */
static int make_console_socket(int *mine, int *theirs, struct child_fds *k, veil_err_t *err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return veil_fail(err, errno, "socketpair");
	*mine = sv[0];
	*theirs = keep(k, sv[1]);
	return 0;
}

/* Waits for the joiner's report and reaps it: the process's pid, or why there is none. */
static pid_t await_joiner(int status, pid_t joiner, int *code, veil_err_t *err)
{
	struct setup_report r;
	int rc = read_report(status, &r, err);
	if (rc <= 0)
		kill(joiner, SIGKILL);
	while (waitpid(joiner, NULL, 0) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return -1;
	if (rc == 0)
		return veil_fail(err, 0, "process setup failed before the process was created");
	if (r.kind == REPORT_FAILURE) {
		*code = r.code;
		return veil_fail(err, 0, "%s", r.msg);
	}
	return r.pid;
}

/* Receives the child's terminal, then its setup report. */
static int await_process(int console, int status, pid_t pid, const Veil__Agent__V1__ExecProcessRequest *req,
			 struct agent_process *p, int *code, veil_err_t *err)
{
	if (console >= 0) {
		int got = agent_console_receive(console, SETUP_TIMEOUT_MS, &p->tty, err);
		if (got < 0 || (got == 1 && configure_terminal(req, p, err) < 0))
			return -1;
		/* got == 0: the child failed before it had a terminal; its report says why. */
	}
	if (await_exec(status, pid, code, err) < 0)
		return -1;
	if (console >= 0 && p->tty < 0) {
		*code = VEIL_RPC_INTERNAL;
		return veil_fail(err, 0, "the process started without its terminal");
	}
	return 0;
}

int agent_spawn(struct agent_container *c, const Veil__Agent__V1__ExecProcessRequest *req, struct agent_process *p,
		int *code, veil_err_t *err)
{
	*code = VEIL_RPC_INTERNAL;
	const Veil__Agent__V1__Process *proc = req->process;
	struct child_ctx x = { .c = c, .proc = proc, .init = req->exec_id[0] == '\0', .console = -1 };
	struct child_fds k = { .n = 0 };
	cleanup_close int console = -1;
	cleanup_close int status = -1;
	cleanup_wipe char **argv = null_terminated(proc->args, proc->n_args);
	cleanup_wipe char **envp = null_terminated(proc->env, proc->n_env);
	x.argv = argv;
	x.envp = envp;
	p->out[0].stream = req->stdout_stream;
	p->out[1].stream = req->stderr_stream;
	p->in.stream = req->stdin_stream;

	int fds[2];
	int rc = argv && envp ? 0 : veil_fail(err, ENOMEM, "argv");
	if (rc == 0)
		rc = open_stdio(req, p, x.stdio, &k, err);
	if (rc == 0 && proc->terminal)
		rc = make_console_socket(&console, &x.console, &k, err);
	if (rc == 0 && (x.cgroup_procs = agent_cgroup_open_procs(c->id, err)) < 0)
		rc = -1;
	if (rc == 0) {
		keep(&k, x.cgroup_procs);
		if (!x.init)
			rc = open_init_namespaces(c, agent_container_process(c, "")->pid, &x, &k, err);
	}
	if (rc == 0 && pipe2(fds, O_CLOEXEC) < 0)
		rc = veil_fail(err, errno, "pipe");
	if (rc == 0) {
		status = fds[0];
		x.status = keep(&k, fds[1]);
	}
	pid_t joiner = rc == 0 ? fork() : -1;
	if (joiner == 0)
		joiner_main(&x);
	if (rc == 0 && joiner < 0)
		veil_fail(err, errno, "fork");
	/* The child has its copies; the agent's must go, or EOF on the status pipe never comes. */
	release(&k);
	if (joiner < 0)
		return -1;
	pid_t pid = await_joiner(status, joiner, code, err);
	if (pid < 0)
		return -1;
	if (await_process(console, status, pid, req, p, code, err) < 0) {
		kill(pid, SIGKILL);
		return -1;
	}
	p->pid = pid;
	return 0;
}
