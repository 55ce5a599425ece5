#include "agent/scrub.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/channel.h"
#include "agent/clock.h"
#include "agent/container.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/process.h"
#include "agent/rootfs.h"
#include "agent/trace.h"
#include "lib/cleanup.h"

/* How long SIGKILLed processes get to be gone, as in DestroyContainer. */
#define KILL_WAIT_MS 5000
/* From include/linux/sched.h, which userspace does not get: marks kernel
 * threads, which no signal ends and which are no tenant's. */
#define PF_KTHREAD 0x00200000u
/* Deeper than the frames of any handler reach; the largest locals are 4 KiB. */
#define STACK_WIPE_BYTES (64u << 10)
/* Where the guest's own mqueue filesystem is mounted for a moment, to empty it. */
#define MQUEUE_DIR "/run/veil-mqueue"
#define MOUNTINFO "/proc/self/mountinfo"

static long boot_mounts;
static struct utsname boot_uts;

/* Lines in a file, or -1 with errno. */
static long count_lines(const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long lines = 0;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
			lines++;
	return n < 0 ? -1 : lines;
}

int agent_scrub_init(veil_err_t *err)
{
	if ((boot_mounts = count_lines(MOUNTINFO)) < 0)
		return veil_fail(err, errno, "reading " MOUNTINFO);
	if (uname(&boot_uts) < 0)
		return veil_fail(err, errno, "uname");
	return 0;
}

/* Whether /proc/<pid> is a process rather than a kernel thread; a zombie is one. */
static bool is_process(const char *pid)
{
	char path[64], stat[256];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, stat, sizeof(stat) - 1);
	if (n <= 0)
		return false; /* reaped meanwhile */
	stat[n] = '\0';
	/* "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may
	 * hold anything, but nothing after it holds a ')'. */
	const char *p = strrchr(stat, ')');
	unsigned flags;
	/* Unreadable, it counts: better one process too many than one too few. */
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) != 1)
		return true;
	return !(flags & PF_KTHREAD);
}

static int count_process(const char *name, unsigned char type, void *arg)
{
	(void)type;
	if (strspn(name, "0123456789") == strlen(name) && strcmp(name, "1") != 0 && is_process(name))
		(*(long *)arg)++;
	return 0;
}

/* Processes other than the agent, or -1 with errno. */
static long count_processes(void)
{
	long n = 0;
	return agent_each_entry("/proc", count_process, &n) < 0 ? -1 : n;
}

void agent_scrub_processes(void)
{
	/* From PID 1, kill(-1) reaches every process but the caller: those of
	 * every container and pid namespace, and whatever they left behind. */
	if (kill(-1, SIGKILL) < 0 && errno != ESRCH)
		agent_log_error("kill -1: %s", strerror(errno));
	int64_t deadline = agent_now_ms() + KILL_WAIT_MS;
	for (;;) {
		/* Orphans are the agent's children: every one gets reaped here. */
		agent_reap();
		long left = count_processes();
		if (left <= 0)
			return;
		if (agent_now_ms() >= deadline) {
			agent_log_error("scrub: %ld processes survive SIGKILL", left);
			return;
		}
		usleep(2000);
	}
}

static int remove_shm(int id)
{
	return shmctl(id, IPC_RMID, NULL);
}

static int remove_sem(int id)
{
	return semctl(id, 0, IPC_RMID);
}

static int remove_msg(int id)
{
	return msgctl(id, IPC_RMID, NULL);
}

/* System V IPC objects outlive their creators. They are in the guest's own
 * IPC namespace when a container did not ask for one of its own. */
static void remove_sysv_ipc(void)
{
	static const struct {
		const char *list;
		int (*remove)(int id);
	} kinds[] = {
		{ "/proc/sysvipc/shm", remove_shm },
		{ "/proc/sysvipc/sem", remove_sem },
		{ "/proc/sysvipc/msg", remove_msg },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cleanup_kfile struct agent_kfile k;
		if (agent_kfile_open(&k, kinds[i].list) < 0) {
			agent_log_error("scrub: %s: %s", kinds[i].list, strerror(errno));
			continue;
		}
		/* A header, then a line per object: "key id ...". */
		agent_kfile_line(&k);
		int id;
		for (const char *line; (line = agent_kfile_line(&k)) != NULL;)
			if (sscanf(line, "%*d %d", &id) == 1 && kinds[i].remove(id) < 0 && errno != EIDRM &&
			    errno != EINVAL)
				agent_log_error("scrub: removing IPC object %d: %s", id, strerror(errno));
	}
}

static int remove_mqueue(const char *name, unsigned char type, void *arg)
{
	(void)type;
	/* The name is the tenant's: not for the log, which the host reads. */
	if (unlinkat(*(const int *)arg, name, 0) < 0)
		agent_log_error("scrub: removing a message queue: %s", strerror(errno));
	return 0;
}

/* POSIX message queues outlive their creators too; only a mount of the
 * namespace's mqueue filesystem lists them. */
static void remove_mqueues(void)
{
	if (mkdir(MQUEUE_DIR, 0700) < 0 && errno != EEXIST) {
		agent_log_error("scrub: mkdir %s: %s", MQUEUE_DIR, strerror(errno));
		return;
	}
	if (mount("mqueue", MQUEUE_DIR, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		agent_log_error("scrub: mounting mqueue: %s", strerror(errno));
	} else {
		int dir = open(MQUEUE_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0 || agent_each_entry(MQUEUE_DIR, remove_mqueue, &dir) < 0)
			agent_log_error("scrub: %s: %s", MQUEUE_DIR, strerror(errno));
		if (dir >= 0)
			close(dir);
		if (umount2(MQUEUE_DIR, 0) < 0)
			agent_log_error("scrub: umount %s: %s", MQUEUE_DIR, strerror(errno));
	}
	if (rmdir(MQUEUE_DIR) < 0)
		agent_log_error("scrub: rmdir %s: %s", MQUEUE_DIR, strerror(errno));
}

/* A container without a uts namespace of its own may have renamed the guest. */
static void restore_names(void)
{
	if (sethostname(boot_uts.nodename, strlen(boot_uts.nodename)) < 0 ||
	    setdomainname(boot_uts.domainname, strlen(boot_uts.domainname)) < 0)
		agent_log_error("scrub: restoring the host name: %s", strerror(errno));
}

/* MemFree of /proc/meminfo, or -1. */
static long mem_free_kib(void)
{
	cleanup_kfile struct agent_kfile k;
	if (agent_kfile_open(&k, "/proc/meminfo") < 0)
		return -1;
	long kib;
	for (const char *line; (line = agent_kfile_line(&k)) != NULL;)
		if (sscanf(line, "MemFree: %ld kB", &kib) == 1)
			return kib;
	return -1;
}

int agent_scrub_guest(Veil__Agent__V1__ScrubResponse *resp, veil_err_t *err)
{
	int span = agent_trace_begin("leftovers");
	unsigned leftovers = agent_rootfs_leftovers();
	agent_trace_end(span);
	span = agent_trace_begin("ipc");
	remove_sysv_ipc();
	remove_mqueues();
	restore_names();
	agent_channel_wipe();
	agent_process_wipe_relay();
	agent_trace_end(span);
	/* Every record and buffer was wiped as it was freed; the whole free pages
	 * among them go back to the kernel, which zeroes freed pages. */
	malloc_trim(0);
	/* The page cache of the containers' images, and the dentries and inodes
	 * of every file they touched; freed pages are zeroed (init_on_free=1 is
	 * on the guest's command line). */
	span = agent_trace_begin("drop_caches");
	if (agent_write_file("/proc/sys/vm/drop_caches", "3") < 0)
		return veil_fail(err, errno, "writing /proc/sys/vm/drop_caches");
	agent_trace_end(span);
	long processes = count_processes(), mounts = count_lines(MOUNTINFO), free_kib = mem_free_kib();
	if (processes < 0 || mounts < 0 || free_kib < 0)
		return veil_fail(err, errno, "counting what is left");
	resp->processes_left = (uint32_t)processes;
	/* Detached, still alive: not in mountinfo, counted all the same. */
	resp->mounts_left = (uint32_t)(mounts > boot_mounts ? mounts - boot_mounts : 0) + leftovers;
	resp->containers_left = (uint32_t)agent_container_count();
	resp->mem_free_kib = (uint64_t)free_kib;
	return 0;
}

void agent_scrub_wipe_stack(void)
{
	uint8_t area[STACK_WIPE_BYTES];
	explicit_bzero(area, sizeof(area));
}
