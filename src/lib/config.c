#include "lib/config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/toml.h"

size_t veil_config_default_paths(const char *paths[VEIL_CONFIG_MAX_DEFAULT_PATHS], char *beside)
{
	size_t n = 0;
	paths[n++] = "/etc/veil/configuration.toml";
	paths[n++] = "/usr/share/defaults/veil/configuration.toml";
	/* Looked at last, so an installed configuration always wins over it. */
	ssize_t len = readlink("/proc/self/exe", beside, PATH_MAX - sizeof("/configuration.toml"));
	char *slash = len > 0 ? memrchr(beside, '/', (size_t)len) : NULL;
	if (slash != NULL) {
		strcpy(slash, "/configuration.toml");
		paths[n++] = beside;
	}
	return n;
}

enum kind {
	KIND_PATH,   /* absolute path of at most `max` bytes */
	KIND_NAME,   /* a QEMU identifier, which must not smuggle in ",option=" */
	KIND_TEXT,   /* free text without control characters */
	KIND_CHOICE, /* one of `choices`, kept as a string */
	KIND_ENUM,   /* one of `choices`, kept as its index */
	KIND_U32,    /* integer in min..max */
	KIND_BOOL,
};

struct key_spec {
	const char *name;
	enum kind kind;
	size_t offset; /* of the field in struct veil_config */
	uint32_t min, max;
	const char *const *choices; /* NULL-terminated */
	const char *def_str;        /* string kinds; NULL leaves the field NULL */
	uint32_t def_num;           /* KIND_U32, KIND_BOOL, KIND_ENUM */
};

/* Arrays of both end with an entry whose name is NULL. */
struct table_spec {
	const char *name;
	const struct key_spec *keys;
	const struct table_spec *tables;
};

#define FIELD(f) offsetof(struct veil_config, f)
#define PATH(n, f, limit, def) { .name = n, .kind = KIND_PATH, .offset = FIELD(f), .max = limit, .def_str = def }
#define STRING(n, k, f, def, list) { .name = n, .kind = k, .offset = FIELD(f), .def_str = def, .choices = list }
#define U32(n, f, lo, hi, def) { .name = n, .kind = KIND_U32, .offset = FIELD(f), .min = lo, .max = hi, .def_num = def }
#define BOOL(n, f) { .name = n, .kind = KIND_BOOL, .offset = FIELD(f) }
#define BOOL_ON(n, f) { .name = n, .kind = KIND_BOOL, .offset = FIELD(f), .def_num = 1 }
#define END { .name = NULL }

/* Indexed by enum veil_accel. */
static const char *const accel_names[] = { "auto", "kvm", "tcg", NULL };
_Static_assert(VEIL_ACCEL_AUTO == 0 && VEIL_ACCEL_KVM == 1 && VEIL_ACCEL_TCG == 2, "accel_names follows the enum");

/* Indexed by enum veil_reset. */
static const char *const reset_names[] = { "clone", "scrub", NULL };
_Static_assert(VEIL_RESET_CLONE == 0 && VEIL_RESET_SCRUB == 1, "reset_names follows the enum");
_Static_assert(sizeof(enum veil_reset) == sizeof(enum veil_accel), "KIND_ENUM stores every enum alike");

/* Indexed by enum veil_shared_fs. */
static const char *const shared_fs_names[] = { "none", "virtio-fs", NULL };
_Static_assert(VEIL_SHARED_FS_NONE == 0 && VEIL_SHARED_FS_VIRTIO_FS == 1, "shared_fs_names follows the enum");
_Static_assert(sizeof(enum veil_shared_fs) == sizeof(enum veil_accel), "KIND_ENUM stores every enum alike");
/* virtiofsd's own names for its cache modes (QEMU 7.2's C daemon). */
static const char *const virtio_fs_caches[] = { "none", "auto", "always", NULL };

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const tee_names[] = { "snp", "tdx", "emulated", NULL };

#define MAX_PATH (PATH_MAX - 1)
#define MAX_SOCKET_PATH (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

static const struct key_spec qemu_keys[] = {
	PATH("path", qemu.path, MAX_PATH, "/usr/bin/qemu-system-x86_64"),
	PATH("kernel", qemu.kernel, MAX_PATH, NULL),
	PATH("initrd", qemu.initrd, MAX_PATH, NULL),
	STRING("machine_type", KIND_NAME, qemu.machine_type, "microvm", NULL),
	U32("default_memory", qemu.default_memory, 64, 65536, 256),
	U32("default_vcpus", qemu.default_vcpus, 1, 64, 1),
	U32("memory_overhead", qemu.memory_overhead, 0, 65536, 192),
	STRING("kernel_params", KIND_TEXT, qemu.kernel_params, "", NULL),
	{ .name = "accel", .kind = KIND_ENUM, .offset = FIELD(qemu.accel), .choices = accel_names, .def_num = VEIL_ACCEL_AUTO },
	BOOL("pvm_guest", qemu.pvm_guest),
	BOOL("confidential_guest", qemu.confidential_guest),
	STRING("tee", KIND_CHOICE, qemu.tee, NULL, tee_names),
	PATH("firmware", qemu.firmware, MAX_PATH, NULL),
	PATH("emulated_tee_dir", qemu.emulated_tee_dir, MAX_PATH, "/var/lib/veil/emulated-tee"),
	PATH("init_data", qemu.init_data, MAX_PATH, NULL),
	STRING("snp_vcpu_type", KIND_NAME, qemu.snp_vcpu_type, "EPYC-v4", NULL),
	U32("snp_guest_features", qemu.snp_guest_features, 1, UINT32_MAX, 1),
	{ .name = "shared_fs", .kind = KIND_ENUM, .offset = FIELD(qemu.shared_fs), .choices = shared_fs_names,
	  .def_num = VEIL_SHARED_FS_NONE },
	PATH("virtio_fs_daemon", qemu.virtio_fs_daemon, MAX_PATH, "/usr/lib/qemu/virtiofsd"),
	STRING("virtio_fs_cache", KIND_CHOICE, qemu.virtio_fs_cache, "auto", virtio_fs_caches),
	END,
};

static const struct key_spec agent_keys[] = {
	U32("dial_timeout", agent.dial_timeout, 1, 3600, 30),
	U32("request_timeout", agent.request_timeout, 1, 3600, 60),
	BOOL("debug_console_enabled", agent.debug_console_enabled),
	END,
};

static const struct key_spec runtime_keys[] = {
	PATH("state_dir", runtime.state_dir, MAX_PATH, "/run/veil"),
	STRING("log_level", KIND_CHOICE, runtime.log_level, "info", log_levels),
	{ .name = "reset", .kind = KIND_ENUM, .offset = FIELD(runtime.reset), .choices = reset_names, .def_num = VEIL_RESET_CLONE },
	PATH("image_cache_dir", runtime.image_cache_dir, MAX_PATH, "/run/veil/images"),
	U32("image_cache_size", runtime.image_cache_size, 0, 1u << 20, 1024),
	BOOL("trace", runtime.trace),
	PATH("trace_dir", runtime.trace_dir, MAX_PATH, NULL),
	END,
};

static const struct key_spec factory_keys[] = {
	U32("vm_cache_number", factory.vm_cache_number, 0, 64, 0),
	PATH("vm_cache_endpoint", factory.vm_cache_endpoint, MAX_SOCKET_PATH, "/run/veil/cache.sock"),
	U32("pcie_root_port", factory.pcie_root_port, 0, 16, 8),
	BOOL("enable_template", factory.enable_template),
	BOOL_ON("warm_up", factory.warm_up),
	PATH("template_path", factory.template_path, MAX_PATH, "/run/veil/template"),
	END,
};

static const struct table_spec hypervisor_tables[] = {
	{ .name = "qemu", .keys = qemu_keys },
	END,
};

static const struct table_spec root_tables[] = {
	{ .name = "hypervisor", .tables = hypervisor_tables },
	{ .name = "agent", .keys = agent_keys },
	{ .name = "runtime", .keys = runtime_keys },
	{ .name = "factory", .keys = factory_keys },
	END,
};

static const struct table_spec root_spec = { .tables = root_tables };

static void *field(struct veil_config *cfg, const struct key_spec *k)
{
	return (char *)cfg + k->offset;
}

static bool is_string_kind(enum kind kind)
{
	return kind != KIND_ENUM && kind != KIND_U32 && kind != KIND_BOOL;
}

static int set_string(struct veil_config *cfg, const struct key_spec *k, const char *value, veil_err_t *err)
{
	char **slot = field(cfg, k);
	char *copy = strdup(value);
	if (copy == NULL)
		return veil_fail(err, ENOMEM, "%s", k->name);
	free(*slot);
	*slot = copy;
	return 0;
}

static int set_defaults(const struct table_spec *spec, struct veil_config *cfg, veil_err_t *err)
{
	for (const struct key_spec *k = spec->keys; k != NULL && k->name != NULL; k++) {
		if (k->kind == KIND_U32)
			*(uint32_t *)field(cfg, k) = k->def_num;
		else if (k->kind == KIND_BOOL)
			*(bool *)field(cfg, k) = k->def_num != 0;
		else if (k->kind == KIND_ENUM)
			*(enum veil_accel *)field(cfg, k) = (enum veil_accel)k->def_num;
		else if (k->def_str != NULL && set_string(cfg, k, k->def_str, err) < 0)
			return -1;
	}
	for (const struct table_spec *t = spec->tables; t != NULL && t->name != NULL; t++)
		if (set_defaults(t, cfg, err) < 0)
			return -1;
	return 0;
}

static void free_strings(const struct table_spec *spec, struct veil_config *cfg)
{
	for (const struct key_spec *k = spec->keys; k != NULL && k->name != NULL; k++)
		if (is_string_kind(k->kind))
			free(*(char **)field(cfg, k));
	for (const struct table_spec *t = spec->tables; t != NULL && t->name != NULL; t++)
		free_strings(t, cfg);
}

void veil_config_free(struct veil_config *cfg)
{
	free_strings(&root_spec, cfg);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

static int choice_index(const char *const *choices, const char *s)
{
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], s) == 0)
			return i;
	return -1;
}

/* Checks a string value against its kind; path names the key in messages. */
static int check_string(const struct key_spec *k, const struct toml_node *v, const char *path, veil_err_t *err)
{
	const char *s = v->str;
	switch (k->kind) {
	case KIND_PATH:
		if (s[0] != '/')
			return toml_fail_at(err, v->line, v->col, "%s must be an absolute path, got \"%.200s\"", path, s);
		if (v->str_len > k->max)
			return toml_fail_at(err, v->line, v->col, "%s is longer than %" PRIu32 " bytes", path, k->max);
		return 0;
	case KIND_NAME:
		if (s[0] == '\0' || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != v->str_len)
			return toml_fail_at(err, v->line, v->col,
					    "%s must be a name made of letters, digits, '.', '_' and '-'", path);
		return 0;
	case KIND_TEXT:
		for (const char *c = s; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7F)
				return toml_fail_at(err, v->line, v->col, "%s contains a control character", path);
		return 0;
	default:
		if (choice_index(k->choices, s) >= 0)
			return 0;
		char list[128] = "";
		for (size_t i = 0, len = 0; k->choices[i] != NULL && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"", i ? ", " : "", k->choices[i]);
		return toml_fail_at(err, v->line, v->col, "%s must be one of %s, got \"%.200s\"", path, list, s);
	}
}

static int apply_key(const struct toml_table *t, const struct key_spec *k, struct veil_config *cfg, veil_err_t *err)
{
	const struct toml_node *v = toml_get(t, k->name);
	if (v == NULL)
		return 0;
	char path[256];
	toml_path(t, k->name, strlen(k->name), path, sizeof(path));
	if (k->kind == KIND_BOOL)
		return toml_get_bool(t, k->name, field(cfg, k), err) < 0 ? -1 : 0;
	if (k->kind == KIND_U32) {
		int64_t n;
		if (toml_get_int(t, k->name, &n, err) < 0)
			return -1;
		if (n < k->min || n > k->max)
			return toml_fail_at(err, v->line, v->col, "%s = %" PRId64 " is out of range %" PRIu32 "..%" PRIu32,
					    path, n, k->min, k->max);
		*(uint32_t *)field(cfg, k) = (uint32_t)n;
		return 0;
	}
	const char *s;
	if (toml_get_string(t, k->name, &s, err) < 0 || check_string(k, v, path, err) < 0)
		return -1;
	if (k->kind == KIND_ENUM) {
		*(enum veil_accel *)field(cfg, k) = (enum veil_accel)choice_index(k->choices, s);
		return 0;
	}
	return set_string(cfg, k, s, err);
}

static bool names(const char *name, const struct toml_member *m)
{
	return strlen(name) == m->key_len && memcmp(name, m->key, m->key_len) == 0;
}

static bool is_known(const struct table_spec *spec, const struct toml_member *m)
{
	for (const struct key_spec *k = spec->keys; k != NULL && k->name != NULL; k++)
		if (names(k->name, m))
			return true;
	for (const struct table_spec *t = spec->tables; t != NULL && t->name != NULL; t++)
		if (names(t->name, m))
			return true;
	return false;
}

static int fail_unknown(const struct toml_table *t, const struct table_spec *spec, const struct toml_member *m,
			veil_err_t *err)
{
	char path[256], known[512];
	size_t len = 0;
	toml_path(t, m->key, m->key_len, path, sizeof(path));
	known[0] = '\0';
	for (const struct key_spec *k = spec->keys; k != NULL && k->name != NULL && len < sizeof(known); k++)
		len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "", k->name);
	for (const struct table_spec *s = spec->tables; s != NULL && s->name != NULL && len < sizeof(known); s++)
		len += (size_t)snprintf(known + len, sizeof(known) - len, "%s[%s]", len ? ", " : "", s->name);
	if (m->value.type == TOML_TABLE)
		return toml_fail_at(err, m->line, m->col, "unknown table [%s] (expected %s)", path, known);
	return toml_fail_at(err, m->line, m->col, "unknown key %s (expected %s)", path, known);
}

static int apply_table(const struct toml_table *t, const struct table_spec *spec, struct veil_config *cfg,
		       veil_err_t *err)
{
	/* Before applying anything: a misspelt key would otherwise leave its
	 * setting at the default without a word. */
	const struct toml_member *m;
	for (size_t i = 0; (m = toml_member_at(t, i)) != NULL; i++)
		if (!is_known(spec, m))
			return fail_unknown(t, spec, m, err);
	for (const struct key_spec *k = spec->keys; k != NULL && k->name != NULL; k++)
		if (apply_key(t, k, cfg, err) < 0)
			return -1;
	for (const struct table_spec *s = spec->tables; s != NULL && s->name != NULL; s++) {
		const struct toml_table *sub;
		int rc = toml_get_table(t, s->name, &sub, err);
		if (rc < 0 || (rc == 1 && apply_table(sub, s, cfg, err) < 0))
			return -1;
	}
	return 0;
}

/* veil_fail_context would insert ": "; positions read better as ORIGIN:LINE:COL. */
static int prefix_origin(veil_err_t *err, const char *origin)
{
	if (err == NULL || *err == NULL)
		return -1;
	char *msg = (*err)->msg;
	const size_t room = sizeof((*err)->msg) - 1;
	size_t head = strlen(origin) + 1;
	if (head > room)
		head = room;
	size_t body = strlen(msg);
	if (body > room - head)
		body = room - head;
	memmove(msg + head, msg, body);
	memcpy(msg, origin, head - 1);
	msg[head - 1] = ':';
	msg[head + body] = '\0';
	return -1;
}

/* What no single key can check: the confidential settings agree with each
 * other and with the factory. */
static int check_confidential(const struct veil_config *cfg, veil_err_t *err)
{
	if (cfg->qemu.confidential_guest && cfg->qemu.tee == NULL)
		return veil_fail(err, 0, "[hypervisor.qemu] confidential_guest = true needs tee = \"snp\", \"tdx\" or "
				 "\"emulated\" (the emulated TEE protects nothing: development and CI only)");
	if (!cfg->qemu.confidential_guest && cfg->qemu.tee != NULL)
		return veil_fail(err, 0, "[hypervisor.qemu] tee = \"%s\" has no effect without confidential_guest = true",
				 cfg->qemu.tee);
	if (!cfg->qemu.confidential_guest && cfg->qemu.init_data != NULL)
		return veil_fail(err, 0, "[hypervisor.qemu] init_data needs confidential_guest = true");
	if (cfg->qemu.confidential_guest && cfg->factory.enable_template)
		return veil_fail(err, 0, "[factory] enable_template = true cannot serve confidential guests: a template's "
				 "clones share its memory copy-on-write, which a TEE's encrypted memory cannot be, and "
				 "would share one launch between tenants; set enable_template = false (the VM cache and "
				 "reset = \"scrub\" work for confidential guests)");
	return 0;
}

/* What no single key can check about sharing host files with the guest: the
 * one place that says which configurations cannot have virtio-fs. */
static int check_shared_fs(const struct veil_config *cfg, veil_err_t *err)
{
	if (cfg->qemu.shared_fs == VEIL_SHARED_FS_VIRTIO_FS && cfg->qemu.confidential_guest)
		return veil_fail(err, 0, "[hypervisor.qemu] shared_fs = \"virtio-fs\" cannot serve a confidential guest: "
				 "the host could read and rewrite every shared file, and a shared memory backend "
				 "defeats the TEE; use shared_fs = \"none\"");
	return 0;
}

int veil_config_parse(const char *text, size_t len, const char *origin, struct veil_config *cfg, veil_err_t *err)
{
	memset(cfg, 0, sizeof(*cfg));
	struct toml_table *doc = NULL;
	int rc = set_defaults(&root_spec, cfg, err);
	if (rc == 0) {
		doc = toml_parse(text, len, err);
		rc = doc != NULL ? apply_table(doc, &root_spec, cfg, err) : -1;
	}
	toml_free(doc);
	if (rc < 0) {
		veil_config_free(cfg);
		return prefix_origin(err, origin);
	}
	if (check_confidential(cfg, err) < 0 || check_shared_fs(cfg, err) < 0) {
		veil_config_free(cfg);
		return veil_fail_context(err, "%s", origin);
	}
	/* With a second backend, the [hypervisor.NAME] table present names it. */
	cfg->hypervisor = "qemu";
	return 0;
}

/* 1 if path exists, 0 if not, -1 if that cannot be told. */
static int exists(const char *path, veil_err_t *err)
{
	struct stat st;
	if (stat(path, &st) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return veil_fail(err, errno, "cannot access config file %s", path);
}

static int read_config_file(const char *path, char **text, size_t *len, veil_err_t *err)
{
	/* O_NONBLOCK so that a FIFO cannot stall us before the type check. */
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return veil_fail(err, errno, "cannot open config file %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return veil_fail(err, errno, "cannot stat config file %s", path);
	if (!S_ISREG(st.st_mode))
		return veil_fail(err, 0, "config file %s is not a regular file", path);
	/* One byte past the parser's bound lets it report an oversized file. */
	const size_t cap = TOML_MAX_INPUT + 1;
	cleanup_free char *buf = malloc(cap);
	if (buf == NULL)
		return veil_fail(err, ENOMEM, "cannot read config file %s", path);
	size_t n = 0;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return veil_fail(err, errno, "cannot read config file %s", path);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*text = veil_steal_ptr(buf);
	*len = n;
	return 0;
}

int veil_config_load_from(const char *cli_path, const char *const *default_paths, size_t n_default,
			  struct veil_config *cfg, veil_err_t *err)
{
	memset(cfg, 0, sizeof(*cfg));
	/* secure_getenv: a setuid caller must not let its user pick the config. */
	const char *env = secure_getenv("VEIL_CONF_FILE");
	const char *path = cli_path;
	const char *source = "--config";
	if (path == NULL && env != NULL && env[0] != '\0') {
		path = env;
		source = "VEIL_CONF_FILE";
	}
	if (path != NULL) {
		int rc = exists(path, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return veil_fail(err, 0, "config file %s (from %s) does not exist", path, source);
	}
	for (size_t i = 0; path == NULL && i < n_default; i++) {
		int rc = exists(default_paths[i], err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			path = default_paths[i];
	}
	if (path == NULL) {
		char tried[768] = "";
		for (size_t i = 0, len = 0; i < n_default && len < sizeof(tried); i++)
			len += (size_t)snprintf(tried + len, sizeof(tried) - len, "%s%s", i ? ", " : "", default_paths[i]);
		return veil_fail(err, 0, "no config file found (tried %s); name one with --config or VEIL_CONF_FILE",
				 tried);
	}
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (read_config_file(path, &text, &len, err) < 0 || veil_config_parse(text, len, path, cfg, err) < 0)
		return -1;
	cfg->path = strdup(path);
	if (cfg->path == NULL) {
		veil_config_free(cfg);
		return veil_fail(err, ENOMEM, "config file %s", path);
	}
	return 0;
}

int veil_config_load(const char *cli_path, struct veil_config *cfg, veil_err_t *err)
{
	const char *paths[VEIL_CONFIG_MAX_DEFAULT_PATHS];
	char beside[PATH_MAX];
	size_t n = veil_config_default_paths(paths, beside);
	return veil_config_load_from(cli_path, paths, n, cfg, err);
}
