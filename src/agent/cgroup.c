#include "agent/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/devicefilter.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/validate.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_VEIL CGROUP_ROOT "/veil"

/* Every controller the guest kernel has for linux.resources; a missing one
 * only fails the resources that need it. */
static const char *const controllers[] = { "+cpu", "+cpuset", "+io", "+memory", "+pids", "+hugetlb", "+misc" };

static void enable_controllers(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	/* One at a time: the kernel rejects the whole write if any one is missing. */
	for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
		if (agent_write_file(path, controllers[i]) < 0)
			agent_log_debug("%s: %s: %s", path, controllers[i], strerror(errno));
}

void agent_cgroup_init(void)
{
	enable_controllers(CGROUP_ROOT);
	if (mkdir(CGROUP_VEIL, 0755) < 0 && errno != EEXIST) {
		agent_log_error("mkdir %s: %s", CGROUP_VEIL, strerror(errno));
		return;
	}
	enable_controllers(CGROUP_VEIL);
}

static void cgroup_path(char *out, size_t size, const char *id, const char *file)
{
	snprintf(out, size, CGROUP_VEIL "/%s%s%s", id, file ? "/" : "", file ? file : "");
}

static int set_limit(const char *id, const char *file, const char *value, veil_err_t *err)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, file);
	if (agent_write_file(path, value) < 0)
		return veil_fail(err, errno, "setting %s to %s", file, value);
	return 0;
}

/* An OCI limit as cgroup v2 writes it: -1 is "max". */
static void limit_value(char *out, size_t size, int64_t v)
{
	if (v == -1)
		snprintf(out, size, "max");
	else
		snprintf(out, size, "%" PRId64, v);
}

uint64_t agent_cpu_weight(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares <= 2)
		return 1;
	if (shares >= 262144)
		return 10000;
	/* The quadratic the cgroups library fits through (2, 1), (1024, 100)
	 * and (262144, 10000), so that the default shares give the default weight. */
	double l = log2((double)shares);
	return (uint64_t)ceil(pow(10, (l * l + 125 * l) / 612.0 - 7.0 / 34.0));
}

uint64_t agent_io_weight(uint32_t blkio_weight)
{
	return blkio_weight == 0 ? 0 : 1 + ((uint64_t)blkio_weight - 10) * 9999 / 990;
}

int agent_swap_max(int64_t swap, int64_t memory, int64_t *out)
{
	/* The spec's swap is memory plus swap; cgroup v2's is the swap alone. */
	if (memory == -1 && swap == 0)
		*out = -1;
	else if (swap == -1 || swap == 0 || memory == -1)
		*out = swap;
	else if (memory == 0 || swap < memory)
		return -1;
	else
		*out = swap - memory;
	return 0;
}

static int set_memory(const char *id, const Veil__Agent__V1__Resources *r, veil_err_t *err)
{
	char value[32];
	int64_t swap;
	if (agent_swap_max(r->memory_swap, r->memory_limit, &swap) < 0)
		return veil_fail(err, 0, "memory swap %" PRId64 " needs a memory limit no greater than it", r->memory_swap);
	/* The guest has no swap, so any swap limit holds; without swap the
	 * kernel has no memory.swap.max to set. */
	char path[256];
	cgroup_path(path, sizeof(path), id, "memory.swap.max");
	if (swap != 0 && access(path, F_OK) == 0) {
		limit_value(value, sizeof(value), swap);
		if (set_limit(id, "memory.swap.max", value, err) < 0)
			return -1;
	}
	if (r->memory_limit != 0) {
		limit_value(value, sizeof(value), r->memory_limit);
		if (set_limit(id, "memory.max", value, err) < 0)
			return -1;
	}
	if (r->memory_reservation != 0) {
		limit_value(value, sizeof(value), r->memory_reservation);
		if (set_limit(id, "memory.low", value, err) < 0)
			return -1;
	}
	return 0;
}

static int set_cpu(const char *id, const Veil__Agent__V1__Resources *r, veil_err_t *err)
{
	char value[64];
	if (r->has_cpu_idle) {
		snprintf(value, sizeof(value), "%" PRId64, r->cpu_idle);
		if (set_limit(id, "cpu.idle", value, err) < 0)
			return -1;
	}
	if (r->cpu_shares != 0) {
		snprintf(value, sizeof(value), "%" PRIu64, agent_cpu_weight(r->cpu_shares));
		if (set_limit(id, "cpu.weight", value, err) < 0)
			return -1;
	}
	if (r->cpu_quota != 0 || r->cpu_period != 0) {
		char quota[32] = "max";
		if (r->cpu_quota > 0)
			snprintf(quota, sizeof(quota), "%" PRId64, r->cpu_quota);
		snprintf(value, sizeof(value), "%s %" PRIu64, quota, r->cpu_period ? r->cpu_period : 100000);
		if (set_limit(id, "cpu.max", value, err) < 0)
			return -1;
	}
	if (r->has_cpu_burst) {
		snprintf(value, sizeof(value), "%" PRIu64, r->cpu_burst);
		if (set_limit(id, "cpu.max.burst", value, err) < 0)
			return -1;
	}
	if (r->cpuset_cpus[0] != '\0' && set_limit(id, "cpuset.cpus", r->cpuset_cpus, err) < 0)
		return -1;
	if (r->cpuset_mems[0] != '\0' && set_limit(id, "cpuset.mems", r->cpuset_mems, err) < 0)
		return -1;
	return 0;
}

/* As runc: BFQ's weight where the guest's scheduler is BFQ, io.weight (on
 * its own scale) otherwise. */
static int set_io(const char *id, const Veil__Agent__V1__Resources *r, veil_err_t *err)
{
	if (r->blkio_weight == 0)
		return 0;
	char path[256], value[32];
	cgroup_path(path, sizeof(path), id, "io.bfq.weight");
	if (access(path, F_OK) == 0) {
		snprintf(value, sizeof(value), "%u", r->blkio_weight);
		return set_limit(id, "io.bfq.weight", value, err);
	}
	snprintf(value, sizeof(value), "%" PRIu64, agent_io_weight(r->blkio_weight));
	return set_limit(id, "io.weight", value, err);
}

static int set_hugetlb(const char *id, const Veil__Agent__V1__Resources *r, veil_err_t *err)
{
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		char file[64], value[32];
		snprintf(value, sizeof(value), "%" PRIu64, r->hugepage_limits[i]->limit);
		snprintf(file, sizeof(file), "hugetlb.%s.max", r->hugepage_limits[i]->page_size);
		if (set_limit(id, file, value, err) < 0)
			return -1;
		/* Reservations too, where the kernel accounts them. */
		snprintf(file, sizeof(file), "hugetlb.%s.rsvd.max", r->hugepage_limits[i]->page_size);
		char path[256];
		cgroup_path(path, sizeof(path), id, file);
		if (access(path, F_OK) == 0 && set_limit(id, file, value, err) < 0)
			return -1;
	}
	return 0;
}

/* Each line on its own, as cgroupfs takes one setting per write (io.max). */
static int set_unified(const char *id, const Veil__Agent__V1__Resources *r, veil_err_t *err)
{
	for (size_t i = 0; i < r->n_unified; i++) {
		const char *key = r->unified[i]->key, *v = r->unified[i]->value;
		do {
			char line[4097];
			size_t len = strcspn(v, "\n");
			snprintf(line, sizeof(line), "%.*s", (int)len, v);
			if (len > 0 && set_limit(id, key, line, err) < 0)
				return -1;
			v += len + (v[len] == '\n');
		} while (*v != '\0');
	}
	return 0;
}

static int set_resources(const char *id, const Veil__Agent__V1__Resources *r, veil_err_t *err)
{
	if (r == NULL)
		return 0;
	char value[32];
	if (r->pids_limit != 0) {
		limit_value(value, sizeof(value), r->pids_limit);
		if (set_limit(id, "pids.max", value, err) < 0)
			return -1;
	}
	if (set_memory(id, r, err) < 0 || set_cpu(id, r, err) < 0 || set_io(id, r, err) < 0 ||
	    set_hugetlb(id, r, err) < 0)
		return -1;
	return set_unified(id, r, err);
}

/* The device rules as a BPF program attached to the cgroup, which then
 * holds it: the container's own cgroups below inherit it. */
static int set_devices(const char *id, const Veil__Agent__V1__CreateContainerRequest *spec, veil_err_t *err)
{
	if (spec->n_device_rules == 0)
		return 0;
	cleanup_wipe struct agent_device_filter *f = malloc(sizeof(*f));
	cleanup_wipe struct bpf_insn *prog = calloc(AGENT_DEVICE_PROGRAM_MAX, sizeof(*prog));
	if (f == NULL || prog == NULL)
		return veil_fail(err, ENOMEM, "device rules");
	agent_device_filter_init(f);
	for (size_t i = 0; i < spec->n_device_rules; i++) {
		const Veil__Agent__V1__DeviceRule *d = spec->device_rules[i];
		struct agent_device_rule rule = { .allow = d->allow, .type = d->type, .major = d->major, .minor = d->minor };
		agent_device_access(d->access, &rule.access);
		if (agent_device_filter_apply(f, &rule, err) < 0)
			return -1;
	}
	if (agent_device_filter_allows_all(f))
		return 0;
	size_t len = agent_device_filter_emit(f, prog, AGENT_DEVICE_PROGRAM_MAX);
	char path[256];
	cgroup_path(path, sizeof(path), id, NULL);
	cleanup_close int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return veil_fail(err, errno, "open %s", path);
	union bpf_attr load = { .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
				.insns = (uint64_t)(uintptr_t)prog,
				.insn_cnt = (uint32_t)len,
				.license = (uint64_t)(uintptr_t) "Apache" };
	cleanup_close int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	if (fd < 0)
		return veil_fail(err, errno, "loading the device filter");
	union bpf_attr attach = { .target_fd = (uint32_t)dir,
				  .attach_bpf_fd = (uint32_t)fd,
				  .attach_type = BPF_CGROUP_DEVICE,
				  .attach_flags = BPF_F_ALLOW_MULTI };
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach)) < 0)
		return veil_fail(err, errno, "attaching the device filter");
	return 0;
}

int agent_cgroup_create(const char *id, const Veil__Agent__V1__CreateContainerRequest *spec, veil_err_t *err)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, NULL);
	if (mkdir(path, 0755) < 0)
		return veil_fail(err, errno, "mkdir %s", path);
	if (set_resources(id, spec->resources, err) < 0)
		return -1;
	return set_devices(id, spec, err);
}

int agent_cgroup_set_limits(const char *id, const Veil__Agent__V1__Resources *res, veil_err_t *err)
{
	if (res == NULL)
		return veil_fail(err, 0, "no resources");
	return set_resources(id, res, err);
}

int agent_cgroup_freeze(const char *id, bool frozen, veil_err_t *err)
{
	return set_limit(id, "cgroup.freeze", frozen ? "1" : "0", err);
}

/* "max" reads as 0, as the stats report an absent limit. */
static uint64_t read_value(const char *id, const char *file)
{
	char path[256], text[64];
	cgroup_path(path, sizeof(path), id, file);
	if (agent_read_file(path, text, sizeof(text)) <= 0)
		return 0;
	return strtoull(text, NULL, 10);
}

/* Fills the fields named in keys from a "key value" file (cpu.stat, memory.stat, memory.events). */
struct stat_key {
	const char *key;
	uint64_t *out;
};

static void read_keyed(const char *id, const char *file, const struct stat_key *keys, size_t n)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, file);
	cleanup_kfile struct agent_kfile k;
	if (agent_kfile_open(&k, path) < 0)
		return;
	for (const char *line; (line = agent_kfile_line(&k)) != NULL;) {
		const char *space = strchr(line, ' ');
		if (space == NULL)
			continue;
		for (size_t i = 0; i < n; i++)
			if (strlen(keys[i].key) == (size_t)(space - line) && strncmp(line, keys[i].key, (size_t)(space - line)) == 0)
				*keys[i].out = strtoull(space + 1, NULL, 10);
	}
}

int agent_cgroup_stats(const char *id, Veil__Agent__V1__StatsContainerResponse *out, veil_err_t *err)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, NULL);
	if (access(path, F_OK) < 0)
		return veil_fail(err, errno, "%s", path);
	const struct stat_key cpu[] = {
		{ "usage_usec", &out->cpu_usage_usec },	    { "user_usec", &out->cpu_user_usec },
		{ "system_usec", &out->cpu_system_usec },   { "nr_periods", &out->cpu_nr_periods },
		{ "nr_throttled", &out->cpu_nr_throttled }, { "throttled_usec", &out->cpu_throttled_usec },
	};
	const struct stat_key memory[] = {
		{ "anon", &out->memory_anon },	 { "file", &out->memory_file },
		{ "kernel_stack", &out->memory_kernel_stack }, { "slab", &out->memory_slab },
		{ "shmem", &out->memory_shmem }, { "pgfault", &out->memory_pgfault },
		{ "pgmajfault", &out->memory_pgmajfault },
	};
	const struct stat_key events[] = { { "oom", &out->oom }, { "oom_kill", &out->oom_kill } };
	read_keyed(id, "cpu.stat", cpu, sizeof(cpu) / sizeof(cpu[0]));
	read_keyed(id, "memory.stat", memory, sizeof(memory) / sizeof(memory[0]));
	read_keyed(id, "memory.events", events, sizeof(events) / sizeof(events[0]));
	out->memory_usage = read_value(id, "memory.current");
	out->memory_limit = read_value(id, "memory.max");
	out->pids_current = read_value(id, "pids.current");
	out->pids_limit = read_value(id, "pids.max");
	return 0;
}

int agent_cgroup_open_events(const char *id)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, "memory.events");
	return open(path, O_RDONLY | O_CLOEXEC);
}

uint64_t agent_cgroup_oom_kills(int events_fd)
{
	/* Reading from the start also re-arms poll(2) for the next change. */
	char text[512];
	ssize_t n = pread(events_fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	const char *at = strstr(text, "oom_kill ");
	return at != NULL ? strtoull(at + strlen("oom_kill "), NULL, 10) : 0;
}


int agent_cgroup_open_procs(const char *id, veil_err_t *err)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, "cgroup.procs");
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "open %s", path);
	return fd;
}

struct cgroup_walk {
	const char *cgroup; /* below the cgroup root: "/veil/<id>" */
	int (*fn)(pid_t pid, int pidfd, void *arg);
	void *arg;
};

/* Whether the process pidfd stands for (numbered pid in the agent's pid
 * namespace) is in cgroup or below it. */
static bool in_cgroup(pid_t pid, int pidfd, const char *cgroup)
{
	char path[64], line[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (agent_read_file(path, line, sizeof(line)) <= 0)
		return false;
	/* cgroup v2 only: "0::/veil/<id>/...". */
	size_t len = strlen(cgroup);
	bool in = strncmp(line, "0::", 3) == 0 && strncmp(line + 3, cgroup, len) == 0 &&
		  (line[3 + len] == '/' || line[3 + len] == '\n');
	explicit_bzero(line, sizeof(line)); /* the container named its cgroups */
	/* Alive after the read, the process kept its pid throughout: the file was its own. */
	return in && pidfd_send_signal(pidfd, 0, NULL, 0) == 0;
}

static int visit_if_in_cgroup(const char *name, unsigned char type, void *arg)
{
	(void)type;
	const struct cgroup_walk *w = arg;
	char *end;
	long pid = strtol(name, &end, 10);
	if (*end != '\0' || pid <= 1)
		return 0;
	/* A pidfd pins the process: once it is known to be the container's,
	 * what is done through it cannot reach another that took over its pid. */
	cleanup_close int pidfd = pidfd_open((pid_t)pid, 0);
	if (pidfd < 0 || !in_cgroup((pid_t)pid, pidfd, w->cgroup))
		return 0;
	return w->fn((pid_t)pid, pidfd, w->arg);
}

int agent_cgroup_each_process(const char *id, int (*fn)(pid_t pid, int pidfd, void *arg), void *arg)
{
	/* Every process of the guest, not only cgroup.procs: the container may
	 * have moved processes into cgroups of its own below its cgroup. */
	char cgroup[128];
	snprintf(cgroup, sizeof(cgroup), "/veil/%s", id);
	struct cgroup_walk w = { .cgroup = cgroup, .fn = fn, .arg = arg };
	return agent_each_entry("/proc", visit_if_in_cgroup, &w);
}

struct signal_all {
	int sig;
	veil_err_t *err;
};

static int send_signal(pid_t pid, int pidfd, void *arg)
{
	const struct signal_all *s = arg;
	if (pidfd_send_signal(pidfd, s->sig, NULL, 0) < 0 && errno != ESRCH)
		return veil_fail(s->err, errno, "signalling pid %d", pid);
	return 0;
}

int agent_cgroup_signal(const char *id, int sig, veil_err_t *err)
{
	/* Atomic, and it reaches processes forked meanwhile too. */
	if (sig == SIGKILL)
		return agent_cgroup_kill(id, err);
	struct signal_all s = { .sig = sig, .err = err };
	int rc = agent_cgroup_each_process(id, send_signal, &s);
	if (rc < 0 && *err == NULL)
		return veil_fail(err, errno, "/proc");
	return rc;
}

int agent_cgroup_kill(const char *id, veil_err_t *err)
{
	return set_limit(id, "cgroup.kill", "1", err);
}

bool agent_cgroup_populated(const char *id)
{
	char path[256];
	cgroup_path(path, sizeof(path), id, "cgroup.events");
	cleanup_kfile struct agent_kfile k;
	if (agent_kfile_open(&k, path) < 0)
		return false;
	for (const char *line; (line = agent_kfile_line(&k)) != NULL;)
		if (strcmp(line, "populated 1") == 0)
			return true;
	return false;
}

struct child_query {
	const char *dir;
	char *child;
	size_t size;
};

static int first_dir(const char *name, unsigned char type, void *arg)
{
	struct child_query *q = arg;
	if (type != DT_DIR)
		return 0;
	/* Too long to name: its rmdir below fails and says so. */
	int n = snprintf(q->child, q->size, "%s/%s", q->dir, name);
	return n > 0 && (size_t)n < q->size;
}

/* Writes the path of some cgroup directly below dir into child; 0 if there is none. */
static int first_child(const char *dir, char *child, size_t size)
{
	struct child_query q = { .dir = dir, .child = child, .size = size };
	return agent_each_entry(dir, first_dir, &q) > 0;
}

int agent_cgroup_remove(const char *id, veil_err_t *err)
{
	char top[256], path[PATH_MAX], child[PATH_MAX];
	cgroup_path(top, sizeof(top), id, NULL);
	/* The container may have made cgroups of its own (systemd does), and
	 * rmdir takes only leaves: remove the deepest first, one at a time. A
	 * loop rather than recursion, as the container chose the depth. */
	for (;;) {
		snprintf(path, sizeof(path), "%s", top);
		while (first_child(path, child, sizeof(child)))
			memcpy(path, child, sizeof(path));
		if (rmdir(path) < 0 && !(errno == ENOENT && strcmp(path, top) == 0))
			return veil_fail(err, errno, "rmdir %s", path);
		if (strcmp(path, top) == 0)
			return 0;
	}
}
