#include "runtime/view.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/spawn.h"

/* The host's mount namespace, once this process has left it for a view. */
static int host_mntns = -1;

void veil_view_leave_in_child(void)
{
	if (host_mntns >= 0)
		(void)!setns(host_mntns, CLONE_NEWNS);
}

/* dest in the view, beneath its root whatever symlinks the container put on
 * the way (its rootfs is its own to change). */
static int resolve_in(int root, const char *dest)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root, dest, &how, sizeof(how));
}

/* The shared bind mounts on their destinations in the view at root. A
 * destination the host's rootfs lacks lies under a mount the guest made
 * (a tmpfs): what is there lives in the guest only. */
static int bind_volumes(int root, const struct oci_spec *spec, const struct veil_volumes *v, veil_err_t *err)
{
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		if (v->mounts[i].route != VEIL_MOUNT_SHARED)
			continue;
		bool is_dir;
		cleanup_close int clone =
			veil_clone_mount(m->source, veil_mount_readonly(m), veil_mount_recursive(m), &is_dir, err);
		if (clone < 0)
			return -1;
		cleanup_close int target = resolve_in(root, m->destination);
		if (target < 0 && errno == ENOENT)
			continue;
		if (target < 0 || move_mount(clone, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			return veil_fail(err, errno, "%s on %s in the host's view", m->source, m->destination);
	}
	return 0;
}

/* In a child: a mount namespace whose root is the view. */
static int build(const char *rootfs, const struct oci_spec *spec, const struct veil_volumes *v, const char *at,
		 veil_err_t *err)
{
	bool is_dir;
	cleanup_close int root_clone = veil_clone_mount(rootfs, spec->root_readonly, true, &is_dir, err);
	if (root_clone < 0)
		return -1;
	/* Slave: nothing mounted here reaches the host's namespace. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return veil_fail(err, errno, "a mount namespace for the view");
	if (move_mount(root_clone, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return veil_fail(err, errno, "mounting the rootfs on %s", at);
	cleanup_close int root = open(at, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return veil_fail(err, errno, "%s", at);
	if (bind_volumes(root, spec, v, err) < 0)
		return -1;
	if (chdir(at) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return veil_fail(err, errno, "making %s the view's root", at);
	return 0;
}

/* Joins the namespace of pid, keeping this process's root and working
 * directory where they are: the host's. */
static int join(pid_t pid, veil_err_t *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	cleanup_close int view = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_close int host = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (view < 0 || host < 0 || root < 0 || cwd < 0)
		return veil_fail(err, errno, "opening the namespaces");
	if (setns(view, CLONE_NEWNS) < 0)
		return veil_fail(err, errno, "joining the view");
	/* setns made the view our root; the host's files stay reachable through
	 * the fds of its root and of where we were. */
	if (fchdir(root) < 0 || chroot(".") < 0 || fchdir(cwd) < 0) {
		int e = errno;
		(void)!setns(host, CLONE_NEWNS);
		(void)!fchdir(cwd);
		return veil_fail(err, e, "keeping the host's root");
	}
	host_mntns = veil_steal_fd(host);
	return 0;
}

int veil_view_enter(const char *rootfs, const struct oci_spec *spec, const struct veil_volumes *v, const char *dir,
		    veil_err_t *err)
{
	cleanup_free char *at = NULL;
	if (asprintf(&at, "%s/view", dir) < 0)
		abort();
	if (mkdir(at, 0700) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "creating %s", at);
	int channel[2];
	pid_t pid = veil_fork_with_channel(SOCK_SEQPACKET, channel, err);
	if (pid < 0) {
		rmdir(at);
		return -1;
	}
	if (pid == 0) {
		close(channel[0]);
		veil_err_t child_err = NULL;
		const char *reply = build(rootfs, spec, v, at, &child_err) == 0 ? "" : child_err->msg;
		(void)!send(channel[1], reply, strlen(reply) + 1, 0);
		/* Holds the namespace until the parent is in it (or gone). */
		char byte;
		(void)!read(channel[1], &byte, 1);
		_exit(0);
	}
	close(channel[1]);
	char reply[sizeof(((struct veil_error *)NULL)->msg)] = "";
	ssize_t n = recv(channel[0], reply, sizeof(reply) - 1, 0);
	int rc = 0;
	if (n <= 0)
		rc = veil_fail(err, n < 0 ? errno : EPIPE, "building the host's view of the container");
	else if (reply[0] != '\0')
		rc = veil_fail(err, 0, "%s", reply);
	else
		rc = join(pid, err);
	close(channel[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	/* Only the view's namespace had anything mounted there. */
	rmdir(at);
	if (rc < 0)
		return veil_fail_context(err, "the host's view of the container (podman cp)");
	return 0;
}
