#include "agent/validate.h"

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "lib/hex.h"
#include "proto/contract.h"
#include "proto/frame.h"

/* Paths become syscall arguments; PATH_MAX bounds what the kernel accepts anyway. */
#define PATH_LEN_MAX (PATH_MAX - 1)

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int agent_validate_id(const char *what, const char *id, veil_err_t *err)
{
	size_t len = strlen(id);
	if (len == 0)
		return veil_fail(err, 0, "%s is empty", what);
	if (len > AGENT_ID_MAX)
		return veil_fail(err, 0, "%s is longer than %d characters", what, AGENT_ID_MAX);
	if (!is_alnum(id[0]))
		return veil_fail(err, 0, "%s must start with a letter or digit", what);
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(id[i]) && id[i] != '_' && id[i] != '.' && id[i] != '-')
			return veil_fail(err, 0, "%s contains a character outside [A-Za-z0-9_.-]", what);
	return 0;
}

/* An empty exec_id names the container's init. */
static int validate_exec_id(const char *id, veil_err_t *err)
{
	return id[0] == '\0' ? 0 : agent_validate_id("exec_id", id, err);
}

/* A virtio-blk serial or a virtio-fs tag: 1..max of [A-Za-z0-9_-]. */
static int validate_serial(const char *what, const char *serial, size_t max, veil_err_t *err)
{
	size_t len = strlen(serial);
	if (len == 0 || len > max)
		return veil_fail(err, 0, "%s must be 1..%zu characters", what, max);
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(serial[i]) && serial[i] != '_' && serial[i] != '-')
			return veil_fail(err, 0, "%s contains a character outside [A-Za-z0-9_-]", what);
	return 0;
}

/* A path the guest resolves: absolute (in the container's root) or, inside
 * the shared tree, relative; never with a ".." component (resolved beneath
 * its root all the same). */
static int validate_path_in(const char *what, const char *path, bool absolute, veil_err_t *err)
{
	if (absolute ? path[0] != '/' : path[0] == '\0' || path[0] == '/')
		return veil_fail(err, 0, absolute ? "%s \"%.64s\" is not an absolute path"
						  : "%s \"%.64s\" is not a path inside the shared tree",
				 what, path);
	if (strlen(path) > PATH_LEN_MAX)
		return veil_fail(err, 0, "%s is longer than %d bytes", what, PATH_LEN_MAX);
	for (const char *p = path; *p != '\0';) {
		const char *end = strchrnul(p, '/');
		if (end - p == 2 && p[0] == '.' && p[1] == '.')
			return veil_fail(err, 0, "%s \"%.64s\" has a \"..\" component", what, path);
		p = *end ? end + 1 : end;
	}
	return 0;
}

int agent_validate_path(const char *what, const char *path, veil_err_t *err)
{
	return validate_path_in(what, path, true, err);
}

static int validate_paths(const char *what, char *const *paths, size_t n, veil_err_t *err)
{
	if (n > AGENT_MAX_PATHS)
		return veil_fail(err, 0, "more than %d %s", AGENT_MAX_PATHS, what);
	for (size_t i = 0; i < n; i++)
		if (agent_validate_path(what, paths[i], err) < 0)
			return -1;
	return 0;
}

static int validate_string(const char *what, const char *s, veil_err_t *err)
{
	if (strlen(s) > AGENT_MAX_STRING)
		return veil_fail(err, 0, "%s is longer than %u bytes", what, AGENT_MAX_STRING);
	return 0;
}

int agent_validate_hostname(const char *what, const char *name, veil_err_t *err)
{
	size_t len = strlen(name);
	if (len > AGENT_HOSTNAME_MAX)
		return veil_fail(err, 0, "%s is longer than %d characters", what, AGENT_HOSTNAME_MAX);
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return veil_fail(err, 0, "%s contains a space or a non-printable character", what);
	return 0;
}

/* ---- mount options ---- */

struct flag_option {
	const char *name;
	unsigned long set;
	unsigned long clear;
};

static const struct flag_option flag_options[] = {
	{ "ro", MS_RDONLY, 0 },
	{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },
	{ "nodev", MS_NODEV, 0 },
	{ "noexec", MS_NOEXEC, 0 },
	{ "relatime", MS_RELATIME, MS_NOATIME | MS_STRICTATIME },
	{ "strictatime", MS_STRICTATIME, MS_NOATIME | MS_RELATIME },
	{ "noatime", MS_NOATIME, MS_RELATIME | MS_STRICTATIME },
	{ "bind", MS_BIND, 0 },
	{ "rbind", MS_BIND | MS_REC, 0 },
};

enum value_kind { VALUE_NONE, VALUE_OCTAL, VALUE_DECIMAL, VALUE_SIZE };

struct data_option {
	const char *key; /* including '=' when it takes a value */
	enum value_kind kind;
};

static const struct data_option data_options[] = {
	{ "newinstance", VALUE_NONE },    { "mode=", VALUE_OCTAL },	 { "ptmxmode=", VALUE_OCTAL },
	{ "size=", VALUE_SIZE },	  { "nr_inodes=", VALUE_SIZE }, { "uid=", VALUE_DECIMAL },
	{ "gid=", VALUE_DECIMAL },
};

/* Long enough for any 64-bit number; bounds the data string as well. */
#define OPTION_VALUE_MAX 20

static bool value_ok(const char *v, enum value_kind kind)
{
	size_t len = strlen(v);
	if (kind == VALUE_NONE)
		return len == 0;
	/* tmpfs takes k/m/g (and % for size) suffixes, as in Docker's "size=65536k". */
	if (kind == VALUE_SIZE && len > 1 && strchr("kKmMgG%", v[len - 1]) != NULL)
		len--;
	if (len == 0 || len > OPTION_VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char hi = kind == VALUE_OCTAL ? '7' : '9';
		if (v[i] < '0' || v[i] > hi)
			return false;
	}
	return true;
}

static const struct data_option *find_data_option(const char *opt, const char **value)
{
	for (size_t i = 0; i < sizeof(data_options) / sizeof(data_options[0]); i++) {
		const struct data_option *d = &data_options[i];
		size_t klen = strlen(d->key);
		bool takes_value = d->kind != VALUE_NONE;
		if (takes_value ? strncmp(opt, d->key, klen) == 0 : strcmp(opt, d->key) == 0) {
			*value = opt + klen;
			return d;
		}
	}
	return NULL;
}

static const struct flag_option *find_flag_option(const char *opt)
{
	for (size_t i = 0; i < sizeof(flag_options) / sizeof(flag_options[0]); i++)
		if (strcmp(opt, flag_options[i].name) == 0)
			return &flag_options[i];
	return NULL;
}

int agent_mount_options(const Veil__Agent__V1__Mount *m, unsigned long *flags, char *data, size_t data_size,
			veil_err_t *err)
{
	*flags = 0;
	data[0] = '\0';
	size_t used = 0;
	if (m->n_options > AGENT_MAX_MOUNT_OPTIONS)
		return veil_fail(err, 0, "mount on %.64s: more than %d options", m->destination, AGENT_MAX_MOUNT_OPTIONS);
	for (size_t i = 0; i < m->n_options; i++) {
		const char *opt = m->options[i];
		const struct flag_option *f = find_flag_option(opt);
		if (f != NULL) {
			*flags = (*flags & ~f->clear) | f->set;
			continue;
		}
		const char *value;
		const struct data_option *d = find_data_option(opt, &value);
		if (d == NULL || !value_ok(value, d->kind))
			return veil_fail(err, 0, "mount on %.64s: option \"%.64s\" is not allowed", m->destination, opt);
		size_t len = strlen(opt);
		if (used + len + 2 > data_size)
			return veil_fail(err, 0, "mount on %.64s: options too long", m->destination);
		if (used > 0)
			data[used++] = ',';
		memcpy(data + used, opt, len + 1);
		used += len;
	}
	return 0;
}

static const char *const mount_types[] = { "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup2", "file" };

/* shared: the request names a shared tree, the only place a bind mount can come from. */
static int validate_mount(const Veil__Agent__V1__Mount *m, bool shared, veil_err_t *err)
{
	if (agent_validate_path("mount destination", m->destination, err) < 0 ||
	    validate_string("mount source", m->source, err) < 0)
		return -1;
	unsigned long flags;
	char data[AGENT_MOUNT_DATA_MAX];
	if (agent_mount_options(m, &flags, data, sizeof(data), err) < 0)
		return -1;
	bool bind = strcmp(m->type, "bind") == 0;
	if ((bind || (flags & MS_BIND)) && !shared)
		return veil_fail(err, 0, "mount on %.64s: bind mounts need a shared tree (shared_fs = \"virtio-fs\")",
				 m->destination);
	if (bind) {
		if (data[0] != '\0')
			return veil_fail(err, 0, "mount on %.64s: a bind mount takes no data options", m->destination);
		return validate_path_in("bind mount source", m->source, false, err);
	}
	if (flags & MS_BIND)
		return veil_fail(err, 0, "mount on %.64s: bind options on a %.32s mount", m->destination, m->type);
	bool known = false;
	for (size_t i = 0; i < sizeof(mount_types) / sizeof(mount_types[0]); i++)
		known = known || strcmp(m->type, mount_types[i]) == 0;
	if (!known)
		return veil_fail(err, 0, "mount on %.64s: type \"%.32s\" is not allowed", m->destination, m->type);
	/* A file is bound, not mounted: it has no filesystem to take data options. */
	if (strcmp(m->type, "file") == 0 && data[0] != '\0')
		return veil_fail(err, 0, "mount on %.64s: a file takes mount flags only", m->destination);
	return 0;
}

/* ---- namespaces, rlimits ---- */

int agent_namespace_flags(char *const *names, size_t n, int *flags, int *code, veil_err_t *err)
{
	static const struct {
		const char *name;
		int flag;
	} known[] = {
		{ "mount", CLONE_NEWNS },     { "pid", CLONE_NEWPID },	     { "uts", CLONE_NEWUTS },
		{ "ipc", CLONE_NEWIPC },      { "network", CLONE_NEWNET },   { "cgroup", CLONE_NEWCGROUP },
		{ "user", CLONE_NEWUSER },    { "time", CLONE_NEWTIME },
	};
	*flags = 0;
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]) && !found; k++) {
			if (strcmp(names[i], known[k].name) == 0) {
				*flags |= known[k].flag;
				found = true;
			}
		}
		if (!found) {
			*code = VEIL_RPC_INVALID_ARGUMENT;
			return veil_fail(err, 0, "unknown namespace \"%.32s\"", names[i]);
		}
	}
	return 0;
}

int agent_rlimit_resource(const char *name)
{
	static const struct {
		const char *name;
		int resource;
	} table[] = {
		{ "RLIMIT_AS", RLIMIT_AS },		{ "RLIMIT_CORE", RLIMIT_CORE },
		{ "RLIMIT_CPU", RLIMIT_CPU },		{ "RLIMIT_DATA", RLIMIT_DATA },
		{ "RLIMIT_FSIZE", RLIMIT_FSIZE },	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
		{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
		{ "RLIMIT_NICE", RLIMIT_NICE },		{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
		{ "RLIMIT_NPROC", RLIMIT_NPROC },	{ "RLIMIT_RSS", RLIMIT_RSS },
		{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
		{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(name, table[i].name) == 0)
			return table[i].resource;
	return -1;
}

/* ---- per-method checks ---- */

static int validate_hello(const Veil__Agent__V1__HelloRequest *r, int *code, veil_err_t *err)
{
	if (r->protocol_version != VEIL_PROTOCOL_VERSION) {
		*code = VEIL_RPC_FAILED_PRECONDITION;
		return veil_fail(err, 0, "protocol version %u is not supported (agent speaks %u)", r->protocol_version,
				 VEIL_PROTOCOL_VERSION);
	}
	if (r->entropy.len < AGENT_ENTROPY_MIN || r->entropy.len > AGENT_ENTROPY_MAX)
		return veil_fail(err, 0, "entropy must be %d..%d bytes, got %zu", AGENT_ENTROPY_MIN, AGENT_ENTROPY_MAX,
				 r->entropy.len);
	if (r->realtime_ns < 0)
		return veil_fail(err, 0, "realtime_ns is negative");
	return 0;
}

static int validate_create(const Veil__Agent__V1__CreateContainerRequest *r, int *code, veil_err_t *err)
{
	bool shared = r->shared_fs_tag[0] != '\0';
	if (agent_validate_id("container_id", r->container_id, err) < 0 ||
	    agent_validate_hostname("hostname", r->hostname, err) < 0 ||
	    (shared && validate_serial("shared_fs_tag", r->shared_fs_tag, VEIL_FS_TAG_MAX, err) < 0) ||
	    (r->upper_serial[0] != '\0' && validate_serial("upper_serial", r->upper_serial, AGENT_SERIAL_MAX, err) < 0))
		return -1;
	if (r->rootfs_shared) {
		/* The host's directory is the whole rootfs, writable layer included. */
		if (!shared)
			return veil_fail(err, 0, "rootfs_shared needs a shared_fs_tag");
		if (r->rootfs_serial[0] != '\0' || r->upper_serial[0] != '\0')
			return veil_fail(err, 0, "a shared rootfs has no rootfs_serial or upper_serial");
	} else if (validate_serial("rootfs_serial", r->rootfs_serial, AGENT_SERIAL_MAX, err) < 0) {
		return -1;
	}
	int ns;
	if (agent_namespace_flags(r->namespaces, r->n_namespaces, &ns, code, err) < 0)
		return -1;
	if (r->hostname[0] != '\0' && !(ns & CLONE_NEWUTS))
		return veil_fail(err, 0, "a hostname needs a new uts namespace");
	if (r->n_mounts > AGENT_MAX_MOUNTS)
		return veil_fail(err, 0, "more than %d mounts", AGENT_MAX_MOUNTS);
	for (size_t i = 0; i < r->n_mounts; i++)
		if (validate_mount(r->mounts[i], shared, err) < 0)
			return -1;
	if (validate_paths("masked path", r->masked_paths, r->n_masked_paths, err) < 0 ||
	    validate_paths("readonly path", r->readonly_paths, r->n_readonly_paths, err) < 0)
		return -1;
	/* Their names and resource paths are checked where they are used (confidential.c). */
	if (r->n_secrets > AGENT_MAX_SECRETS)
		return veil_fail(err, 0, "more than %d secrets", AGENT_MAX_SECRETS);
	return agent_validate_linux(r, ns, err);
}

static int validate_argv(const Veil__Agent__V1__Process *p, veil_err_t *err)
{
	if (p->n_args == 0 || p->args[0][0] == '\0')
		return veil_fail(err, 0, "args is empty");
	if (p->n_args > AGENT_MAX_ARGS || p->n_env > AGENT_MAX_ENV)
		return veil_fail(err, 0, "more than %d args or %d env entries", AGENT_MAX_ARGS, AGENT_MAX_ENV);
	size_t total = 0;
	for (size_t i = 0; i < p->n_args; i++) {
		if (validate_string("an argument", p->args[i], err) < 0)
			return -1;
		total += strlen(p->args[i]) + 1;
	}
	for (size_t i = 0; i < p->n_env; i++) {
		if (validate_string("an env entry", p->env[i], err) < 0)
			return -1;
		const char *eq = strchr(p->env[i], '=');
		if (eq == NULL || eq == p->env[i])
			return veil_fail(err, 0, "env entry \"%.64s\" is not KEY=VALUE", p->env[i]);
		total += strlen(p->env[i]) + 1;
	}
	if (total > AGENT_MAX_ARGV_BYTES)
		return veil_fail(err, 0, "args and env exceed %u bytes", AGENT_MAX_ARGV_BYTES);
	return 0;
}

static int validate_process(const Veil__Agent__V1__Process *p, veil_err_t *err)
{
	if (p == NULL)
		return veil_fail(err, 0, "process is missing");
	if (validate_argv(p, err) < 0)
		return -1;
	if (p->cwd[0] != '\0' && agent_validate_path("cwd", p->cwd, err) < 0)
		return -1;
	/* (uid_t)-1 means "leave unchanged" to setuid/setgid, not a user. */
	if (p->uid == UINT32_MAX || p->gid == UINT32_MAX)
		return veil_fail(err, 0, "uid and gid must be below 4294967295");
	if (p->n_additional_gids > AGENT_MAX_GIDS)
		return veil_fail(err, 0, "more than %d additional gids", AGENT_MAX_GIDS);
	for (size_t i = 0; i < p->n_additional_gids; i++)
		if (p->additional_gids[i] == UINT32_MAX)
			return veil_fail(err, 0, "additional gids must be below 4294967295");
	if (p->n_rlimits > AGENT_MAX_RLIMITS)
		return veil_fail(err, 0, "more than %d rlimits", AGENT_MAX_RLIMITS);
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const Veil__Agent__V1__Rlimit *rl = p->rlimits[i];
		if (agent_rlimit_resource(rl->type) < 0)
			return veil_fail(err, 0, "unknown rlimit \"%.32s\"", rl->type);
		if (rl->soft > rl->hard)
			return veil_fail(err, 0, "%s: soft limit above hard limit", rl->type);
	}
	if (p->umask > 0777)
		return veil_fail(err, 0, "umask %o is not a permission mask", p->umask);
	if (p->console_rows > UINT16_MAX || p->console_cols > UINT16_MAX)
		return veil_fail(err, 0, "console size above 65535");
	return agent_validate_process_security(p, err);
}

static int validate_streams(const Veil__Agent__V1__ExecProcessRequest *r, veil_err_t *err)
{
	const uint32_t s[3] = { r->stdin_stream, r->stdout_stream, r->stderr_stream };
	for (int i = 0; i < 3; i++) {
		if (s[i] & 1u)
			return veil_fail(err, 0, "I/O stream ids must be even");
		for (int k = 0; k < i; k++)
			if (s[i] != 0 && s[i] == s[k])
				return veil_fail(err, 0, "stream %u is used twice", s[i]);
	}
	if (r->process->terminal && r->stderr_stream != 0)
		return veil_fail(err, 0, "a terminal has no separate stderr stream");
	return 0;
}

static int validate_exec(const Veil__Agent__V1__ExecProcessRequest *r, veil_err_t *err)
{
	if (agent_validate_id("container_id", r->container_id, err) < 0 || validate_exec_id(r->exec_id, err) < 0 ||
	    validate_process(r->process, err) < 0)
		return -1;
	return validate_streams(r, err);
}

static int validate_target(const char *container_id, const char *exec_id, veil_err_t *err)
{
	if (agent_validate_id("container_id", container_id, err) < 0)
		return -1;
	return validate_exec_id(exec_id, err);
}

static int validate_signal(const Veil__Agent__V1__SignalProcessRequest *r, veil_err_t *err)
{
	if (validate_target(r->container_id, r->exec_id, err) < 0)
		return -1;
	if (r->signal < 1 || r->signal > 64)
		return veil_fail(err, 0, "signal %u is not in 1..64", r->signal);
	return 0;
}

static int validate_resize(const Veil__Agent__V1__ResizeTerminalRequest *r, veil_err_t *err)
{
	if (validate_target(r->container_id, r->exec_id, err) < 0)
		return -1;
	if (r->rows > UINT16_MAX || r->cols > UINT16_MAX)
		return veil_fail(err, 0, "terminal size above 65535");
	return 0;
}

/* ---- network ---- */

int agent_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = veil_hex_value((unsigned char)s[3 * i]), lo = veil_hex_value((unsigned char)s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	/* A multicast or all-zero address never names a NIC. */
	bool zero = true;
	for (int i = 0; i < 6; i++)
		zero = zero && mac[i] == 0;
	return (mac[0] & 1) || zero ? -1 : 0;
}

/* Parses a dotted quad ending at *end (exclusive), as inet_pton does but
 * without a locale or libc quirks to reason about. */
static int parse_quad(const char *s, const char *end, uint32_t *addr)
{
	uint8_t b[4];
	const char *p = s;
	for (int i = 0; i < 4; i++) {
		unsigned v = 0;
		const char *start = p;
		while (p < end && *p >= '0' && *p <= '9' && p - start < 3)
			v = v * 10 + (unsigned)(*p++ - '0');
		if (p == start || v > 255 || (p - start > 1 && *start == '0'))
			return -1;
		b[i] = (uint8_t)v;
		if (i < 3 && (p >= end || *p++ != '.'))
			return -1;
	}
	if (p != end)
		return -1;
	memcpy(addr, b, 4);
	return 0;
}

int agent_parse_ipv4(const char *s, uint32_t *addr)
{
	return parse_quad(s, s + strlen(s), addr);
}

int agent_parse_ipv4_cidr(const char *s, uint32_t *addr, unsigned *prefix)
{
	const char *slash = strchr(s, '/');
	if (slash == NULL || parse_quad(s, slash, addr) < 0)
		return -1;
	const char *p = slash + 1;
	size_t digits = strlen(p);
	if (digits == 0 || digits > 2 || (digits == 2 && p[0] == '0'))
		return -1;
	unsigned v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < 1 || v > 32)
		return -1;
	*prefix = v;
	return 0;
}

int agent_validate_ifname(const char *name, veil_err_t *err)
{
	size_t len = strlen(name);
	/* IFNAMSIZ - 1; "." and ".." would be directories in /sys/class/net. */
	if (len == 0 || len > 15)
		return veil_fail(err, 0, "interface name must be 1..15 characters");
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return veil_fail(err, 0, "interface name \"%s\" is not allowed", name);
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
			return veil_fail(err, 0, "interface name contains a character outside [A-Za-z0-9_.-]");
	return 0;
}

static int validate_configure_interface(const Veil__Agent__V1__ConfigureInterfaceRequest *r, veil_err_t *err)
{
	uint8_t mac[6];
	if (agent_parse_mac(r->mac, mac) < 0)
		return veil_fail(err, 0, "mac \"%.32s\" is not a unicast aa:bb:cc:dd:ee:ff address", r->mac);
	if (agent_validate_ifname(r->name, err) < 0)
		return -1;
	/* 68 is IPv4's minimum; 65535 the largest an ethernet device takes. */
	if (r->mtu != 0 && (r->mtu < 68 || r->mtu > 65535))
		return veil_fail(err, 0, "mtu %u is not in 68..65535", r->mtu);
	if (r->n_addresses > AGENT_MAX_ADDRESSES)
		return veil_fail(err, 0, "more than %d addresses", AGENT_MAX_ADDRESSES);
	for (size_t i = 0; i < r->n_addresses; i++) {
		uint32_t addr;
		unsigned prefix;
		if (agent_parse_ipv4_cidr(r->addresses[i], &addr, &prefix) < 0)
			return veil_fail(err, 0, "address \"%.32s\" is not a.b.c.d/len", r->addresses[i]);
	}
	uint32_t gw;
	if (r->gateway[0] != '\0' && agent_parse_ipv4(r->gateway, &gw) < 0)
		return veil_fail(err, 0, "gateway \"%.32s\" is not a.b.c.d", r->gateway);
	return 0;
}

int agent_validate_request(int method, const ProtobufCMessage *msg, int *code, veil_err_t *err)
{
	*code = VEIL_RPC_INVALID_ARGUMENT;
	if (msg == NULL || method < 0 || method >= VEIL_METHOD_COUNT ||
	    msg->descriptor != veil_method_request_descriptor((enum veil_method)method))
		return veil_fail(err, 0, "request does not match its method");
	switch ((enum veil_method)method) {
	case VEIL_METHOD_HELLO:
		return validate_hello((const Veil__Agent__V1__HelloRequest *)msg, code, err);
	case VEIL_METHOD_CREATE_CONTAINER:
		return validate_create((const Veil__Agent__V1__CreateContainerRequest *)msg, code, err);
	case VEIL_METHOD_EXEC_PROCESS:
		return validate_exec((const Veil__Agent__V1__ExecProcessRequest *)msg, err);
	case VEIL_METHOD_WAIT_PROCESS: {
		const Veil__Agent__V1__WaitProcessRequest *r = (const void *)msg;
		return validate_target(r->container_id, r->exec_id, err);
	}
	case VEIL_METHOD_SIGNAL_PROCESS:
		return validate_signal((const Veil__Agent__V1__SignalProcessRequest *)msg, err);
	case VEIL_METHOD_RESIZE_TERMINAL:
		return validate_resize((const Veil__Agent__V1__ResizeTerminalRequest *)msg, err);
	case VEIL_METHOD_DESTROY_CONTAINER: {
		const Veil__Agent__V1__DestroyContainerRequest *r = (const void *)msg;
		return agent_validate_id("container_id", r->container_id, err);
	}
	case VEIL_METHOD_CONFIGURE_INTERFACE:
		return validate_configure_interface((const Veil__Agent__V1__ConfigureInterfaceRequest *)msg, err);
	case VEIL_METHOD_SCRUB: {
		const Veil__Agent__V1__ScrubRequest *r = (const void *)msg;
		if (r->padding.len > AGENT_SCRUB_PADDING_MAX)
			return veil_fail(err, 0, "padding is longer than %u bytes", AGENT_SCRUB_PADDING_MAX);
		return 0;
	}
	case VEIL_METHOD_LIST_PROCESSES: {
		const Veil__Agent__V1__ListProcessesRequest *r = (const void *)msg;
		return agent_validate_id("container_id", r->container_id, err);
	}
	case VEIL_METHOD_UPDATE_CONTAINER: {
		const Veil__Agent__V1__UpdateContainerRequest *r = (const void *)msg;
		if (agent_validate_id("container_id", r->container_id, err) < 0)
			return -1;
		if (r->resources == NULL)
			return veil_fail(err, 0, "resources are missing");
		return agent_validate_resources(r->resources, err);
	}
	case VEIL_METHOD_STATS_CONTAINER: {
		const Veil__Agent__V1__StatsContainerRequest *r = (const void *)msg;
		return agent_validate_id("container_id", r->container_id, err);
	}
	case VEIL_METHOD_FREEZE_CONTAINER: {
		const Veil__Agent__V1__FreezeContainerRequest *r = (const void *)msg;
		return agent_validate_id("container_id", r->container_id, err);
	}
	case VEIL_METHOD_GET_OOM_EVENT:
	case VEIL_METHOD_SHUTDOWN:
	case VEIL_METHOD_COUNT:
		break;
	}
	return 0;
}
