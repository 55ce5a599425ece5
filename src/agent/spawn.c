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
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/console.h"
#include "agent/log.h"
#include "agent/mountns.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Setup runs no container code before exec, so only a kernel problem makes it this slow. */
#define SETUP_TIMEOUT_MS 10000
/* File descriptors the agent itself may need: stdio of every process it serves. */
#define AGENT_NOFILE 65536

/* The agent's own pid namespace, to return to after forking into a container's. */
static int own_pidns = -1;
/* The limit the agent started with, which container processes get back by default. */
static struct rlimit boot_nofile;

int agent_spawn_init(veil_err_t *err)
{
	own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_pidns < 0)
		return veil_fail(err, errno, "open /proc/self/ns/pid");
	if (getrlimit(RLIMIT_NOFILE, &boot_nofile) < 0)
		return veil_fail(err, errno, "getrlimit");
	struct rlimit raised = { AGENT_NOFILE, AGENT_NOFILE };
	if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
		agent_log_error("raising RLIMIT_NOFILE: %s", strerror(errno));
	return 0;
}

/* Sent by the child through a CLOEXEC pipe when it cannot exec: EOF without it means success. */
struct setup_failure {
	int32_t code;
	char msg[sizeof(((struct veil_error *)0)->msg)];
};

/* Everything the child needs, opened by the agent before fork: the child only uses it. */
struct child_ctx {
	const struct agent_container *c;
	const Veil__Agent__V1__Process *proc;
	bool init;
	int stdio[3];   /* without a terminal */
	int console;    /* with a terminal: socket to send the pty master on, else -1 */
	int cgroup_procs;
	int ns_fds[5];  /* exec: namespaces of the init to join, mount last */
	int ns_types[5];
	size_t n_ns;
	int status;     /* write end of the failure pipe */
	char **argv, **envp;
};

/* ---- child side ---- */

static void reset_signals(void)
{
	/* Ignored dispositions and the blocked mask survive execve; the agent's must not. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Runs inside the container's namespaces, where a terminal has to come from. */
static int setup_stdio(const struct child_ctx *x, veil_err_t *err)
{
	if (setsid() < 0)
		return veil_fail(err, errno, "setsid");
	if (x->console < 0) {
		for (int i = 0; i < 3; i++)
			if (dup2(x->stdio[i], i) < 0)
				return veil_fail(err, errno, "dup2");
		return 0;
	}
	int tty = agent_console_open(x->console, x->proc->console_rows, x->proc->console_cols, err);
	if (tty < 0)
		return -1;
	if (ioctl(tty, TIOCSCTTY, 0) < 0)
		return veil_fail(err, errno, "setting the controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(tty, i) < 0)
			return veil_fail(err, errno, "dup2");
	return 0;
}

static int enter_namespaces(const struct child_ctx *x, veil_err_t *err)
{
	if (!x->init) {
		for (size_t i = 0; i < x->n_ns; i++)
			if (setns(x->ns_fds[i], x->ns_types[i]) < 0)
				return veil_fail(err, errno, "joining the container's namespaces");
		return 0;
	}
	/* Always new: the mount namespace because the init pivots its root away,
	 * the cgroup namespace (entered after joining the cgroup) so that the
	 * container's cgroup2 mount shows its own subtree as the root. */
	if (unshare((x->c->ns_flags & ~CLONE_NEWPID) | CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
		return veil_fail(err, errno, "unshare");
	if (agent_mountns_setup(x->c->spec, x->c->rootfs, err) < 0)
		return -1;
	const char *hostname = x->c->spec->hostname;
	if ((x->c->ns_flags & CLONE_NEWUTS) && hostname[0] != '\0' && sethostname(hostname, strlen(hostname)) < 0)
		return veil_fail(err, errno, "sethostname");
	return 0;
}

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

static int set_credentials(const Veil__Agent__V1__Process *proc, veil_err_t *err)
{
	gid_t gids[AGENT_MAX_GIDS];
	for (size_t i = 0; i < proc->n_additional_gids; i++)
		gids[i] = proc->additional_gids[i];
	/* Groups before gid before uid: each step needs the privilege the next one drops. */
	if (setgroups(proc->n_additional_gids, gids) < 0)
		return veil_fail(err, errno, "setgroups");
	if (setgid(proc->gid) < 0)
		return veil_fail(err, errno, "setgid %u", proc->gid);
	if (setuid(proc->uid) < 0)
		return veil_fail(err, errno, "setuid %u", proc->uid);
	umask(proc->has_umask ? proc->umask : 0022);
	/* After setuid, so that the directory is checked with the process's own permissions. */
	const char *cwd = proc->cwd[0] != '\0' ? proc->cwd : "/";
	if (chdir(cwd) < 0)
		return veil_fail(err, errno, "chdir %s", cwd);
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

/* execve, searching PATH from the process's own environment; returns the errno that explains the failure. */
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

__attribute__((noreturn)) static void child_main(const struct child_ctx *x)
{
	veil_err_t err = NULL;
	struct setup_failure f = { .code = VEIL_RPC_FAILED_PRECONDITION };
	reset_signals();
	if (write(x->cgroup_procs, "0", 1) != 1)
		veil_fail(&err, errno, "joining the container's cgroup");
	else if (enter_namespaces(x, &err) == 0 && setup_stdio(x, &err) == 0 && set_limits(x->proc, &err) == 0 &&
		 set_credentials(x->proc, &err) == 0) {
		int e = exec_program(x->argv, x->envp);
		/* runc's wording: podman and the shim map it to exit status 127. */
		if (e == ENOENT && strchr(x->argv[0], '/') == NULL) {
			f.code = VEIL_RPC_NOT_FOUND;
			veil_fail(&err, 0, "exec: \"%s\": executable file not found in $PATH", x->argv[0]);
		} else {
			if (e == ENOENT)
				f.code = VEIL_RPC_NOT_FOUND;
			veil_fail(&err, e, "exec: \"%s\"", x->argv[0]);
		}
	}
	snprintf(f.msg, sizeof(f.msg), "%s", err ? err->msg : "process setup failed");
	ssize_t ignored = write(x->status, &f, sizeof(f));
	(void)ignored;
	_exit(127);
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

static int open_pipes(const Veil__Agent__V1__ExecProcessRequest *req, struct agent_process *p, int stdio[3],
		      struct child_fds *k, veil_err_t *err)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return veil_fail(err, errno, "open /dev/null");
	stdio[0] = stdio[1] = stdio[2] = keep(k, devnull);
	if (req->stdin_stream != 0 && make_pipe(true, &p->in.fd, &stdio[0], k, err) < 0)
		return -1;
	const uint32_t streams[2] = { req->stdout_stream, req->stderr_stream };
	for (int i = 0; i < 2; i++)
		if (streams[i] != 0 && make_pipe(false, &p->out[i].fd, &stdio[i + 1], k, err) < 0)
			return -1;
	return 0;
}

static int open_init_namespaces(const struct agent_container *c, pid_t init, struct child_ctx *x, struct child_fds *k,
				int *pidns, veil_err_t *err)
{
	static const struct {
		int flag;
		const char *name;
	} order[] = { { CLONE_NEWCGROUP, "cgroup" }, { CLONE_NEWUTS, "uts" }, { CLONE_NEWIPC, "ipc" },
		      { CLONE_NEWNET, "net" },	     { CLONE_NEWNS, "mnt" } };
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
	if (c->ns_flags & CLONE_NEWPID) {
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", init);
		if ((*pidns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return veil_fail(err, errno, "open %s", path);
	}
	return 0;
}

/* Children are created in the pid namespace chosen here: a new one for an
 * init, the init's for an exec. Returns 1 if the agent must switch back. */
static int choose_pidns(const struct child_ctx *x, int pidns, veil_err_t *err)
{
	if (x->init && (x->c->ns_flags & CLONE_NEWPID)) {
		if (unshare(CLONE_NEWPID) < 0)
			return veil_fail(err, errno, "unshare pid namespace");
		return 1;
	}
	if (pidns >= 0) {
		if (setns(pidns, CLONE_NEWPID) < 0)
			return veil_fail(err, errno, "joining the container's pid namespace");
		return 1;
	}
	return 0;
}

static int await_exec(int fd, pid_t pid, int *code, veil_err_t *err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int rc;
	while ((rc = poll(&pfd, 1, SETUP_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	*code = VEIL_RPC_INTERNAL;
	if (rc == 0) {
		kill(pid, SIGKILL);
		return veil_fail(err, 0, "process setup timed out");
	}
	struct setup_failure f;
	ssize_t n;
	while ((n = read(fd, &f, sizeof(f))) < 0 && errno == EINTR)
		;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(f))
		return veil_fail(err, n < 0 ? errno : 0, "reading the setup status");
	f.msg[sizeof(f.msg) - 1] = '\0';
	*code = f.code;
	return veil_fail(err, 0, "%s", f.msg);
}

static char **null_terminated(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	if (out != NULL)
		memcpy(out, v, n * sizeof(*out));
	return out;
}

static pid_t fork_child(struct child_ctx *x, int pidns, int *code, veil_err_t *err)
{
	int switched = choose_pidns(x, pidns, err);
	if (switched < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0)
		child_main(x);
	int fork_errno = errno;
	/* Staying in a container's pid namespace would put every later child there. */
	if (switched && setns(own_pidns, CLONE_NEWPID) < 0)
		agent_fatal("returning to the agent's pid namespace: %s", strerror(errno));
	if (pid < 0) {
		*code = VEIL_RPC_INTERNAL;
		return veil_fail(err, fork_errno, "fork");
	}
	return pid;
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

/* Receives the child's terminal, then its setup report. */
static int await_child(int console, int status, pid_t pid, const Veil__Agent__V1__ExecProcessRequest *req,
		       struct agent_process *p, int *code, veil_err_t *err)
{
	if (console >= 0) {
		int got = agent_console_receive(console, SETUP_TIMEOUT_MS, &p->tty, err);
		if (got < 0 || (got == 1 && configure_terminal(req, p, err) < 0)) {
			kill(pid, SIGKILL);
			return -1;
		}
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
	cleanup_close int pidns = -1;
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
		rc = proc->terminal ? make_console_socket(&console, &x.console, &k, err)
				    : open_pipes(req, p, x.stdio, &k, err);
	if (rc == 0 && (x.cgroup_procs = agent_cgroup_open_procs(c->id, err)) < 0)
		rc = -1;
	if (rc == 0) {
		keep(&k, x.cgroup_procs);
		if (!x.init)
			rc = open_init_namespaces(c, agent_container_process(c, "")->pid, &x, &k, &pidns, err);
	}
	if (rc == 0 && pipe2(fds, O_CLOEXEC) < 0)
		rc = veil_fail(err, errno, "pipe");
	if (rc == 0) {
		status = fds[0];
		x.status = keep(&k, fds[1]);
	}
	pid_t pid = rc == 0 ? fork_child(&x, pidns, code, err) : -1;
	/* The child has its copies; the agent's must go, or EOF on the status pipe never comes. */
	release(&k);
	if (pid < 0 || await_child(console, status, pid, req, p, code, err) < 0)
		return -1;
	p->pid = pid;
	return 0;
}
