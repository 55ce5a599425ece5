#include "hv/virtiofsd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/strv.h"

/* A shared tree holds the rootfs and at most one entry per spec mount. */
#define MAX_EXPORTS 128
/* Once its connection is closed the daemon exits by itself, reaping the
 * child it runs in its own pid namespace; SIGKILL if it takes longer. */
#define STOP_GRACE_MS 1000
/* SIGKILL takes effect at once; this only bounds a daemon stuck in the kernel. */
#define STOP_WAIT_MS 5000

void veil_virtiofsd_init(struct veil_virtiofsd *d)
{
	*d = (struct veil_virtiofsd){ .pidfd = -1, .vhost_fd = -1, .stderr_fd = -1 };
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name);
	return len > 0 && len < 64 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* What the child needs to build the tree, all prepared before the fork. */
struct tree {
	const char *root;      /* the tmpfs's mount point */
	char **targets;        /* root/name per export */
	const int *clones;     /* the detached bind mounts, per export */
	const bool *is_dir;
	size_t n;
};

/* In the child, before virtiofsd runs: a mount namespace of its own whose
 * mounts never reach the host's, and the tree in it. Raw syscalls only. */
static int build_tree(void *arg)
{
	const struct tree *t = arg;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("veil-fs", t->root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") < 0)
		return errno;
	for (size_t i = 0; i < t->n; i++) {
		int rc = t->is_dir[i] ? mkdir(t->targets[i], 0755) : mknod(t->targets[i], S_IFREG | 0644, 0);
		if (rc < 0 || move_mount(t->clones[i], "", AT_FDCWD, t->targets[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return errno;
	}
	/* The guest can add nothing beside what is shared. */
	if (mount(NULL, t->root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return errno;
	return 0;
}

/* A listening socket bound in dir, and a connection to it: the listener for
 * virtiofsd, the connection for QEMU. The file is gone when this returns.
 * Named through an fd on dir: a state directory under containerd's --root
 * and a 64-character ID is longer than a socket address may be. */
static int socket_pair_via(const char *dir, int *listener, int *conn, veil_err_t *err)
{
	static const char name[] = "virtiofsd.sock";
	cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return veil_fail(err, errno, "%s", dir);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dfd, name);
	cleanup_close int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cleanup_close int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || c < 0)
		return veil_fail(err, errno, "socket");
	unlinkat(dfd, name, 0);
	int rc = bind(l, (struct sockaddr *)&addr, sizeof(addr));
	if (rc == 0 && (fchmodat(dfd, name, 0600, 0) < 0 || listen(l, 1) < 0 ||
			connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0))
		rc = -1;
	int saved = errno;
	unlinkat(dfd, name, 0);
	if (rc < 0)
		return veil_fail(err, saved, "virtiofsd socket %s/%s", dir, name);
	*listener = veil_steal_fd(l);
	*conn = veil_steal_fd(c);
	return 0;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		veil_closep(&fds[i]);
}

int veil_virtiofsd_start(const struct veil_virtiofsd_opts *o, struct veil_virtiofsd *d, veil_err_t *err)
{
	veil_virtiofsd_init(d);
	if (o->n_exports > MAX_EXPORTS)
		return veil_fail(err, E2BIG, "more than %d paths to share with the guest", MAX_EXPORTS);
	cleanup_free char *root = NULL;
	if (asprintf(&root, "%s/fs", o->dir) < 0)
		abort();
	int clones[MAX_EXPORTS];
	bool is_dir[MAX_EXPORTS];
	char *targets[MAX_EXPORTS];
	size_t n = 0;
	int rc = 0;
	for (; rc == 0 && n < o->n_exports; n++) {
		const struct veil_fs_export *e = &o->exports[n];
		targets[n] = NULL;
		if (!name_ok(e->name)) {
			clones[n] = -1;
			rc = veil_fail(err, EINVAL, "invalid name \"%s\" in the shared tree", e->name);
		} else if ((clones[n] = veil_clone_mount(e->host_path, e->readonly, e->recursive, &is_dir[n], err)) < 0) {
			rc = -1;
		} else if (asprintf(&targets[n], "%s/%s", root, e->name) < 0) {
			abort();
		}
	}
	int listener = -1;
	if (rc == 0 && mkdir(root, 0700) < 0 && errno != EEXIST)
		rc = veil_fail(err, errno, "creating %s", root);
	if (rc == 0)
		rc = socket_pair_via(o->dir, &listener, &d->vhost_fd, err);
	char tmpl[] = "/tmp/veil-virtiofsd.XXXXXX";
	if (rc == 0 && (d->stderr_fd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		rc = veil_fail(err, errno, "mkostemp");
	else if (rc == 0)
		unlink(tmpl);

	if (rc == 0) {
		struct tree t = { .root = root, .targets = targets, .clones = clones, .is_dir = is_dir, .n = n };
		cleanup_strv struct veil_strv argv = { 0 };
		veil_strv_push(&argv, o->daemon);
		veil_strv_push(&argv, "--fd=3");
		veil_strv_push(&argv, "-o");
		veil_strv_pushf(&argv, "source=%s", root);
		veil_strv_push(&argv, "-o");
		veil_strv_pushf(&argv, "cache=%s", o->cache);
		veil_strv_push(&argv, "-o");
		veil_strv_push(&argv, "log_level=warn");
		const int pass[] = { listener };
		struct veil_spawn_opts sp = {
			.pass_fds = pass, .n_pass_fds = 1, .stdout_fd = d->stderr_fd, .stderr_fd = d->stderr_fd,
			.new_session = true, .die_with_parent = o->die_with_parent, .prepare = build_tree, .prepare_arg = &t,
		};
		rc = veil_spawn(argv.items, &sp, &d->pid, err);
		if (rc < 0)
			veil_fail_context(err, "starting virtiofsd (%s)", o->daemon);
	}
	/* The daemon has its own copies now. */
	veil_closep(&listener);
	close_all(clones, n);
	for (size_t i = 0; i < n; i++)
		free(targets[i]);
	if (rc == 0 && (d->pidfd = veil_pidfd_open(d->pid)) < 0)
		rc = veil_fail(err, errno, "pidfd_open");
	d->root = veil_steal_ptr(root);
	if (rc < 0) {
		veil_virtiofsd_stop(d);
		return -1;
	}
	log_debug("virtiofsd pid %d serves %zu paths from %s", d->pid, n, d->root);
	return 0;
}

int veil_virtiofsd_check(struct veil_virtiofsd *d, veil_err_t *err)
{
	if (d->pid <= 0)
		return 0;
	int status;
	pid_t rc = waitpid(d->pid, &status, WNOHANG);
	if (rc == 0)
		return 0;
	d->pid = 0;
	char line[512] = "";
	if (d->stderr_fd >= 0)
		veil_last_line_of(d->stderr_fd, line, sizeof(line));
	if (rc > 0 && WIFSIGNALED(status))
		return veil_fail(err, 0, "virtiofsd was killed by signal %d%s%s", WTERMSIG(status), *line ? ": " : "", line);
	return veil_fail(err, 0, "virtiofsd exited%s%s", *line ? ": " : "", line);
}

void veil_virtiofsd_stop(struct veil_virtiofsd *d)
{
	veil_close_fd(&d->vhost_fd);
	if (d->pid > 0) {
		struct pollfd gone = { .fd = d->pidfd, .events = POLLIN };
		if (d->pidfd >= 0)
			while (poll(&gone, 1, STOP_GRACE_MS) < 0 && errno == EINTR)
				;
		veil_kill_and_reap(d->pid, d->pidfd, STOP_WAIT_MS);
		d->pid = 0;
	}
	veil_close_fd(&d->pidfd);
	veil_close_fd(&d->stderr_fd);
	if (d->root != NULL)
		rmdir(d->root);
	free(d->root);
	d->root = NULL;
}
