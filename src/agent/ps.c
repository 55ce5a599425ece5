#include "agent/ps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>

#include "agent/cgroup.h"
#include "agent/kfile.h"
#include "agent/spawn.h"
#include "agent/wipe.h"

struct listing {
	Veil__Agent__V1__ListProcessesResponse *resp;
	veil_err_t *err;
};

/* "pid (comm) state ppid ..." : comm may hold anything, but nothing after it a
 * ')'. Fields are counted from 1 as in proc(5): ppid 4, utime 14, stime 15,
 * starttime 22. */
static int parse_stat(char *stat, Veil__Agent__V1__ProcessInfo *info, char *comm, size_t comm_size)
{
	char *open = strchr(stat, '('), *close = strrchr(stat, ')');
	if (open == NULL || close == NULL || close < open)
		return -1;
	snprintf(comm, comm_size, "%.*s", (int)(close - open - 1), open + 1);
	unsigned long long field[23] = { 0 };
	char *p = close + 2;
	/* Field 3, the state, is a letter; the rest up to 22 are numbers. */
	for (int i = 3; i <= 22 && *p != '\0'; i++) {
		char *end;
		field[i] = i == 3 ? 0 : strtoull(p, &end, 10);
		p = strchr(p, ' ');
		if (p == NULL)
			return i == 22 ? 0 : -1;
		p++;
	}
	info->ppid = (uint32_t)field[4];
	info->cpu_ticks = field[14] + field[15];
	info->start_ticks = field[22];
	return 0;
}

/* The real uid from "Uid:\treal\teffective\tsaved\tfs". */
static void read_uid(pid_t pid, Veil__Agent__V1__ProcessInfo *info)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	cleanup_kfile struct agent_kfile k;
	if (agent_kfile_open(&k, path) < 0)
		return;
	for (const char *line; (line = agent_kfile_line(&k)) != NULL;)
		if (strncmp(line, "Uid:", 4) == 0) {
			info->uid = (uint32_t)strtoul(line + 4, NULL, 10);
			return;
		}
}

static char *read_cmdline(pid_t pid)
{
	char path[64];
	char *buf = malloc(AGENT_PS_CMDLINE_MAX + 1);
	if (buf == NULL)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	long n = agent_read_file(path, buf, AGENT_PS_CMDLINE_MAX + 1);
	if (n < 0)
		n = 0;
	/* Arguments are NUL-separated, the last one NUL-terminated. */
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (long i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return buf;
}

static int add_process(pid_t pid, int pidfd, void *arg)
{
	struct listing *l = arg;
	char path[64], stat[1024], comm[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	Veil__Agent__V1__ProcessInfo info = VEIL__AGENT__V1__PROCESS_INFO__INIT;
	info.pid = (uint32_t)pid;
	if (agent_read_file(path, stat, sizeof(stat)) <= 0 || parse_stat(stat, &info, comm, sizeof(comm)) < 0)
		return 0; /* gone meanwhile */
	explicit_bzero(stat, sizeof(stat));
	/* Not the container's program yet: the agent's copy that sets it up. */
	if (strcmp(comm, AGENT_SETUP_COMM) == 0)
		return 0;
	read_uid(pid, &info);
	/* Still alive after the reads, the process kept its pid: they were its own. */
	if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
		return 0;
	Veil__Agent__V1__ListProcessesResponse *resp = l->resp;
	if (resp->n_processes == AGENT_PS_MAX)
		return veil_fail(l->err, 0, "the container has more than %d processes", AGENT_PS_MAX);
	Veil__Agent__V1__ProcessInfo *p = malloc(sizeof(*p));
	if (p == NULL)
		return veil_fail(l->err, ENOMEM, "process list");
	*p = info;
	p->comm = strdup(comm);
	p->cmdline = read_cmdline(pid);
	resp->processes[resp->n_processes++] = p;
	if (p->comm == NULL || p->cmdline == NULL)
		return veil_fail(l->err, ENOMEM, "process list");
	return 0;
}

int agent_list_processes(const char *id, Veil__Agent__V1__ListProcessesResponse *resp, veil_err_t *err)
{
	*resp = (Veil__Agent__V1__ListProcessesResponse)VEIL__AGENT__V1__LIST_PROCESSES_RESPONSE__INIT;
	resp->processes = calloc(AGENT_PS_MAX, sizeof(*resp->processes));
	if (resp->processes == NULL)
		return veil_fail(err, ENOMEM, "process list");
	struct listing l = { .resp = resp, .err = err };
	int rc = agent_cgroup_each_process(id, add_process, &l);
	if (rc < 0 && *err == NULL)
		veil_fail(err, errno, "/proc");
	return rc < 0 ? -1 : 0;
}

void agent_list_processes_free(Veil__Agent__V1__ListProcessesResponse *resp)
{
	for (size_t i = 0; i < resp->n_processes; i++) {
		agent_wipe_free(resp->processes[i]->comm);
		agent_wipe_free(resp->processes[i]->cmdline);
		agent_wipe_free(resp->processes[i]);
	}
	agent_wipe_free(resp->processes);
	resp->processes = NULL;
	resp->n_processes = 0;
}
