/* The agent's defences that run outside a guest: the clock rule of Hello,
 * path resolution inside a container's root, the stdin window, the kernel
 * file reader, the count of unmounted filesystems that live on, and a
 * confidential guest's rule for the host's files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/confidential.h"
#include "agent/hello.h"
#include "agent/kfile.h"
#include "agent/process.h"
#include "agent/resolve.h"
#include "agent/rootfs.h"
#include "proto/frame.h"
#include "tap.h"

#define S 1000000000LL

static bool step_ok(bool was_set, bool resumed, int64_t guest, int64_t host)
{
	veil_err_t err = NULL;
	int rc = agent_clock_step_allowed(was_set, resumed, guest, host, &err);
	veil_error_free(&err);
	return rc == 0;
}

static void test_clock(void)
{
	int64_t now = 1800000000 * S;
	CHECK(step_ok(false, false, 0, now) && step_ok(false, false, now, now - 86400 * S),
	      "a clock never set takes whatever the first Hello says");
	CHECK(step_ok(true, false, now, now + S / 2) && step_ok(true, false, now, now - S / 2),
	      "a set clock may be adjusted within the slew either way");
	CHECK(!step_ok(true, false, now, now + 3600 * S), "but not jump forward without a resume");
	CHECK(step_ok(true, true, now, now + 86400 * S), "a resumed VM's clock catches up by any amount");
	CHECK(!step_ok(true, false, now, now - 3600 * S) && !step_ok(true, true, now, now - 2 * S),
	      "and no Hello turns a set clock back beyond the slew, resumed or not");
}

/* A directory tree for resolution: root/sub/file, root/abs -> /sub (inside
 * the root), root/up -> ../../.. , root/magic -> /proc/self/root/etc (which
 * the root has no /proc for). */
static char root_path[] = "/tmp/veil-resolve.XXXXXX";

static int make_tree(void)
{
	static const char *const links[][2] = { { "abs", "/sub" }, { "up", "../../.." }, { "magic", "/proc/self/root/etc" } };
	char p[PATH_MAX];
	if (mkdtemp(root_path) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/sub", root_path);
	if (mkdir(p, 0755) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/sub/file", root_path);
	close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root_path, links[i][0]);
		if (symlink(links[i][1], p) < 0)
			return -1;
	}
	return open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int resolve_errno(int root, const char *path)
{
	int fd = agent_resolve(root, path, O_PATH);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

static void test_resolve(void)
{
	int root = make_tree();
	CHECK(root >= 0, "a tree to resolve in");
	CHECK(resolve_errno(root, "/sub/file") == 0 && resolve_errno(root, "/abs/file") == 0,
	      "paths and absolute symlinks resolve inside the root");
	CHECK(resolve_errno(root, "/up/sub/file") == 0 && resolve_errno(root, "/up/etc/passwd") == ENOENT,
	      "\"..\" stops at the root");
	CHECK(resolve_errno(root, "/magic/passwd") == ENOENT, "an absolute symlink finds the root's /proc, not the host's");

	int fd = agent_resolve_mkdir(root, "/abs/new/deeper");
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/sub/new/deeper", root_path);
	CHECK(fd >= 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode),
	      "missing directories are made inside the root, through its symlinks");
	if (fd >= 0)
		close(fd);
	close(root);

	/* Magic links need a /proc: the host's own root has one. */
	int host = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(resolve_errno(host, "/proc/self/root/etc/passwd") == ELOOP && resolve_errno(host, "/proc/self/cwd") == ELOOP,
	      "/proc/<pid>/root and /proc/<pid>/cwd are refused (ELOOP)");
	CHECK(resolve_errno(host, "/proc/self/status") == 0, "while the rest of /proc resolves");
	char made[64];
	snprintf(made, sizeof(made), "/tmp/veil-magic-%d", (int)getpid());
	char through[96];
	snprintf(through, sizeof(through), "/proc/self/root%s/dir", made);
	errno = 0;
	CHECK(agent_resolve_mkdir(host, through) < 0 && errno == ELOOP && access(made, F_OK) < 0,
	      "no directory is made through a magic link");
	close(host);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root_path);
	CHECK(system(cmd) == 0, "the tree is removed");
}

/* A process whose stdin pipe is full: what the host sends must wait in the window. */
static void test_stdin_window(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		abort();
	static uint8_t fill[1 << 16];
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	struct agent_process *proc = agent_process_new("x");
	proc->in.fd = p[1];
	const uint8_t *first = NULL;
	bool moved = false;
	for (int i = 0; i < 1000; i++) {
		uint8_t byte = (uint8_t)i;
		agent_process_stdin_data(proc, 0, &byte, 1);
		if (first == NULL)
			first = proc->in.buf;
		moved = moved || proc->in.buf != first;
	}
	CHECK(first != NULL && !moved && proc->in.len == 1000, "1000 one-byte frames wait in one window, allocated once");

	/* Drain the pipe, then write through the ring across its end. */
	while (read(p[0], fill, sizeof(fill)) > 0)
		;
	agent_process_write_input(proc);
	CHECK(proc->in.len == 0, "once the process reads, the window empties");
	bool in_order = true;
	for (size_t got = 0; got < 1000;) {
		uint8_t back[1000];
		ssize_t n = read(p[0], back, sizeof(back));
		if (n <= 0)
			break;
		for (ssize_t k = 0; k < n; k++)
			in_order = in_order && back[k] == (uint8_t)(got + (size_t)k);
		got += (size_t)n;
	}
	CHECK(in_order, "in the order it came");
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	static uint8_t big[VEIL_STDIN_WINDOW];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	agent_process_stdin_data(proc, 0, big, sizeof(big) - 1000); /* the ring wraps past its end */
	while (read(p[0], fill, sizeof(fill)) > 0)
		;
	agent_process_write_input(proc);
	size_t got = 0;
	bool same = true;
	ssize_t n;
	while ((n = read(p[0], fill, sizeof(fill))) > 0) {
		same = same && memcmp(fill, big + got, (size_t)n) == 0;
		got += (size_t)n;
		agent_process_write_input(proc);
	}
	CHECK(same && got == sizeof(big) - 1000 && proc->in.len == 0, "a window's worth wraps around the ring intact");
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	agent_process_stdin_data(proc, 0, big, sizeof(big));
	uint8_t more = 1;
	agent_process_stdin_data(proc, 0, &more, 1);
	CHECK(proc->in.fd < 0 && proc->in.buf == NULL, "a host going past the window loses stdin");
	close(p[0]);
	agent_process_free(proc);
}

static void test_kfile(void)
{
	char path[] = "/tmp/veil-kfile.XXXXXX";
	int fd = mkstemp(path);
	static char text[6000];
	memset(text, 'x', sizeof(text));
	memcpy(text, "one\ntwo\n", 8);
	text[sizeof(text) - 1] = 'z'; /* a long last line, without a newline */
	CHECK(fd >= 0 && write(fd, text, sizeof(text)) == (ssize_t)sizeof(text), "a file to read");
	close(fd);
	struct agent_kfile k;
	agent_kfile_open(&k, path);
	const char *a = agent_kfile_line(&k);
	bool ok = a != NULL && strcmp(a, "one") == 0;
	a = agent_kfile_line(&k);
	ok = ok && a != NULL && strcmp(a, "two") == 0;
	size_t rest = 0;
	while ((a = agent_kfile_line(&k)) != NULL)
		rest += strlen(a);
	CHECK(ok && rest == sizeof(text) - 8, "lines come back in order; one longer than the buffer in pieces");
	agent_kfile_close(&k);
	bool wiped = true;
	for (size_t i = 0; i < sizeof(k.buf); i++)
		wiped = wiped && k.buf[i] == 0;
	CHECK(wiped && k.fd == -1, "closing wipes the buffer");
	unlink(path);
}

/* Needs root, to mount in a mount namespace of its own. */
static void test_superblocks(void)
{
	char dir[] = "/tmp/veil-sb.XXXXXX";
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mkdtemp(dir) == NULL || mount("tmpfs", dir, "tmpfs", 0, "size=1m") < 0) {
		CHECK(1, "# SKIP cannot mount a tmpfs: %s", strerror(errno));
		return;
	}
	struct stat st;
	char file[64];
	snprintf(file, sizeof(file), "%s/held", dir);
	int held = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	stat(dir, &st);
	unsigned before = agent_superblocks_alive();
	umount2(dir, MNT_DETACH);
	agent_superblock_watch(st.st_dev);
	CHECK(held >= 0 && agent_superblocks_alive() == before + 1,
	      "a tmpfs detached while a file in it is open is counted alive");
	close(held);
	CHECK(agent_superblocks_alive() == before, "and no more once the last reference is gone");
	rmdir(dir);
}

/* What a host may send a confidential guest, whatever veil would: host
 * files only where the init-data allows, no shared tree, no bind mount, no
 * writable layer on a host disk. */
static void test_confidential_mounts(void)
{
	const struct veil_mount_policy allowed = { .n = 2, .destinations = { "/etc/hosts", "/etc/resolv.conf" } };
	Veil__Agent__V1__Mount hosts = VEIL__AGENT__V1__MOUNT__INIT, motd = VEIL__AGENT__V1__MOUNT__INIT,
			       shm = VEIL__AGENT__V1__MOUNT__INIT, bind = VEIL__AGENT__V1__MOUNT__INIT;
	hosts.destination = "/etc/hosts", hosts.type = "file";
	motd.destination = "/etc/motd", motd.type = "file";
	shm.destination = "/dev/shm", shm.type = "tmpfs";
	bind.destination = "/etc/resolv.conf", bind.type = "bind", bind.source = "m1";
	Veil__Agent__V1__Mount *mounts[2];
	Veil__Agent__V1__CreateContainerRequest req = VEIL__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	req.mounts = mounts;
	req.n_mounts = 2;
	veil_err_t err = NULL;
	int code = 0;

	mounts[0] = &shm, mounts[1] = &hosts;
	CHECK(agent_confidential_check_mounts(&req, &allowed, &code, &err) == 0, "a guest tmpfs and an allowed file pass");
	mounts[1] = &motd;
	int rc = agent_confidential_check_mounts(&req, &allowed, &code, &err);
	CHECK(rc < 0 && code == VEIL_RPC_PERMISSION_DENIED &&
		      strcmp(err->msg, "host file on /etc/motd refused: the init-data this guest checked does not name it "
				       "(veil.toml [mounts] allow)") == 0,
	      "a file the init-data does not name: PERMISSION_DENIED, naming it");
	veil_error_free(&err);
	mounts[1] = &bind;
	rc = agent_confidential_check_mounts(&req, &allowed, &code, &err);
	CHECK(rc < 0 && code == VEIL_RPC_PERMISSION_DENIED && strstr(err->msg, "shares no filesystem") != NULL,
	      "a bind mount from a shared tree, even on an allowed destination, is refused");
	veil_error_free(&err);
	mounts[1] = &hosts;
	req.shared_fs_tag = "veil-fs";
	rc = agent_confidential_check_mounts(&req, &allowed, &code, &err);
	CHECK(rc < 0 && code == VEIL_RPC_PERMISSION_DENIED && strstr(err->msg, "shared tree \"veil-fs\" refused") != NULL,
	      "a shared tree is refused");
	veil_error_free(&err);
	req.shared_fs_tag = "";
	req.upper_serial = "veil-upper";
	rc = agent_confidential_check_mounts(&req, &allowed, &code, &err);
	CHECK(rc < 0 && code == VEIL_RPC_PERMISSION_DENIED &&
		      strcmp(err->msg, "a confidential container's writable layer stays in guest memory (disk \"veil-upper\" "
				       "refused)") == 0,
	      "a writable layer on a host disk is refused");
	veil_error_free(&err);
}

int main(void)
{
	test_confidential_mounts();
	test_clock();
	test_resolve();
	test_stdin_window();
	test_kfile();
	test_superblocks();
	return tap_done();
}
