/* Checks of the runtime spec's linux section as the host sends it (seccomp,
 * sysctls, devices and their cgroup rules, id mappings, time offsets, rootfs
 * propagation, resources, the files copied in) and of a process's
 * capabilities: every list bounded, every value in range, before anything
 * reaches a syscall. Pure, as validate.c. */
#include "agent/validate.h"

#include <inttypes.h>
#include <limits.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>

/* Names and values of one sysctl or cgroup file: /proc/sys and cgroupfs take
 * a page at most per write. */
#define MAX_KEY 128
#define MAX_VALUE 4096

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool only_chars(const char *s, const char *allowed_extra, bool upper_ok)
{
	for (; *s != '\0'; s++) {
		bool ok = is_lower_alnum(*s) || strchr(allowed_extra, *s) != NULL || (upper_ok && *s >= 'A' && *s <= 'Z');
		if (!ok)
			return false;
	}
	return true;
}

/* ---- seccomp ---- */

static bool action_ok(int a)
{
	return a >= VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_KILL_THREAD &&
	       a <= VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_LOG;
}

static int validate_errno_ret(bool has, uint32_t value, veil_err_t *err)
{
	/* The filter's return data is 16 bits wide. */
	if (has && value > UINT16_MAX)
		return veil_fail(err, 0, "seccomp errno_ret %u is above 65535", value);
	return 0;
}

/* A syscall name as libseccomp knows them: "clock_gettime64", "_llseek". */
int agent_validate_syscall_name(const char *name, veil_err_t *err)
{
	size_t len = strlen(name);
	if (len == 0 || len > AGENT_MAX_SYSCALL_NAME || !only_chars(name, "_", false))
		return veil_fail(err, 0, "seccomp syscall name \"%.64s\" is not 1..%d characters of [a-z0-9_]", name,
				 AGENT_MAX_SYSCALL_NAME);
	return 0;
}

static int validate_seccomp_rule(const Veil__Agent__V1__SeccompRule *rule, size_t *names, veil_err_t *err)
{
	if (!action_ok(rule->action))
		return veil_fail(err, 0, "seccomp rule has an unknown action %d", rule->action);
	if (validate_errno_ret(rule->has_errno_ret, rule->errno_ret, err) < 0)
		return -1;
	if (rule->n_names == 0)
		return veil_fail(err, 0, "seccomp rule names no syscall");
	*names += rule->n_names;
	if (*names > AGENT_MAX_SECCOMP_NAMES)
		return veil_fail(err, 0, "seccomp names more than %d syscalls", AGENT_MAX_SECCOMP_NAMES);
	for (size_t i = 0; i < rule->n_names; i++)
		if (agent_validate_syscall_name(rule->names[i], err) < 0)
			return -1;
	if (rule->n_args > AGENT_MAX_SECCOMP_ARGS)
		return veil_fail(err, 0, "seccomp rule has more than %d argument conditions", AGENT_MAX_SECCOMP_ARGS);
	for (size_t i = 0; i < rule->n_args; i++) {
		const Veil__Agent__V1__SeccompArg *a = rule->args[i];
		if (a->index > 5)
			return veil_fail(err, 0, "seccomp argument index %u is not 0..5", a->index);
		if (a->op < VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_NE ||
		    a->op > VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_MASKED_EQ)
			return veil_fail(err, 0, "seccomp argument has an unknown operator %d", a->op);
	}
	return 0;
}

static int validate_seccomp(const Veil__Agent__V1__Seccomp *s, veil_err_t *err)
{
	if (s == NULL)
		return 0;
	if (!action_ok(s->default_action))
		return veil_fail(err, 0, "seccomp has an unknown default action %d", s->default_action);
	if (validate_errno_ret(s->has_default_errno_ret, s->default_errno_ret, err) < 0)
		return -1;
	if (s->n_architectures > AGENT_MAX_SECCOMP_ARCHS)
		return veil_fail(err, 0, "seccomp names more than %d architectures", AGENT_MAX_SECCOMP_ARCHS);
	for (size_t i = 0; i < s->n_architectures; i++)
		if (s->architectures[i] <= VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_UNSPECIFIED ||
		    s->architectures[i] > VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_RISCV64)
			return veil_fail(err, 0, "seccomp has an unknown architecture %d", s->architectures[i]);
	if (s->n_syscalls > AGENT_MAX_SECCOMP_RULES)
		return veil_fail(err, 0, "seccomp has more than %d rules", AGENT_MAX_SECCOMP_RULES);
	size_t names = 0;
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (validate_seccomp_rule(s->syscalls[i], &names, err) < 0)
			return -1;
	return 0;
}

/* ---- sysctls ---- */

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int agent_sysctl_path(const char *key, char *path, size_t size)
{
	size_t len = strlen(key);
	if (len == 0 || len > MAX_KEY || key[0] == '.' || !only_chars(key, "_-./", true) || size < len + 1)
		return -1;
	/* Dots separate the components; a slash stands for a dot inside one
	 * ("net.ipv4.conf.eth0/100.rp_filter"), as sysctl(8) writes it. */
	for (size_t i = 0; i <= len; i++)
		path[i] = key[i] == '.' ? '/' : key[i] == '/' ? '.' : key[i];
	for (const char *c = path; *c != '\0';) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -1;
		c += n + (c[n] == '/');
	}
	return 0;
}

/* runc's rule: only sysctls of a namespace the container has of its own. */
static int validate_sysctl_namespace(const char *key, int ns, veil_err_t *err)
{
	static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
						"kernel.sem",	 "kernel.shmall", "kernel.shmmax",
						"kernel.shmmni", "kernel.shm_rmid_forced" };
	bool ipc = has_prefix(key, "fs.mqueue.");
	for (size_t i = 0; i < sizeof(ipc_keys) / sizeof(ipc_keys[0]); i++)
		ipc = ipc || strcmp(key, ipc_keys[i]) == 0;
	if (ipc)
		return ns & CLONE_NEWIPC ? 0 : veil_fail(err, 0, "sysctl \"%s\" needs an ipc namespace", key);
	/* Without a network namespace of its own the container shares the guest's
	 * root one, which the host gave this VM's containers alone. */
	if (has_prefix(key, "net."))
		return 0;
	if (strcmp(key, "kernel.domainname") == 0)
		return ns & CLONE_NEWUTS ? 0 : veil_fail(err, 0, "sysctl \"%s\" needs a uts namespace", key);
	if (strcmp(key, "kernel.hostname") == 0)
		return veil_fail(err, 0, "sysctl \"%s\" conflicts with the hostname field", key);
	if (has_prefix(key, "user."))
		return ns & CLONE_NEWUSER ? 0 : veil_fail(err, 0, "sysctl \"%s\" needs a user namespace", key);
	return veil_fail(err, 0, "sysctl \"%.128s\" is not in a separate kernel namespace", key);
}

static int validate_sysctls(Veil__Agent__V1__KeyValue *const *kv, size_t n, int ns, veil_err_t *err)
{
	if (n > AGENT_MAX_SYSCTLS)
		return veil_fail(err, 0, "more than %d sysctls", AGENT_MAX_SYSCTLS);
	for (size_t i = 0; i < n; i++) {
		char path[MAX_KEY + 1];
		if (agent_sysctl_path(kv[i]->key, path, sizeof(path)) < 0)
			return veil_fail(err, 0, "sysctl name \"%.64s\" is not valid", kv[i]->key);
		if (strlen(kv[i]->value) > MAX_VALUE)
			return veil_fail(err, 0, "sysctl %s: value longer than %d bytes", kv[i]->key, MAX_VALUE);
		if (validate_sysctl_namespace(kv[i]->key, ns, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- devices ---- */

static int validate_device(const Veil__Agent__V1__Device *d, veil_err_t *err)
{
	if (agent_validate_path("device path", d->path, err) < 0)
		return -1;
	switch (d->type) {
	case VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_CHAR:
	case VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_BLOCK:
		/* What a dev_t holds: 12 bits of major, 20 of minor. */
		if (d->major < 0 || d->major > 4095 || d->minor < 0 || d->minor > 1048575)
			return veil_fail(err, 0, "device %.64s: %" PRId64 ":%" PRId64 " is not a device number", d->path,
					 d->major, d->minor);
		break;
	case VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_FIFO:
		break;
	default:
		return veil_fail(err, 0, "device %.64s has an unknown type %d", d->path, d->type);
	}
	if (d->file_mode > 07777)
		return veil_fail(err, 0, "device %.64s: file mode %o is not a permission mask", d->path, d->file_mode);
	return 0;
}

int agent_device_access(const char *access, unsigned *mask)
{
	*mask = 0;
	size_t len = strlen(access);
	if (len == 0 || len > 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned bit = access[i] == 'r' ? BPF_DEVCG_ACC_READ
			       : access[i] == 'w' ? BPF_DEVCG_ACC_WRITE
			       : access[i] == 'm' ? BPF_DEVCG_ACC_MKNOD
						  : 0;
		if (bit == 0)
			return -1;
		*mask |= bit;
	}
	return 0;
}

static int validate_device_rule(const Veil__Agent__V1__DeviceRule *r, veil_err_t *err)
{
	unsigned access;
	if (r->type != VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_ALL &&
	    r->type != VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_CHAR &&
	    r->type != VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_BLOCK)
		return veil_fail(err, 0, "device rule has type %d, not all, char or block", r->type);
	if (r->major < -1 || r->major > UINT32_MAX || r->minor < -1 || r->minor > UINT32_MAX)
		return veil_fail(err, 0, "device rule %" PRId64 ":%" PRId64 " is out of range", r->major, r->minor);
	if (agent_device_access(r->access, &access) < 0)
		return veil_fail(err, 0, "device rule access \"%.8s\" is not a non-empty subset of rwm", r->access);
	return 0;
}

static int validate_devices(const Veil__Agent__V1__CreateContainerRequest *r, veil_err_t *err)
{
	if (r->n_devices > AGENT_MAX_DEVICES || r->n_device_rules > AGENT_MAX_DEVICE_RULES)
		return veil_fail(err, 0, "more than %d devices or %d device rules", AGENT_MAX_DEVICES,
				 AGENT_MAX_DEVICE_RULES);
	for (size_t i = 0; i < r->n_devices; i++)
		if (validate_device(r->devices[i], err) < 0)
			return -1;
	for (size_t i = 0; i < r->n_device_rules; i++)
		if (validate_device_rule(r->device_rules[i], err) < 0)
			return -1;
	return 0;
}

/* ---- user and time namespaces ---- */

static int validate_id_map(const char *what, Veil__Agent__V1__IdMapping *const *m, size_t n, veil_err_t *err)
{
	if (n == 0)
		return veil_fail(err, 0, "a user namespace needs %s", what);
	if (n > VEIL_MAX_ID_MAP_LINES)
		return veil_fail(err, 0, "more than %d %s", VEIL_MAX_ID_MAP_LINES, what);
	for (size_t i = 0; i < n; i++) {
		uint64_t end_in = (uint64_t)m[i]->container_id + m[i]->size, end_out = (uint64_t)m[i]->host_id + m[i]->size;
		if (m[i]->size == 0 || end_in > UINT32_MAX || end_out > UINT32_MAX)
			return veil_fail(err, 0, "%s: %u %u %u is not a range of ids", what, m[i]->container_id,
					 m[i]->host_id, m[i]->size);
	}
	return 0;
}

static int validate_user_and_time(const Veil__Agent__V1__CreateContainerRequest *r, int ns, veil_err_t *err)
{
	if (ns & CLONE_NEWUSER) {
		if (validate_id_map("uid mappings", r->uid_mappings, r->n_uid_mappings, err) < 0 ||
		    validate_id_map("gid mappings", r->gid_mappings, r->n_gid_mappings, err) < 0)
			return -1;
	} else if (r->n_uid_mappings > 0 || r->n_gid_mappings > 0) {
		return veil_fail(err, 0, "id mappings need a user namespace");
	}
	const Veil__Agent__V1__TimeOffsets *t = r->time_offsets;
	if (t == NULL)
		return 0;
	if (!(ns & CLONE_NEWTIME))
		return veil_fail(err, 0, "time offsets need a time namespace");
	/* The kernel's own bound (timens_set_offset: KTIME_SEC_MAX / 2) is far beyond any real one. */
	const int64_t max_secs = INT64_C(1) << 40;
	if (t->monotonic_nanosecs >= 1000000000u || t->boottime_nanosecs >= 1000000000u ||
	    t->monotonic_secs > max_secs || t->monotonic_secs < -max_secs || t->boottime_secs > max_secs ||
	    t->boottime_secs < -max_secs)
		return veil_fail(err, 0, "time offsets out of range");
	return 0;
}

int agent_propagation_flags(const char *name, unsigned long *flags)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} table[] = {
		{ "private", MS_PRIVATE },
		{ "rprivate", MS_PRIVATE | MS_REC },
		{ "shared", MS_SHARED },
		{ "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE },
		{ "rslave", MS_SLAVE | MS_REC },
		{ "unbindable", MS_UNBINDABLE },
		{ "runbindable", MS_UNBINDABLE | MS_REC },
	};
	*flags = 0;
	if (name[0] == '\0')
		return 0;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(name, table[i].name) == 0) {
			*flags = table[i].flags;
			return 0;
		}
	}
	return -1;
}

static int validate_joined(const Veil__Agent__V1__CreateContainerRequest *r, int ns, veil_err_t *err)
{
	if (r->n_joined_namespaces > AGENT_MAX_JOINED)
		return veil_fail(err, 0, "more than %d joined namespaces", AGENT_MAX_JOINED);
	int seen = 0;
	for (size_t i = 0; i < r->n_joined_namespaces; i++) {
		const Veil__Agent__V1__JoinedNamespace *j = r->joined_namespaces[i];
		int flag, code;
		if (agent_namespace_flags(&j->type, 1, &flag, &code, err) < 0)
			return -1;
		if (flag & (CLONE_NEWUSER | CLONE_NEWTIME))
			return veil_fail(err, 0, "a %s namespace cannot be joined", j->type);
		if ((flag & ns) || (flag & seen))
			return veil_fail(err, 0, "the %s namespace is both joined and new, or joined twice", j->type);
		seen |= flag;
		if (agent_validate_id("joined namespace's container_id", j->container_id, err) < 0)
			return -1;
		if (strcmp(j->container_id, r->container_id) == 0)
			return veil_fail(err, 0, "a container cannot join its own namespaces");
	}
	return 0;
}

static int validate_executable(const Veil__Agent__V1__ExecutableLookup *e, veil_err_t *err)
{
	if (e == NULL)
		return 0;
	size_t len = strlen(e->file);
	if (len == 0 || len > PATH_MAX - 1)
		return veil_fail(err, 0, "executable must be 1..%d bytes", PATH_MAX - 1);
	if (strlen(e->search_path) > AGENT_MAX_STRING)
		return veil_fail(err, 0, "executable search path is longer than %u bytes", AGENT_MAX_STRING);
	if (e->cwd[0] != '\0' && agent_validate_path("executable cwd", e->cwd, err) < 0)
		return -1;
	return 0;
}

/* ---- resources ---- */

static bool cpuset_ok(const char *s)
{
	return strlen(s) <= 256 && only_chars(s, ",-", false) && strpbrk(s, "abcdefghijklmnopqrstuvwxyz_") == NULL;
}

static bool page_size_ok(const char *s)
{
	size_t len = strlen(s), digits = strspn(s, "0123456789");
	return len <= 16 && digits > 0 && len == digits + 2 && strchr("KMG", s[digits]) != NULL && s[digits + 1] == 'B';
}

/* A cgroup v2 file of a controller the agent enables: "memory.high",
 * "io.max"; none of the core files (cgroup.procs, cgroup.kill, ...). */
int agent_validate_unified_key(const char *key, veil_err_t *err)
{
	static const char *const controllers[] = { "cpu.", "cpuset.", "memory.", "io.", "pids.", "hugetlb.", "misc." };
	bool known = false;
	for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
		known = known || has_prefix(key, controllers[i]);
	size_t len = strlen(key);
	if (!known || len > 64 || !only_chars(key, "_.", false) || key[len - 1] == '.' || strstr(key, "..") != NULL)
		return veil_fail(err, 0, "unified resource \"%.64s\" is not a file of the cpu, cpuset, memory, io, pids, "
					 "hugetlb or misc controller",
				 key);
	return 0;
}

static int validate_unified(Veil__Agent__V1__KeyValue *const *kv, size_t n, veil_err_t *err)
{
	if (n > AGENT_MAX_UNIFIED)
		return veil_fail(err, 0, "more than %d unified resources", AGENT_MAX_UNIFIED);
	for (size_t i = 0; i < n; i++) {
		if (agent_validate_unified_key(kv[i]->key, err) < 0)
			return -1;
		if (strlen(kv[i]->value) > MAX_VALUE)
			return veil_fail(err, 0, "unified resource %s: value longer than %d bytes", kv[i]->key, MAX_VALUE);
	}
	return 0;
}

int agent_validate_resources(const Veil__Agent__V1__Resources *r, veil_err_t *err)
{
	if (r == NULL)
		return 0;
	if (r->memory_limit < -1 || r->memory_reservation < -1 || r->memory_swap < -1 || r->cpu_quota < -1 ||
	    r->pids_limit < -1)
		return veil_fail(err, 0, "resource limits must be -1 (unlimited) or more");
	/* The kernel's cpu.max bounds: period 1 ms..1 s, quota at least 1 ms. */
	if (r->cpu_period != 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
		return veil_fail(err, 0, "cpu_period must be 1000..1000000 us");
	if (r->cpu_quota > 0 && r->cpu_quota < 1000)
		return veil_fail(err, 0, "cpu_quota must be at least 1000 us");
	if (r->has_cpu_idle && r->cpu_idle != 0 && r->cpu_idle != 1)
		return veil_fail(err, 0, "cpu_idle must be 0 or 1");
	if (r->has_cpu_burst && r->cpu_burst > UINT32_MAX)
		return veil_fail(err, 0, "cpu_burst is out of range");
	if (!cpuset_ok(r->cpuset_cpus) || !cpuset_ok(r->cpuset_mems))
		return veil_fail(err, 0, "cpuset cpus and mems must be lists such as 0-1,3");
	if (r->blkio_weight != 0 && (r->blkio_weight < 10 || r->blkio_weight > 1000))
		return veil_fail(err, 0, "blkio_weight must be 10..1000");
	if (r->n_hugepage_limits > AGENT_MAX_HUGEPAGE_LIMITS)
		return veil_fail(err, 0, "more than %d hugepage limits", AGENT_MAX_HUGEPAGE_LIMITS);
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		if (!page_size_ok(r->hugepage_limits[i]->page_size))
			return veil_fail(err, 0, "hugepage size \"%.16s\" is not a size such as 2MB",
					 r->hugepage_limits[i]->page_size);
	return validate_unified(r->unified, r->n_unified, err);
}

/* ---- files copied in ---- */

int agent_validate_file_mounts(Veil__Agent__V1__Mount *const *mounts, size_t n, veil_err_t *err)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		const Veil__Agent__V1__Mount *m = mounts[i];
		bool file = strcmp(m->type, "file") == 0;
		if (!file && (m->content.len > 0 || m->mode != 0 || m->uid != 0 || m->gid != 0))
			return veil_fail(err, 0, "mount on %.64s: only a file mount has content, mode and owner", m->destination);
		if (!file)
			continue;
		if (m->content.len > AGENT_MAX_FILE_BYTES)
			return veil_fail(err, 0, "file %.64s is larger than %u bytes", m->destination, AGENT_MAX_FILE_BYTES);
		total += m->content.len;
		if (total > AGENT_MAX_FILES_BYTES)
			return veil_fail(err, 0, "the files copied in exceed %u bytes", AGENT_MAX_FILES_BYTES);
		if (m->mode > 07777)
			return veil_fail(err, 0, "file %.64s: mode %o is not a permission mask", m->destination, m->mode);
		if (m->uid == UINT32_MAX || m->gid == UINT32_MAX)
			return veil_fail(err, 0, "file %.64s: uid and gid must be below 4294967295", m->destination);
	}
	return 0;
}

int agent_validate_linux(const Veil__Agent__V1__CreateContainerRequest *r, int ns, veil_err_t *err)
{
	unsigned long propagation;
	if (validate_seccomp(r->seccomp, err) < 0 || validate_sysctls(r->sysctls, r->n_sysctls, ns, err) < 0 ||
	    validate_devices(r, err) < 0 || validate_user_and_time(r, ns, err) < 0 || validate_joined(r, ns, err) < 0 ||
	    validate_executable(r->executable, err) < 0 || agent_validate_file_mounts(r->mounts, r->n_mounts, err) < 0)
		return -1;
	if (agent_propagation_flags(r->rootfs_propagation, &propagation) < 0)
		return veil_fail(err, 0, "rootfs_propagation \"%.32s\" is not one of private, shared, slave, unbindable "
					 "or their r* forms",
				 r->rootfs_propagation);
	if (r->domainname[0] != '\0' && agent_validate_hostname("domainname", r->domainname, err) < 0)
		return -1;
	if (r->domainname[0] != '\0' && !(ns & CLONE_NEWUTS))
		return veil_fail(err, 0, "a domainname needs a new uts namespace");
	return agent_validate_resources(r->resources, err);
}

int agent_validate_process_security(const Veil__Agent__V1__Process *p, veil_err_t *err)
{
	if (p->has_oom_score_adj && (p->oom_score_adj < -1000 || p->oom_score_adj > 1000))
		return veil_fail(err, 0, "oom_score_adj %d is not in -1000..1000", p->oom_score_adj);
	return 0;
}
