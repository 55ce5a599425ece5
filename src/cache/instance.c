#include "cache/instance.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/spawn.h"

/* Whole command lines of QEMU run to a few KiB. */
#define CMDLINE_MAX (64u << 10)
#define LEFTOVER_WAIT_MS 5000
#define MAX_LEFTOVERS 256
#define CONSOLE_SUFFIX ".console"

int cache_instance_init(struct cache_instance *in, const char *endpoint, veil_err_t *err)
{
	memset(in, 0, sizeof(*in));
	if (endpoint[0] != '/' || strlen(endpoint) >= sizeof(in->endpoint))
		return veil_fail(err, EINVAL, "vm_cache_endpoint %s: not an absolute path that fits a socket address",
				 endpoint);
	snprintf(in->endpoint, sizeof(in->endpoint), "%s", endpoint);
	snprintf(in->dir, sizeof(in->dir), "%s.d", endpoint);
	snprintf(in->lock_path, sizeof(in->lock_path), "%s/lock", in->dir);
	snprintf(in->warm_up_image, sizeof(in->warm_up_image), "%s/warm-up.erofs", in->dir);
	/* FNV-1a: only needs to tell endpoints on one host apart in process listings. */
	uint32_t h = 2166136261u;
	for (const char *p = endpoint; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(in->tag, sizeof(in->tag), "%08x", h);
	return 0;
}

void cache_vm_name(const struct cache_instance *in, pid_t daemon, unsigned n, char *out, size_t size)
{
	snprintf(out, size, "cache-%s-%d-%u", in->tag, (int)daemon, n);
}

void cache_console_path(const struct cache_instance *in, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s" CONSOLE_SUFFIX, in->dir, name);
}

static pid_t read_pid(int fd)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	long pid = strtol(buf, NULL, 10);
	return pid > 0 && pid <= INT32_MAX ? (pid_t)pid : 0;
}

int cache_lock(const struct cache_instance *in, pid_t *holder, veil_err_t *err)
{
	*holder = 0;
	/* A daemon that is exiting removes the directory and the lock file while
	 * holding the lock; whoever opened the old file then locks a dead inode.
	 * So a lock only counts once the path still names the file it was taken on. */
	for (int attempt = 0; attempt < 100; attempt++) {
		if (veil_mkdir_p(in->dir, 0700, err) < 0)
			return -1;
		cleanup_close int fd = open(in->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return veil_fail(err, errno, "opening %s", in->lock_path);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno != EWOULDBLOCK)
				return veil_fail(err, errno, "locking %s", in->lock_path);
			*holder = read_pid(fd);
			if (*holder == 0)
				return veil_fail(err, 0, "factory is already running (starting up)");
			return veil_fail(err, 0, "factory is already running (pid %d)", (int)*holder);
		}
		struct stat by_fd, by_path;
		if (fstat(fd, &by_fd) == 0 && stat(in->lock_path, &by_path) == 0 && by_fd.st_ino == by_path.st_ino &&
		    by_fd.st_dev == by_path.st_dev)
			return veil_steal_fd(fd);
	}
	return veil_fail(err, EAGAIN, "cannot take %s: it keeps being removed", in->lock_path);
}

int cache_lock_set_pid(int lock_fd, pid_t pid, veil_err_t *err)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (ftruncate(lock_fd, 0) < 0 || pwrite(lock_fd, buf, (size_t)len, 0) != len)
		return veil_fail(err, errno, "writing the factory's pid");
	return 0;
}

pid_t cache_lock_holder(const struct cache_instance *in)
{
	cleanup_close int fd = open(in->lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	/* A shared lock is refused exactly while a daemon holds its exclusive one. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return 0;
	return errno == EWOULDBLOCK ? read_pid(fd) : 0;
}

/* ---- leftovers ---- */

/* True if argv (NUL-separated, NUL-terminated) has `flag` followed by value,
 * or by a value that starts with it when prefix is set. */
static bool has_named_arg(const char *argv, size_t len, const char *flag, const char *value, bool prefix)
{
	const char *end = argv + len;
	for (const char *a = argv; a < end; a += strlen(a) + 1) {
		const char *next = a + strlen(a) + 1;
		if (next >= end || strcmp(a, flag) != 0)
			continue;
		if (prefix ? strncmp(next, value, strlen(value)) == 0 : strcmp(next, value) == 0)
			return true;
	}
	return false;
}

enum proc_kind { PROC_OTHER, PROC_KEEPER, PROC_QEMU };

static enum proc_kind classify(const struct cache_instance *in, pid_t pid)
{
	char path[64], keeper_prefix[64], qemu_prefix[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	snprintf(keeper_prefix, sizeof(keeper_prefix), "cache-%s-", in->tag);
	snprintf(qemu_prefix, sizeof(qemu_prefix), "veil-cache-%s-", in->tag);
	size_t len;
	cleanup_free char *argv = veil_read_file(path, CMDLINE_MAX, &len, NULL);
	if (argv == NULL || len == 0 || argv[len - 1] != '\0')
		return PROC_OTHER;
	if (has_named_arg(argv, len, "--name", keeper_prefix, true))
		return PROC_KEEPER;
	if (has_named_arg(argv, len, "-name", qemu_prefix, true))
		return PROC_QEMU;
	return PROC_OTHER;
}

static bool comm_is(pid_t pid, const char *name)
{
	char path[64], comm[32] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	cleanup_fclose FILE *f = fopen(path, "re");
	if (f == NULL || fgets(comm, sizeof(comm), f) == NULL)
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, name) == 0;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], stat[512] = "";
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_fclose FILE *f = fopen(path, "re");
	if (f == NULL || fgets(stat, sizeof(stat), f) == NULL)
		return 0;
	/* The command name in parentheses may hold anything, spaces included. */
	const char *p = strrchr(stat, ')');
	int ppid = 0;
	if (p == NULL || sscanf(p, ") %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

/* The pid a /proc entry names, 0 for entries that are not processes. */
static pid_t proc_entry_pid(const struct dirent *e)
{
	char *end;
	long pid = strtol(e->d_name, &end, 10);
	return *end == '\0' && pid > 0 && pid <= INT32_MAX ? (pid_t)pid : 0;
}

/* Is `name` the value of --name in a claimed keeper's argv? Keeps its console file. */
static bool is_claimed_keeper_name(const struct cache_instance *in, const char *name)
{
	DIR *d = opendir("/proc");
	if (d == NULL)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		pid_t pid = proc_entry_pid(e);
		if (pid == 0 || !comm_is(pid, CACHE_KEEPER_CLAIMED) || classify(in, pid) != PROC_KEEPER)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		size_t len;
		cleanup_free char *argv = veil_read_file(path, CMDLINE_MAX, &len, NULL);
		found = argv != NULL && len > 0 && argv[len - 1] == '\0' && has_named_arg(argv, len, "--name", name, false);
	}
	closedir(d);
	return found;
}

static void remove_stale_consoles(const struct cache_instance *in)
{
	DIR *d = opendir(in->dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name), slen = strlen(CONSOLE_SUFFIX);
		if (len <= slen || strcmp(e->d_name + len - slen, CONSOLE_SUFFIX) != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(len - slen), e->d_name);
		if (!is_claimed_keeper_name(in, name))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* Opens a pidfd first and classifies after: what the pidfd names cannot be a
 * reused pid, so the signal reaches the process that was classified. */
static void kill_leftover(const struct cache_instance *in, pid_t pid, int *pidfds, int *n)
{
	if (pid == getpid() || *n >= MAX_LEFTOVERS)
		return;
	cleanup_close int pidfd = veil_pidfd_open(pid);
	if (pidfd < 0)
		return;
	enum proc_kind kind = classify(in, pid);
	if (kind == PROC_OTHER)
		return;
	if (kind == PROC_KEEPER && !comm_is(pid, CACHE_KEEPER_POOLED))
		return;
	/* A QEMU whose keeper lives belongs to that keeper: pooled ones die with
	 * their keeper, claimed ones serve a container. */
	if (kind == PROC_QEMU && classify(in, parent_of(pid)) == PROC_KEEPER)
		return;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
		return;
	log_warn("factory: killed %s %d left by a previous factory", kind == PROC_KEEPER ? "keeper" : "QEMU",
		 (int)pid);
	pidfds[(*n)++] = veil_steal_fd(pidfd);
}

int cache_cleanup_leftovers(const struct cache_instance *in)
{
	int pidfds[MAX_LEFTOVERS], n = 0;
	/* Killing a pooled keeper kills its QEMU (parent-death signal): one pass
	 * for keepers and orphans, a second for QEMUs that outlived theirs. */
	for (int pass = 0; pass < 2; pass++) {
		DIR *d = opendir("/proc");
		if (d == NULL)
			break;
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (proc_entry_pid(e) > 0)
				kill_leftover(in, proc_entry_pid(e), pidfds, &n);
		closedir(d);
		long long deadline = veil_now_ms() + LEFTOVER_WAIT_MS;
		for (int i = 0; i < n; i++) {
			struct pollfd p = { .fd = pidfds[i], .events = POLLIN };
			long long left = deadline - veil_now_ms();
			if (poll(&p, 1, left > 0 ? (int)left : 0) == 0)
				log_warn("factory: a leftover process outlived SIGKILL for %d ms", LEFTOVER_WAIT_MS);
		}
	}
	for (int i = 0; i < n; i++)
		close(pidfds[i]);
	struct stat st;
	if (lstat(in->endpoint, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(in->endpoint);
	remove_stale_consoles(in);
	return n;
}

void cache_remove_files(const struct cache_instance *in)
{
	struct stat st;
	if (lstat(in->endpoint, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(in->endpoint);
	unlink(in->warm_up_image);
	unlink(in->lock_path);
	rmdir(in->dir);
}
