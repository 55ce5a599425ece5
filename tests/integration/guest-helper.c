/* Runs inside test containers (built static by the tests that use it).
 *
 *   guest-helper watch LOG   busy-polls /proc for new processes and tries what a
 *                            hostile container would on each: open the guest's
 *                            /run/veil/containers through /proc/N/root, and read
 *                            /proc/N/fd entries for fds of the agent. Appends "seen N"
 *                            per new process and "escape-root N" or
 *                            "escape-fd N TARGET" per success to LOG. Never returns.
 *   guest-helper killer      busy-polls /proc and SIGKILLs every new process.
 *   guest-helper shm KEY     creates a System V shared memory segment with KEY. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#define MAX_SEEN 65536

static int log_fd;

static void note(const char *fmt, const char *a, const char *b)
{
	char line[512];
	int n = snprintf(line, sizeof(line), fmt, a, b);
	if (n > 0 && write(log_fd, line, (size_t)n) < 0)
		exit(1);
}

/* What only the agent holds: the channel to the host, its signalfd,
 * namespace fds, cgroup files. */
static int agent_fd_target(const char *target)
{
	static const char *const marks[] = { "/dev/vport", "signalfd", "pid:[", "mnt:[", "net:[", "uts:[", "ipc:[",
					     "cgroup:[", "/sys/fs/cgroup", "/dev/console" };
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(target, marks[i]) != NULL)
			return 1;
	return 0;
}

static void probe(const char *pid)
{
	char path[512], target[256];
	snprintf(path, sizeof(path), "/proc/%s/root/run/veil/containers", pid);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		note("escape-root %s%s\n", pid, "");
		close(fd);
	}
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (agent_fd_target(target))
			note("escape-fd %s %s\n", pid, target);
	}
	if (d != NULL)
		closedir(d);
}

/* Calls fn on every process that appears in /proc, once each. Never returns. */
__attribute__((noreturn)) static void each_new_process(void (*fn)(const char *pid))
{
	static unsigned char seen[MAX_SEEN];
	long self = getpid();
	for (;;) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char *end;
			long pid = strtol(e->d_name, &end, 10);
			if (*end != '\0' || pid <= 0 || pid >= MAX_SEEN || pid == self || seen[pid])
				continue;
			seen[pid] = 1;
			fn(e->d_name);
		}
		if (d != NULL)
			closedir(d);
	}
}

static void watch_one(const char *pid)
{
	probe(pid);
	note("seen %s%s\n", pid, "");
}

static void kill_one(const char *pid)
{
	kill((pid_t)strtol(pid, NULL, 10), SIGKILL);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "watch") == 0) {
		log_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (log_fd < 0)
			return 1;
		each_new_process(watch_one);
	}
	if (argc == 2 && strcmp(argv[1], "killer") == 0)
		each_new_process(kill_one);
	if (argc == 3 && strcmp(argv[1], "shm") == 0)
		return shmget((key_t)strtol(argv[2], NULL, 10), 4096, IPC_CREAT | 0600) < 0;
	fprintf(stderr, "usage: guest-helper watch LOG | killer | shm KEY\n");
	return 2;
}
