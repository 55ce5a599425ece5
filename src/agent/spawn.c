/* Starting a container process. The agent forks a "joiner", which enters the
 * container (cgroup, namespaces) from outside it, keeps only the fds the
 * process needs, and forks the process itself: only then does anything of
 * the agent become visible inside the container's pid namespace, as in runc's
 * nsexec. The steps, in order (runc's, where the runtime spec says nothing):
 *
 *   joiner (agent's pid namespace; for an exec, the container's others)
 *     1. hide          non-dumpable, named AGENT_SETUP_COMM
 *     2. signals       default dispositions, nothing blocked
 *     3. cgroup        joins the container's
 *     4. stdio         pipes or /dev/null onto 0-2
 *     5. limits        oom_score_adj and rlimits, while the joiner still has
 *                      the privilege to raise them (runc sets both from
 *                      outside the container); the process inherits them
 *     6. namespaces    exec: setns into every one of the init's, the user
 *                      namespace first, the mount namespace (and so its
 *                      root) included, pid last, which only the joiner's
 *                      children enter; init: the namespaces of other
 *                      containers it shares, a new user namespace (the
 *                      agent writes its id maps meanwhile; then uid 0 in
 *                      it), a new time namespace with its offsets, a new
 *                      pid namespace (the rest come in step 8)
 *     7. fds           every other fd closed (close_range) but the status
 *                      pipe and the console socket
 *     fork, report the process's pid, exit
 *   container process
 *     8. init only     new namespaces, mounts, devices and files copied in,
 *                      pivot_root, sysctls, readonly and masked paths
 *                      (agent_mountns_setup), hostname, domainname
 *     9. session       setsid; with a terminal, a pty of the container's
 *                      devpts as controlling terminal on 0-2
 *    10. no_new_privs
 *    11. seccomp       here if the process keeps privileges: loading a
 *                      filter without no_new_privs needs CAP_SYS_ADMIN
 *    12. credentials   bounding set, then (keeping capabilities) groups,
 *                      gid, uid, umask; the working directory; HOME from
 *                      the container's /etc/passwd if env has none; then
 *                      the effective, permitted, inheritable and ambient sets
 *    13. seccomp       here with no_new_privs: as late as possible, so that
 *                      the profile need not allow the setup's syscalls
 *    14. exec          the first byte the container's program runs
 *
 * A failing step writes a report to the status pipe; the pipe is CLOEXEC, so
 * EOF after the pid means the process exec'd, or died first, which its name
 * (still AGENT_SETUP_COMM) tells apart. */
#include "agent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/clock.h"
#include "agent/confidential.h"
#include "agent/console.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/mountns.h"
#include "agent/network.h"
#include "agent/passwd.h"
#include "agent/resolve.h"
#include "agent/seccomp.h"
#include "agent/trace.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"

/* Setup runs no container code before exec, so only a kernel problem makes it this slow. */
#define SETUP_TIMEOUT_MS 10000
/* File descriptors the agent itself may need: stdio of every process it serves. */
#define AGENT_NOFILE 65536
/* How long after EOF on the status pipe an exec may take to rename the
 * process, or a dying one to become a zombie: both follow at once, unless
 * something holds the process's memory map. */
#define SETTLE_MS 1000
/* The namespaces a joiner enters: user, cgroup, uts, ipc, net, mnt, time, pid. */
#define MAX_JOINED_NS 8

/* The limit the agent started with, which container processes get back by default. */
static struct rlimit boot_nofile;
/* The capabilities this kernel has: bits 0..cap_last_cap. */
static uint64_t known_caps;

int agent_spawn_init(veil_err_t *err)
{
	if (getrlimit(RLIMIT_NOFILE, &boot_nofile) < 0)
		return veil_fail(err, errno, "getrlimit");
	struct rlimit raised = { AGENT_NOFILE, AGENT_NOFILE };
	if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
		agent_log_error("raising RLIMIT_NOFILE: %s", strerror(errno));
	char last[16];
	int last_cap = agent_read_file("/proc/sys/kernel/cap_last_cap", last, sizeof(last)) > 0 ? atoi(last) : CAP_LAST_CAP;
	known_caps = last_cap >= 63 ? UINT64_MAX : (UINT64_C(1) << (last_cap + 1)) - 1;
	return 0;
}

/* What the child side writes to the status pipe: the pid of the process
 * (from the joiner), a request for the id maps of the user namespace the
 * joiner made, or why setup failed. Smaller than PIPE_BUF, so each arrives
 * whole. */
enum report_kind { REPORT_PID = 1, REPORT_FAILURE = 2, REPORT_USERNS = 3 };

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
	/* exec: the init's namespaces, user first, pid last; init: those of other
	 * containers it shares */
	int ns_fds[MAX_JOINED_NS];
	int ns_types[MAX_JOINED_NS];
	size_t n_ns;
	int status;     /* write end of the status pipe */
	int maps_done;  /* init with a user namespace: read end, a byte once the agent wrote its id maps */
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
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NAME, AGENT_SETUP_COMM, 0, 0, 0) < 0)
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

/* 5. Both are inherited at fork. Lowering oom_score_adj and raising a hard
 * limit take CAP_SYS_RESOURCE in the guest's initial user namespace, which a
 * process in a user namespace of its own never has. */
static int set_limits(const Veil__Agent__V1__Process *proc, veil_err_t *err)
{
	if (proc->has_oom_score_adj) {
		char value[16];
		snprintf(value, sizeof(value), "%d", proc->oom_score_adj);
		if (agent_write_file("/proc/self/oom_score_adj", value) < 0)
			return veil_fail(err, errno, "setting oom_score_adj to %s", value);
	}
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

/* 6, user namespace: the agent writes its maps from outside, as only a
 * process in the parent namespace may; then the joiner becomes its root, as
 * runc's nsexec does, so that what the init creates belongs to the
 * container's root. */
static int make_user_namespace(const struct child_ctx *x, veil_err_t *err)
{
	if (unshare(CLONE_NEWUSER) < 0)
		return veil_fail(err, errno, "unshare user namespace");
	struct setup_report r = { .kind = REPORT_USERNS };
	char done;
	if (write(x->status, &r, sizeof(r)) != (ssize_t)sizeof(r))
		return veil_fail(err, errno, "asking for id maps");
	if (read(x->maps_done, &done, 1) != 1)
		return veil_fail(err, 0, "the user namespace got no id maps");
	return 0;
}

static int become_root(veil_err_t *err)
{
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return veil_fail(err, errno, "becoming root in the user namespace");
	return 0;
}

/* 6, time namespace: its offsets can be set only until a process enters it,
 * which the joiner's children do. */
static int make_time_namespace(const Veil__Agent__V1__TimeOffsets *t, veil_err_t *err)
{
	if (unshare(CLONE_NEWTIME) < 0)
		return veil_fail(err, errno, "unshare time namespace");
	if (t == NULL)
		return 0;
	char offsets[128];
	snprintf(offsets, sizeof(offsets), "monotonic %" PRId64 " %u\nboottime %" PRId64 " %u\n", t->monotonic_secs,
		 t->monotonic_nanosecs, t->boottime_secs, t->boottime_nanosecs);
	if (agent_write_file("/proc/self/timens_offsets", offsets) < 0)
		return veil_fail(err, errno, "setting the time namespace's offsets");
	return 0;
}

static int setns_all(const struct child_ctx *x, veil_err_t *err)
{
	for (size_t i = 0; i < x->n_ns; i++)
		if (setns(x->ns_fds[i], x->ns_types[i]) < 0)
			return veil_fail(err, errno, "joining the container's namespaces");
	return 0;
}

/* 6. */
static int join_namespaces(const struct child_ctx *x, veil_err_t *err)
{
	if (!x->init)
		return setns_all(x, err);
	int ns = x->c->ns_flags;
	if (setns_all(x, err) < 0)
		return -1;
	if ((ns & CLONE_NEWUSER) && make_user_namespace(x, err) < 0)
		return -1;
	if ((ns & CLONE_NEWTIME) && make_time_namespace(x->c->spec->time_offsets, err) < 0)
		return -1;
	if ((ns & CLONE_NEWUSER) && become_root(err) < 0)
		return -1;
	if ((ns & CLONE_NEWPID) && unshare(CLONE_NEWPID) < 0)
		return veil_fail(err, errno, "unshare pid namespace");
	return 0;
}

/* 7. Every fd of the agent is CLOEXEC, but that only helps at execve: until
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

/* 8. Always new: the mount namespace because the init pivots its root away,
 * the cgroup namespace (entered after joining the cgroup) so that the
 * container's cgroup2 mount shows its own subtree as the root. The joiner
 * made the user, time and pid namespaces. */
static int create_container(const struct child_ctx *x, veil_err_t *err)
{
	int made_by_joiner = CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWTIME;
	if (unshare((x->c->ns_flags & ~made_by_joiner) | CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
		return veil_fail(err, errno, "unshare");
	if ((x->c->ns_flags & CLONE_NEWNET) && agent_loopback_up(err) < 0)
		return -1;
	char secrets[PATH_MAX];
	if (agent_mountns_setup(x->c, agent_confidential_secrets_dir(x->c, secrets, sizeof(secrets)), err) < 0)
		return -1;
	const Veil__Agent__V1__CreateContainerRequest *spec = x->c->spec;
	if ((x->c->ns_flags & CLONE_NEWUTS) && spec->hostname[0] != '\0' &&
	    sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return veil_fail(err, errno, "sethostname");
	if ((x->c->ns_flags & CLONE_NEWUTS) && spec->domainname[0] != '\0' &&
	    setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
		return veil_fail(err, errno, "setdomainname");
	return 0;
}

/* 9. */
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

/* 10. */
static int restrict_privileges(const Veil__Agent__V1__Process *proc, veil_err_t *err)
{
	if (proc->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return veil_fail(err, errno, "no_new_privs");
	return 0;
}

/* 11 and 13. */
static int load_seccomp(const struct child_ctx *x, bool with_no_new_privs, veil_err_t *err)
{
	if (x->c->seccomp == NULL || x->proc->no_new_privileges != with_no_new_privs)
		return 0;
	return agent_seccomp_load(x->c->seccomp, err);
}

/* 12, before the uid changes: capabilities outside the bounding set go for
 * good, and the rest survive setuid. */
static int drop_bounding_set(const Veil__Agent__V1__Capabilities *caps, veil_err_t *err)
{
	if (caps == NULL)
		return 0;
	for (int cap = 0; cap < 64; cap++)
		if ((known_caps >> cap & 1) && !(caps->bounding >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return veil_fail(err, errno, "dropping capability %d from the bounding set", cap);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return veil_fail(err, errno, "PR_SET_KEEPCAPS");
	return 0;
}

/* 12. Groups before gid before uid: each step needs the privilege the next one drops. */
static int set_user(const Veil__Agent__V1__Process *proc, veil_err_t *err)
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

/* 12, last: the sets the spec asks for. A capability this kernel lacks is
 * ignored, and one that cannot become ambient (it must be permitted and
 * inheritable) only logged, as runc does. */
static int apply_capabilities(const Veil__Agent__V1__Capabilities *caps, veil_err_t *err)
{
	if (caps == NULL)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return veil_fail(err, errno, "PR_SET_KEEPCAPS");
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	const uint64_t sets[3] = { caps->effective & known_caps, caps->permitted & known_caps,
				   caps->inheritable & known_caps };
	for (int i = 0; i < 2; i++)
		data[i] = (struct __user_cap_data_struct){ .effective = (uint32_t)(sets[0] >> (32 * i)),
							    .permitted = (uint32_t)(sets[1] >> (32 * i)),
							    .inheritable = (uint32_t)(sets[2] >> (32 * i)) };
	if (syscall(SYS_capset, &hdr, data) < 0)
		return veil_fail(err, errno, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return veil_fail(err, errno, "clearing the ambient capabilities");
	for (int cap = 0; cap < 64; cap++)
		if ((caps->ambient & known_caps) >> cap & 1)
			(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
	return 0;
}

/* 12. As runc: first as root, which may enter directories the user cannot;
 * denied, again with the user's credentials, which may enter ones root
 * cannot (a directory of a user namespace's uid). */
static int enter_cwd(const Veil__Agent__V1__Process *proc, int root, veil_err_t *err)
{
	const char *cwd = proc->cwd[0] != '\0' ? proc->cwd : "/";
	cleanup_close int dir = agent_resolve(root, cwd, O_PATH | O_DIRECTORY);
	if (dir < 0 || fchdir(dir) < 0)
		return veil_fail(err, errno, "chdir %s", cwd);
	return 0;
}

static char *const *find_env(char *const *envp, const char *name)
{
	size_t len = strlen(name);
	for (char *const *e = envp; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return e;
	return NULL;
}

/* 12. runc adds HOME, from the container's /etc/passwd or "/", unless env
 * sets it to something. Returns envp or a new array. */
static char **with_home(char **envp, int root, uint32_t uid, veil_err_t *err)
{
	char *const *home = find_env(envp, "HOME");
	if (home != NULL && (*home)[5] != '\0')
		return envp;
	size_t n = 0;
	while (envp[n] != NULL)
		n++;
	char **out = calloc(n + 2, sizeof(*out));
	char *entry = malloc(PATH_MAX + 6);
	if (out == NULL || entry == NULL)
		return veil_fail(err, ENOMEM, "env"), NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (&envp[i] != home)
			out[k++] = envp[i];
	char dir[PATH_MAX] = "/";
	agent_passwd_home_in(root, uid, dir, sizeof(dir));
	snprintf(entry, PATH_MAX + 6, "HOME=%s", dir);
	out[k] = entry;
	return out;
}

static const char *search_path(char *const *envp)
{
	char *const *path = find_env(envp, "PATH");
	return path != NULL ? *path + 5 : AGENT_DEFAULT_PATH;
}

/* 14. execve, searching PATH from the process's own environment; returns the errno that explains the failure. */
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

/* 12 in full: the process's credentials, working directory and environment. */
static int become_the_user(const struct child_ctx *x, int root, char ***envp, veil_err_t *err)
{
	const Veil__Agent__V1__Process *proc = x->proc;
	bool entered = enter_cwd(proc, root, err) == 0;
	if (!entered && (*err)->errnum != EACCES && (*err)->errnum != EPERM)
		return -1;
	agent_wipe_error(err);
	if ((*envp = with_home(x->envp, root, proc->uid, err)) == NULL || drop_bounding_set(proc->capabilities, err) < 0 ||
	    set_user(proc, err) < 0 || (!entered && enter_cwd(proc, root, err) < 0))
		return -1;
	return apply_capabilities(proc->capabilities, err);
}

__attribute__((noreturn)) static void process_main(const struct child_ctx *x)
{
	veil_err_t err = NULL;
	int root = -1;
	char **envp = x->envp;
	if ((x->init && create_container(x, &err) < 0) ||
	    (root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    start_session(x, root, &err) < 0 || restrict_privileges(x->proc, &err) < 0 ||
	    load_seccomp(x, false, &err) < 0 || become_the_user(x, root, &envp, &err) < 0 ||
	    load_seccomp(x, true, &err) < 0) {
		if (err == NULL)
			veil_fail(&err, errno, "open /");
		report_failure(x, VEIL_RPC_FAILED_PRECONDITION, err);
	}
	close(root);
	int e = exec_program(x->argv, envp);
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
	    set_limits(x->proc, &err) < 0 || join_namespaces(x, &err) < 0 || close_other_fds(x, &err) < 0)
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
	int fds[24];
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

struct ns_kind {
	int flag;
	const char *name; /* in /proc/<pid>/ns */
};

/* setns order: the user namespace first, so that the others, which it owns,
 * can be entered with its privileges; the pid namespace last, which only
 * the joiner's children enter. */
static const struct ns_kind ns_order[] = {
	{ CLONE_NEWUSER, "user" }, { CLONE_NEWCGROUP, "cgroup" }, { CLONE_NEWUTS, "uts" },
	{ CLONE_NEWIPC, "ipc" },   { CLONE_NEWNET, "net" },	  { CLONE_NEWNS, "mnt" },
	{ CLONE_NEWTIME, "time" }, { CLONE_NEWPID, "pid" },
};

static int open_namespace(pid_t pid, const struct ns_kind *kind, struct child_ctx *x, struct child_fds *k,
			  veil_err_t *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "open %s", path);
	x->ns_fds[x->n_ns] = keep(k, fd);
	x->ns_types[x->n_ns++] = kind->flag;
	return 0;
}

/* The init's namespaces, for an exec to join. */
static int open_init_namespaces(const struct agent_container *c, pid_t init, struct child_ctx *x, struct child_fds *k,
				veil_err_t *err)
{
	int all = c->ns_flags | c->ns_joined | CLONE_NEWNS | CLONE_NEWCGROUP;
	for (size_t i = 0; i < sizeof(ns_order) / sizeof(ns_order[0]); i++)
		if ((all & ns_order[i].flag) && open_namespace(init, &ns_order[i], x, k, err) < 0)
			return -1;
	return 0;
}

/* For an init: the namespaces of other containers' inits that it shares. */
static int open_joined_namespaces(const struct agent_container *c, struct child_ctx *x, struct child_fds *k, int *code,
				  veil_err_t *err)
{
	for (size_t i = 0; i < sizeof(ns_order) / sizeof(ns_order[0]); i++) {
		if (!(c->ns_joined & ns_order[i].flag))
			continue;
		const char *other = agent_container_joined(c, ns_order[i].flag);
		const struct agent_container *o = agent_container_find(other);
		const struct agent_process *init = o != NULL ? agent_container_process(o, "") : NULL;
		if (init == NULL || init->exited) {
			*code = VEIL_RPC_FAILED_PRECONDITION;
			return veil_fail(err, 0, "container %s, whose %s namespace this one shares, is not running", other,
					 ns_order[i].name);
		}
		if (open_namespace(init->pid, &ns_order[i], x, k, err) < 0)
			return -1;
	}
	return 0;
}

/* What the joiner's user namespace maps: one write per file, as the kernel requires. */
static int write_id_map(pid_t pid, const char *file, Veil__Agent__V1__IdMapping *const *m, size_t n, veil_err_t *err)
{
	char path[64];
	/* 340 lines of three 10-digit numbers. */
	cleanup_wipe char *map = malloc(n * 34 + 1);
	if (map == NULL)
		return veil_fail(err, ENOMEM, "%s", file);
	size_t used = 0;
	for (size_t i = 0; i < n; i++)
		used += (size_t)sprintf(map + used, "%u %u %u\n", m[i]->container_id, m[i]->host_id, m[i]->size);
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	if (agent_write_file(path, map) < 0)
		return veil_fail(err, errno, "writing %s", file);
	return 0;
}

static int map_user_namespace(const struct agent_container *c, pid_t joiner, int maps_done, veil_err_t *err)
{
	const Veil__Agent__V1__CreateContainerRequest *s = c->spec;
	if (write_id_map(joiner, "uid_map", s->uid_mappings, s->n_uid_mappings, err) < 0 ||
	    write_id_map(joiner, "gid_map", s->gid_mappings, s->n_gid_mappings, err) < 0)
		return -1;
	if (write(maps_done, "1", 1) != 1)
		return veil_fail(err, errno, "resuming the joiner");
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
	if (n != (ssize_t)sizeof(*r) || (r->kind < REPORT_PID || r->kind > REPORT_USERNS))
		return veil_fail(err, n < 0 ? errno : 0, "reading the setup status");
	r->msg[sizeof(r->msg) - 1] = '\0';
	return 1;
}

/* Whether the process still bears AGENT_SETUP_COMM: it has not exec'd. */
static bool still_in_setup(pid_t pid)
{
	char path[64], comm[32];
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	return agent_read_file(path, comm, sizeof(comm)) > 0 && strcmp(comm, AGENT_SETUP_COMM "\n") == 0;
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

/* Waits for the joiner's report and reaps it: the process's pid, or why there
 * is none. A joiner that made a user namespace asks for its id maps first. */
static pid_t await_joiner(const struct agent_container *c, int status, int maps_done, pid_t joiner, int *code,
			  veil_err_t *err)
{
	struct setup_report r;
	int rc = read_report(status, &r, err);
	if (rc == 1 && r.kind == REPORT_USERNS) {
		if (maps_done < 0 || map_user_namespace(c, joiner, maps_done, err) < 0)
			rc = maps_done < 0 ? veil_fail(err, 0, "an unexpected request for id maps") : -1;
		else
			rc = read_report(status, &r, err);
	}
	if (rc <= 0 || r.kind == REPORT_USERNS)
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
	if (r.kind != REPORT_PID)
		return veil_fail(err, 0, "the joiner asked for id maps twice");
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
	struct child_ctx x = { .c = c, .proc = proc, .init = req->exec_id[0] == '\0', .console = -1, .maps_done = -1 };
	struct child_fds k = { .n = 0 };
	cleanup_close int console = -1;
	cleanup_close int status = -1;
	cleanup_close int maps_done = -1;
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
		else
			rc = open_joined_namespaces(c, &x, &k, code, err);
	}
	if (rc == 0 && pipe2(fds, O_CLOEXEC) < 0)
		rc = veil_fail(err, errno, "pipe");
	if (rc == 0) {
		status = fds[0];
		x.status = keep(&k, fds[1]);
	}
	if (rc == 0 && x.init && (c->ns_flags & CLONE_NEWUSER)) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			rc = veil_fail(err, errno, "pipe");
		else {
			x.maps_done = keep(&k, fds[0]);
			maps_done = fds[1];
		}
	}
	int span = agent_trace_begin("fork");
	pid_t joiner = rc == 0 ? fork() : -1;
	if (joiner == 0)
		joiner_main(&x);
	if (rc == 0 && joiner < 0)
		veil_fail(err, errno, "fork");
	/* The child has its copies; the agent's must go, or EOF on the status pipe never comes. */
	release(&k);
	if (joiner < 0)
		return -1;
	pid_t pid = await_joiner(c, status, maps_done, joiner, code, err);
	if (pid < 0)
		return -1;
	agent_trace_end(span);
	/* The process's setup in the container (namespaces, mounts) up to its exec. */
	span = agent_trace_begin("setup");
	rc = await_process(console, status, pid, req, p, code, err);
	agent_trace_end(span);
	if (rc < 0) {
		kill(pid, SIGKILL);
		return -1;
	}
	p->pid = pid;
	return 0;
}
