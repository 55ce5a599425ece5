#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "tap.h"

static bool streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int parse(const char *doc, struct veil_config *cfg)
{
	veil_err_t err = NULL;
	int rc = veil_config_parse(doc, strlen(doc), "t.toml", cfg, &err);
	if (rc < 0)
		printf("# unexpected error: %s\n", err->msg);
	veil_error_free(&err);
	return rc;
}

/* The error must start with `want` (messages about unknown keys go on to
 * list the known ones). */
static void reject(const char *doc, const char *want)
{
	struct veil_config cfg;
	veil_err_t err = NULL;
	int rc = veil_config_parse(doc, strlen(doc), "t.toml", &cfg, &err);
	const char *got = err != NULL ? err->msg : "(parsed)";
	if (!CHECK(rc == -1 && strncmp(got, want, strlen(want)) == 0, "rejected with \"%s\"", want))
		printf("#   got \"%s\"\n", got);
	CHECK(rc == 0 || (cfg.qemu.path == NULL && cfg.runtime.state_dir == NULL), "nothing left to free on failure");
	if (rc == 0)
		veil_config_free(&cfg);
	veil_error_free(&err);
}

static bool has_defaults(const struct veil_config *c)
{
	return streq(c->qemu.path, "/usr/bin/qemu-system-x86_64") && streq(c->qemu.machine_type, "microvm") &&
	       c->qemu.default_memory == 256 && c->qemu.default_vcpus == 1 && c->qemu.memory_overhead == 192 && streq(c->qemu.kernel_params, "") &&
	       c->qemu.accel == VEIL_ACCEL_AUTO && !c->qemu.pvm_guest && c->agent.dial_timeout == 30 &&
	       c->agent.request_timeout == 60 && !c->agent.debug_console_enabled &&
	       streq(c->runtime.state_dir, "/run/veil") && streq(c->runtime.log_level, "info") &&
	       c->factory.vm_cache_number == 0 && streq(c->factory.vm_cache_endpoint, "/run/veil/cache.sock") &&
	       c->factory.pcie_root_port == 8 && !c->factory.enable_template && c->factory.warm_up &&
	       !c->qemu.confidential_guest &&
	       c->qemu.shared_fs == VEIL_SHARED_FS_NONE && streq(c->qemu.virtio_fs_daemon, "/usr/lib/qemu/virtiofsd") &&
	       streq(c->qemu.virtio_fs_cache, "auto") &&
	       streq(c->factory.template_path, "/run/veil/template") && c->runtime.reset == VEIL_RESET_CLONE &&
	       !c->runtime.trace && c->runtime.trace_dir == NULL &&
	       streq(c->runtime.image_cache_dir, "/run/veil/images") && c->runtime.image_cache_size == 1024;
}

static void test_defaults(void)
{
	struct veil_config cfg;
	CHECK(parse("", &cfg) == 0 && has_defaults(&cfg), "empty document gives every default");
	CHECK(cfg.qemu.kernel == NULL && cfg.qemu.initrd == NULL && cfg.path == NULL,
	      "kernel, initrd and path have no default");
	veil_config_free(&cfg);
	CHECK(cfg.qemu.path == NULL && cfg.runtime.log_level == NULL, "veil_config_free clears the struct");
	CHECK(parse("[hypervisor]\n[hypervisor.qemu]\n[agent]\n[runtime]\n[factory]\n", &cfg) == 0 && has_defaults(&cfg),
	      "empty tables give every default");
	veil_config_free(&cfg);
}

static void test_every_key(void)
{
	struct veil_config cfg;
	const char *doc = "[hypervisor.qemu]\n"
			  "path = \"/opt/qemu/bin/qemu-system-x86_64\"\n"
			  "kernel = \"/k/vmlinux\"\n"
			  "initrd = \"/k/initrd.img\"\n"
			  "machine_type = \"q35\"\n"
			  "default_memory = 2048\n"
			  "default_vcpus = 4\n"
			  "kernel_params = \"quiet loglevel=3\"\n"
			  "accel = \"tcg\"\n"
			  "pvm_guest = true\n"
			  "shared_fs = \"virtio-fs\"\n"
			  "virtio_fs_daemon = \"/opt/virtiofsd\"\n"
			  "virtio_fs_cache = \"always\"\n"
			  "[agent]\n"
			  "dial_timeout = 5\n"
			  "request_timeout = 120\n"
			  "debug_console_enabled = true\n"
			  "[runtime]\n"
			  "state_dir = \"/var/run/veil2\"\n"
			  "log_level = \"debug\"\n"
			  "reset = \"scrub\"\n"
			  "image_cache_dir = \"/srv/images\"\n"
			  "image_cache_size = 0\n"
			  "trace = true\n"
			  "trace_dir = \"/var/log/veil-traces\"\n"
			  "[factory]\n"
			  "vm_cache_number = 3\n"
			  "vm_cache_endpoint = \"/tmp/c.sock\"\n"
			  "pcie_root_port = 0\n"
			  "enable_template = true\n"
			  "template_path = \"/srv/template\"\n"
			  "warm_up = false\n";
	if (!CHECK(parse(doc, &cfg) == 0, "document setting every key parses"))
		return;
	CHECK(streq(cfg.qemu.path, "/opt/qemu/bin/qemu-system-x86_64"), "qemu.path");
	CHECK(streq(cfg.qemu.kernel, "/k/vmlinux"), "qemu.kernel");
	CHECK(streq(cfg.qemu.initrd, "/k/initrd.img"), "qemu.initrd");
	CHECK(streq(cfg.qemu.machine_type, "q35"), "qemu.machine_type");
	CHECK(cfg.qemu.default_memory == 2048, "qemu.default_memory");
	CHECK(cfg.qemu.default_vcpus == 4, "qemu.default_vcpus");
	CHECK(streq(cfg.qemu.kernel_params, "quiet loglevel=3"), "qemu.kernel_params");
	CHECK(cfg.qemu.accel == VEIL_ACCEL_TCG, "qemu.accel");
	CHECK(cfg.qemu.pvm_guest, "qemu.pvm_guest");
	CHECK(cfg.qemu.shared_fs == VEIL_SHARED_FS_VIRTIO_FS, "qemu.shared_fs");
	CHECK(streq(cfg.qemu.virtio_fs_daemon, "/opt/virtiofsd"), "qemu.virtio_fs_daemon");
	CHECK(streq(cfg.qemu.virtio_fs_cache, "always"), "qemu.virtio_fs_cache");
	CHECK(cfg.agent.dial_timeout == 5, "agent.dial_timeout");
	CHECK(cfg.agent.request_timeout == 120, "agent.request_timeout");
	CHECK(cfg.agent.debug_console_enabled, "agent.debug_console_enabled");
	CHECK(streq(cfg.runtime.state_dir, "/var/run/veil2"), "runtime.state_dir");
	CHECK(streq(cfg.runtime.log_level, "debug"), "runtime.log_level");
	CHECK(cfg.runtime.reset == VEIL_RESET_SCRUB, "runtime.reset");
	CHECK(cfg.runtime.trace && streq(cfg.runtime.trace_dir, "/var/log/veil-traces"), "runtime.trace, trace_dir");
	CHECK(streq(cfg.runtime.image_cache_dir, "/srv/images") && cfg.runtime.image_cache_size == 0,
	      "runtime.image_cache_dir, image_cache_size");
	CHECK(cfg.factory.vm_cache_number == 3, "factory.vm_cache_number");
	CHECK(streq(cfg.factory.vm_cache_endpoint, "/tmp/c.sock"), "factory.vm_cache_endpoint");
	CHECK(cfg.factory.pcie_root_port == 0, "factory.pcie_root_port");
	CHECK(cfg.factory.enable_template, "factory.enable_template");
	CHECK(streq(cfg.factory.template_path, "/srv/template"), "factory.template_path");
	CHECK(!cfg.factory.warm_up, "factory.warm_up");
	veil_config_free(&cfg);

	static const struct {
		const char *value;
		enum veil_accel accel;
	} accels[] = { { "auto", VEIL_ACCEL_AUTO }, { "kvm", VEIL_ACCEL_KVM }, { "tcg", VEIL_ACCEL_TCG } };
	for (size_t i = 0; i < sizeof(accels) / sizeof(accels[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "[hypervisor.qemu]\naccel = \"%s\"\n", accels[i].value);
		CHECK(parse(line, &cfg) == 0 && cfg.qemu.accel == accels[i].accel, "accel = \"%s\"", accels[i].value);
		veil_config_free(&cfg);
	}
	CHECK(parse("runtime.reset = \"clone\"\n", &cfg) == 0 && cfg.runtime.reset == VEIL_RESET_CLONE, "reset = \"clone\"");
	veil_config_free(&cfg);
	const char *levels[] = { "debug", "info", "warn", "error" };
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "runtime.log_level = \"%s\"\n", levels[i]);
		CHECK(parse(line, &cfg) == 0 && streq(cfg.runtime.log_level, levels[i]), "log_level = \"%s\"", levels[i]);
		veil_config_free(&cfg);
	}
	CHECK(parse("hypervisor.qemu.default_memory = 64\nhypervisor.qemu.default_vcpus = 64\n"
		    "agent.dial_timeout = 3600\nagent.request_timeout = 1\nfactory.pcie_root_port = 16\n"
		    "factory.vm_cache_number = 64\n",
		    &cfg) == 0 &&
		      cfg.qemu.default_memory == 64 && cfg.qemu.default_vcpus == 64 && cfg.agent.dial_timeout == 3600 &&
		      cfg.agent.request_timeout == 1 && cfg.factory.pcie_root_port == 16 && cfg.factory.vm_cache_number == 64,
	      "range bounds are inclusive (dotted keys from the root)");
	veil_config_free(&cfg);
	CHECK(parse("[hypervisor.qemu]\ndefault_memory = 65536\n", &cfg) == 0 && cfg.qemu.default_memory == 65536,
	      "default_memory = 65536");
	veil_config_free(&cfg);
}

static void test_ranges(void)
{
	reject("[hypervisor.qemu]\ndefault_memory = 63",
	       "t.toml:2:18: hypervisor.qemu.default_memory = 63 is out of range 64..65536");
	reject("[hypervisor.qemu]\ndefault_memory = 65537",
	       "t.toml:2:18: hypervisor.qemu.default_memory = 65537 is out of range 64..65536");
	reject("[hypervisor.qemu]\ndefault_memory = -1",
	       "t.toml:2:18: hypervisor.qemu.default_memory = -1 is out of range 64..65536");
	reject("[hypervisor.qemu]\ndefault_vcpus = 0", "t.toml:2:17: hypervisor.qemu.default_vcpus = 0 is out of range 1..64");
	reject("[hypervisor.qemu]\ndefault_vcpus = 65",
	       "t.toml:2:17: hypervisor.qemu.default_vcpus = 65 is out of range 1..64");
	reject("[agent]\ndial_timeout = 0", "t.toml:2:16: agent.dial_timeout = 0 is out of range 1..3600");
	reject("[agent]\ndial_timeout = 3601", "t.toml:2:16: agent.dial_timeout = 3601 is out of range 1..3600");
	reject("[agent]\nrequest_timeout = 0", "t.toml:2:19: agent.request_timeout = 0 is out of range 1..3600");
	reject("[agent]\nrequest_timeout = 4294967297",
	       "t.toml:2:19: agent.request_timeout = 4294967297 is out of range 1..3600");
	reject("[factory]\npcie_root_port = 17", "t.toml:2:18: factory.pcie_root_port = 17 is out of range 0..16");
	reject("[factory]\nvm_cache_number = 65", "t.toml:2:19: factory.vm_cache_number = 65 is out of range 0..64");
	reject("[factory]\nvm_cache_number = -1", "t.toml:2:19: factory.vm_cache_number = -1 is out of range 0..64");
}

static void test_bad_values(void)
{
	reject("[hypervisor.qemu]\nkernel = \"vmlinux\"",
	       "t.toml:2:10: hypervisor.qemu.kernel must be an absolute path, got \"vmlinux\"");
	reject("[hypervisor.qemu]\npath = \"\"", "t.toml:2:8: hypervisor.qemu.path must be an absolute path, got \"\"");
	reject("[hypervisor.qemu]\ninitrd = \"./i.img\"",
	       "t.toml:2:10: hypervisor.qemu.initrd must be an absolute path");
	reject("[runtime]\nstate_dir = \"run/veil\"", "t.toml:2:13: runtime.state_dir must be an absolute path");
	reject("[factory]\ntemplate_path = \"x\"", "t.toml:2:17: factory.template_path must be an absolute path");
	reject("[factory]\nvm_cache_endpoint = \"cache.sock\"",
	       "t.toml:2:21: factory.vm_cache_endpoint must be an absolute path");
	char doc[256];
	snprintf(doc, sizeof(doc), "[factory]\nvm_cache_endpoint = \"/%0108d\"", 0);
	reject(doc, "t.toml:2:21: factory.vm_cache_endpoint is longer than 107 bytes");
	snprintf(doc, sizeof(doc), "[factory]\nvm_cache_endpoint = \"/%0106d\"", 0);
	struct veil_config cfg;
	CHECK(parse(doc, &cfg) == 0 && strlen(cfg.factory.vm_cache_endpoint) == 107, "socket path of 107 bytes");
	veil_config_free(&cfg);
	reject("[hypervisor.qemu]\naccel = \"hvf\"",
	       "t.toml:2:9: hypervisor.qemu.accel must be one of \"auto\", \"kvm\", \"tcg\", got \"hvf\"");
	reject("[hypervisor.qemu]\naccel = \"KVM\"", "t.toml:2:9: hypervisor.qemu.accel must be one of");
	reject("[runtime]\nreset = \"wipe\"", "t.toml:2:9: runtime.reset must be one of \"clone\", \"scrub\", got \"wipe\"");
	reject("[runtime]\nlog_level = \"verbose\"",
	       "t.toml:2:13: runtime.log_level must be one of \"debug\", \"info\", \"warn\", \"error\", got \"verbose\"");
	reject("[hypervisor.qemu]\nmachine_type = \"microvm,accel=tcg\"",
	       "t.toml:2:16: hypervisor.qemu.machine_type must be a name made of letters, digits, '.', '_' and '-'");
	reject("[hypervisor.qemu]\nmachine_type = \"\"", "t.toml:2:16: hypervisor.qemu.machine_type must be a name");
	reject("[hypervisor.qemu]\nkernel_params = \"a\\nb\"",
	       "t.toml:2:17: hypervisor.qemu.kernel_params contains a control character");
	reject("[hypervisor.qemu]\nkernel = \"/a\\u0000b\"", "t.toml:2:10: hypervisor.qemu.kernel: string contains U+0000");
}

/* What no single key can check: virtio-fs never with a confidential guest. */
static void test_shared_fs(void)
{
	reject("[hypervisor.qemu]\nshared_fs = \"virtio-fs\"\nconfidential_guest = true\ntee = \"emulated\"",
	       "t.toml: [hypervisor.qemu] shared_fs = \"virtio-fs\" cannot serve a confidential guest: the host could "
	       "read and rewrite every shared file");
	reject("[hypervisor.qemu]\nshared_fs = \"virtio-9p\"",
	       "t.toml:2:13: hypervisor.qemu.shared_fs must be one of \"none\", \"virtio-fs\", got \"virtio-9p\"");
	reject("[hypervisor.qemu]\nvirtio_fs_cache = \"never\"",
	       "t.toml:2:19: hypervisor.qemu.virtio_fs_cache must be one of \"none\", \"auto\", \"always\"");
	reject("[hypervisor.qemu]\nvirtio_fs_daemon = \"virtiofsd\"",
	       "t.toml:2:20: hypervisor.qemu.virtio_fs_daemon must be an absolute path");
	struct veil_config cfg;
	CHECK(parse("[hypervisor.qemu]\nshared_fs = \"none\"\nconfidential_guest = true\ntee = \"emulated\"\n", &cfg) == 0 &&
		      cfg.qemu.confidential_guest && cfg.qemu.shared_fs == VEIL_SHARED_FS_NONE,
	      "a confidential guest with shared_fs = \"none\"");
	veil_config_free(&cfg);
}

static void test_types_and_unknown(void)
{
	reject("[hypervisor.qemu]\ndefault_memory = \"256\"",
	       "t.toml:2:18: hypervisor.qemu.default_memory: expected integer, found string");
	reject("[hypervisor.qemu]\npath = 1", "t.toml:2:8: hypervisor.qemu.path: expected string, found integer");
	reject("[hypervisor.qemu]\naccel = true", "t.toml:2:9: hypervisor.qemu.accel: expected string, found boolean");
	reject("[agent]\ndebug_console_enabled = 1",
	       "t.toml:2:25: agent.debug_console_enabled: expected boolean, found integer");
	reject("[factory]\nenable_template = \"true\"",
	       "t.toml:2:19: factory.enable_template: expected boolean, found string");
	reject("[factory]\nwarm_up = \"yes\"", "t.toml:2:11: factory.warm_up: expected boolean, found string");
	reject("[factory]\nwarm_up = 1", "t.toml:2:11: factory.warm_up: expected boolean, found integer");
	reject("[runtime]\nlog_level = [\"info\"]", "t.toml:2:13: runtime.log_level: expected string, found array");
	reject("hypervisor = 1", "t.toml:1:14: hypervisor: expected table, found integer");
	reject("[hypervisor]\nqemu = \"x\"", "t.toml:2:8: hypervisor.qemu: expected table, found string");
	reject("[hypervisor.qemu.path]", "t.toml:1:18: hypervisor.qemu.path: expected string, found table");

	reject("[hypervisor.qemu]\nmemory = 512",
	       "t.toml:2:1: unknown key hypervisor.qemu.memory (expected path, kernel, initrd, machine_type, "
	       "default_memory, default_vcpus, memory_overhead, kernel_params, accel, pvm_guest, confidential_guest, tee, "
	       "firmware, emulated_tee_dir, init_data, snp_vcpu_type, snp_guest_features, shared_fs, virtio_fs_daemon, "
	       "virtio_fs_cache)");
	reject("[hypervisor.qem]", "t.toml:1:13: unknown table [hypervisor.qem] (expected [qemu])");
	reject("[hypervisor.firecracker]\npath = \"/x\"", "t.toml:1:13: unknown table [hypervisor.firecracker]");
	reject("[agnet]\ndial_timeout = 1",
	       "t.toml:1:2: unknown table [agnet] (expected [hypervisor], [agent], [runtime], [factory])");
	reject("debug = true", "t.toml:1:1: unknown key debug (expected [hypervisor], [agent], [runtime], [factory])");
	reject("[agent]\ndial_timeout = 1\ndial-timeout = 2",
	       "t.toml:3:1: unknown key agent.dial-timeout (expected dial_timeout, request_timeout, "
	       "debug_console_enabled)");
	reject("[runtime]\n\"state_dir\\u0000x\" = \"/x\"", "t.toml:2:1: unknown key runtime.\"state_dir\\u0000x\"");
	reject("[factory.sub]", "t.toml:1:10: unknown table [factory.sub]");
	reject("[hypervisor.qemu]\nmemory = 1\ndefault_memory = 1", "t.toml:2:1: unknown key hypervisor.qemu.memory");
}

static void test_syntax_errors_carry_origin(void)
{
	reject("a = 1 b = 2", "t.toml:1:7: expected end of line, found 'b'");
	reject("[agent]\ndial_timeout = 1.5", "t.toml:2:16: unsupported: floating-point numbers");
	reject("[agent]\ndial_timeout = 1\ndial_timeout = 2", "t.toml:3:1: duplicate key agent.dial_timeout");
	struct veil_config cfg;
	veil_err_t err = NULL;
	CHECK(veil_config_parse("x", 1, "/etc/veil/configuration.toml", &cfg, &err) == -1 &&
		      streq(err->msg, "/etc/veil/configuration.toml:1:2: expected '=' after the key, found end of input"),
	      "origin is the prefix of the message");
	veil_error_free(&err);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Replaces every `from` in s (malloc'd) by `to`; returns a new string. */
static char *replace(char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to);
	char *out = malloc(strlen(s) * (tl + 1) + 1), *o = out;
	for (const char *p = s; *p != '\0';) {
		if (strncmp(p, from, fl) == 0) {
			memcpy(o, to, tl);
			o += tl;
			p += fl;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	free(s);
	return out;
}

/* The shipped configuration must parse and document the real defaults. */
static void test_shipped_template(void)
{
	char path[4096];
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	snprintf(path, sizeof(path), "%.*s/../../config/configuration.toml.in", slash ? (int)(slash - file) : 1,
		 slash ? file : ".");
	size_t len;
	char *doc = read_all(path, &len);
	if (!CHECK(doc != NULL, "read %s", path))
		return;
	CHECK(strstr(doc, "kernel = \"@KERNEL@\"") && strstr(doc, "initrd = \"@INITRD@\"") &&
		      strstr(doc, "kernel_params = \"\""),
	      "template has the @KERNEL@ and @INITRD@ placeholders and empty kernel_params");
	doc = replace(doc, "@KERNEL@", "/usr/share/veil/vmlinux");
	doc = replace(doc, "@INITRD@", "/usr/share/veil/initrd.img");
	struct veil_config cfg;
	CHECK(parse(doc, &cfg) == 0 && has_defaults(&cfg), "template parses and states the built-in defaults");
	CHECK(streq(cfg.qemu.kernel, "/usr/share/veil/vmlinux") && streq(cfg.qemu.initrd, "/usr/share/veil/initrd.img"),
	      "template kernel and initrd come from the placeholders");
	veil_config_free(&cfg);

	/* Kata's style: a comment right above every option. */
	bool commented = true;
	const char *prev = "";
	for (char *line = strtok(doc, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (line[0] != '#' && line[0] != '[' && strchr(line, '=') != NULL && prev[0] != '#') {
			commented = false;
			printf("# no comment above: %s\n", line);
		}
		prev = line;
	}
	CHECK(commented, "every option in the template has a comment above it");
	free(doc);
}

/* ---- lookup order ---- */

static char tmpdir[4096];

static char *tmp_file(const char *name, const char *content)
{
	char *path = malloc(strlen(tmpdir) + strlen(name) + 2);
	sprintf(path, "%s/%s", tmpdir, name);
	if (content != NULL) {
		FILE *f = fopen(path, "w");
		fputs(content, f);
		fclose(f);
	}
	return path;
}

/* Loads and returns the configured memory size, or 0 with *msg set. */
static uint32_t load(const char *cli, const char *const *defaults, size_t n, char *msg, size_t msg_size,
		     char **loaded_path)
{
	struct veil_config cfg;
	veil_err_t err = NULL;
	uint32_t mem = 0;
	msg[0] = '\0';
	if (veil_config_load_from(cli, defaults, n, &cfg, &err) == 0) {
		mem = cfg.qemu.default_memory;
		if (loaded_path != NULL)
			*loaded_path = strdup(cfg.path);
		veil_config_free(&cfg);
	} else {
		snprintf(msg, msg_size, "%s", err->msg);
	}
	veil_error_free(&err);
	return mem;
}

static void test_lookup_order(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/veil-test-config.XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp");
	if (!CHECK(mkdtemp(tmpdir) != NULL, "temporary directory"))
		return;
	char *cli = tmp_file("cli.toml", "hypervisor.qemu.default_memory = 101\n");
	char *env = tmp_file("env.toml", "hypervisor.qemu.default_memory = 102\n");
	char *def1 = tmp_file("def1.toml", "hypervisor.qemu.default_memory = 103\n");
	char *def2 = tmp_file("def2.toml", "hypervisor.qemu.default_memory = 104\n");
	char *missing = tmp_file("missing.toml", NULL);
	char *bad = tmp_file("bad.toml", "[hypervisor.qemu]\nmemory = 1\n");
	char *dir = tmp_file("dir.toml", NULL);
	mkdir(dir, 0700);
	const char *both[] = { def1, def2 };
	const char *second_only[] = { missing, def2 };
	const char *none[] = { missing, "/nonexistent-veil-dir/configuration.toml" };
	char msg[1024], expect[1024];
	char *loaded = NULL;

	unsetenv("VEIL_CONF_FILE");
	CHECK(load(cli, both, 2, msg, sizeof(msg), &loaded) == 101 && streq(loaded, cli), "--config wins over defaults");
	free(loaded);
	loaded = NULL;
	setenv("VEIL_CONF_FILE", env, 1);
	CHECK(load(cli, both, 2, msg, sizeof(msg), NULL) == 101, "--config wins over VEIL_CONF_FILE");
	CHECK(load(NULL, both, 2, msg, sizeof(msg), &loaded) == 102 && streq(loaded, env),
	      "VEIL_CONF_FILE wins over defaults");
	free(loaded);
	loaded = NULL;

	CHECK(load(missing, both, 2, msg, sizeof(msg), NULL) == 0, "missing --config file is an error");
	snprintf(expect, sizeof(expect), "config file %s (from --config) does not exist", missing);
	CHECK(streq(msg, expect), "message names the --config file: %s", msg);

	setenv("VEIL_CONF_FILE", missing, 1);
	CHECK(load(NULL, both, 2, msg, sizeof(msg), NULL) == 0, "missing VEIL_CONF_FILE file is an error");
	snprintf(expect, sizeof(expect), "config file %s (from VEIL_CONF_FILE) does not exist", missing);
	CHECK(streq(msg, expect), "message names the VEIL_CONF_FILE file: %s", msg);
	CHECK(load(cli, both, 2, msg, sizeof(msg), NULL) == 101, "--config makes a bad VEIL_CONF_FILE irrelevant");

	setenv("VEIL_CONF_FILE", "", 1);
	CHECK(load(NULL, both, 2, msg, sizeof(msg), &loaded) == 103 && streq(loaded, def1),
	      "empty VEIL_CONF_FILE counts as unset; first default wins");
	free(loaded);
	loaded = NULL;
	unsetenv("VEIL_CONF_FILE");
	CHECK(load(NULL, second_only, 2, msg, sizeof(msg), &loaded) == 104 && streq(loaded, def2),
	      "first existing default wins");
	free(loaded);

	CHECK(load(NULL, none, 2, msg, sizeof(msg), NULL) == 0, "no config file at all is an error");
	snprintf(expect, sizeof(expect),
		 "no config file found (tried %s, /nonexistent-veil-dir/configuration.toml); name one with --config or "
		 "VEIL_CONF_FILE",
		 missing);
	CHECK(streq(msg, expect), "message lists the paths tried: %s", msg);

	CHECK(load(bad, both, 2, msg, sizeof(msg), NULL) == 0, "invalid file is an error");
	snprintf(expect, sizeof(expect), "%s:2:1: unknown key hypervisor.qemu.memory", bad);
	CHECK(strncmp(msg, expect, strlen(expect)) == 0, "message starts with PATH:LINE:COL: %s", msg);

	CHECK(load(dir, both, 2, msg, sizeof(msg), NULL) == 0, "a directory is an error");
	snprintf(expect, sizeof(expect), "config file %s is not a regular file", dir);
	CHECK(streq(msg, expect), "message says it is not a regular file: %s", msg);

	char *big = tmp_file("big.toml", NULL);
	FILE *f = fopen(big, "w");
	for (int i = 0; i < (1 << 20) / 8 + 1; i++)
		fputs("#234567\n", f);
	fclose(f);
	CHECK(load(big, both, 2, msg, sizeof(msg), NULL) == 0, "a file over 1 MiB is an error");
	snprintf(expect, sizeof(expect), "%s:1:1: document larger than 1048576 bytes", big);
	CHECK(streq(msg, expect), "message gives the limit: %s", msg);

	struct veil_config cfg;
	veil_err_t err = NULL;
	setenv("VEIL_CONF_FILE", env, 1);
	CHECK(veil_config_load(NULL, &cfg, &err) == 0 && cfg.qemu.default_memory == 102 && streq(cfg.path, env),
	      "veil_config_load honours VEIL_CONF_FILE");
	veil_config_free(&cfg);
	veil_error_free(&err);
	unsetenv("VEIL_CONF_FILE");

	const char *paths[VEIL_CONFIG_MAX_DEFAULT_PATHS];
	char beside[PATH_MAX], self[PATH_MAX];
	size_t n = veil_config_default_paths(paths, beside);
	CHECK(n == 3 && streq(paths[0], "/etc/veil/configuration.toml") &&
		      streq(paths[1], "/usr/share/defaults/veil/configuration.toml"),
	      "default paths in Kata's order");
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[len > 0 ? len : 0] = '\0';
	char *slash = strrchr(self, '/');
	if (slash != NULL)
		strcpy(slash + 1, "configuration.toml");
	CHECK(n == 3 && streq(paths[2], self), "then the configuration beside the binary: %s", n == 3 ? paths[2] : "none");

	char *files[] = { cli, env, def1, def2, bad, big };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		unlink(files[i]);
		free(files[i]);
	}
	rmdir(dir);
	free(dir);
	free(missing);
	CHECK(rmdir(tmpdir) == 0, "temporary directory removed");
}

/* [hypervisor.qemu]'s confidential keys, and what they must agree with. */
static void test_confidential(void)
{
	struct veil_config cfg;
	CHECK(parse("", &cfg) == 0 && !cfg.qemu.confidential_guest && cfg.qemu.tee == NULL && cfg.qemu.firmware == NULL &&
		      cfg.qemu.init_data == NULL && streq(cfg.qemu.emulated_tee_dir, "/var/lib/veil/emulated-tee") &&
		      streq(cfg.qemu.snp_vcpu_type, "EPYC-v4") && cfg.qemu.snp_guest_features == 1,
	      "confidential defaults: off, the emulated chip under /var/lib/veil, EPYC-v4 and SNPActive");
	veil_config_free(&cfg);
	const char *doc = "[hypervisor.qemu]\nconfidential_guest = true\ntee = \"snp\"\nfirmware = \"/fw/OVMF.fd\"\n"
			  "emulated_tee_dir = \"/srv/chip\"\ninit_data = \"/etc/veil/init-data.toml\"\n"
			  "snp_vcpu_type = \"EPYC-Milan\"\nsnp_guest_features = 0x21\n";
	CHECK(parse(doc, &cfg) == 0 && cfg.qemu.confidential_guest && streq(cfg.qemu.tee, "snp") &&
		      streq(cfg.qemu.firmware, "/fw/OVMF.fd") && streq(cfg.qemu.emulated_tee_dir, "/srv/chip") &&
		      streq(cfg.qemu.init_data, "/etc/veil/init-data.toml") && streq(cfg.qemu.snp_vcpu_type, "EPYC-Milan") &&
		      cfg.qemu.snp_guest_features == 0x21,
	      "every confidential key");
	veil_config_free(&cfg);
	static const char *const tees[] = { "snp", "tdx", "emulated" };
	for (size_t i = 0; i < 3; i++) {
		char line[128];
		snprintf(line, sizeof(line), "[hypervisor.qemu]\nconfidential_guest = true\ntee = \"%s\"\n", tees[i]);
		CHECK(parse(line, &cfg) == 0 && streq(cfg.qemu.tee, tees[i]), "tee = \"%s\"", tees[i]);
		veil_config_free(&cfg);
	}
	reject("[hypervisor.qemu]\nconfidential_guest = true\ntee = \"sev\"",
	       "t.toml:3:7: hypervisor.qemu.tee must be one of \"snp\", \"tdx\", \"emulated\", got \"sev\"");
	reject("[hypervisor.qemu]\nconfidential_guest = true",
	       "t.toml: [hypervisor.qemu] confidential_guest = true needs tee = \"snp\", \"tdx\" or \"emulated\"");
	reject("[hypervisor.qemu]\ntee = \"snp\"",
	       "t.toml: [hypervisor.qemu] tee = \"snp\" has no effect without confidential_guest = true");
	reject("[hypervisor.qemu]\ninit_data = \"/x.toml\"", "t.toml: [hypervisor.qemu] init_data needs confidential_guest = true");
	reject("[hypervisor.qemu]\nconfidential_guest = true\ntee = \"emulated\"\n[factory]\nenable_template = true",
	       "t.toml: [factory] enable_template = true cannot serve confidential guests");
	reject("[hypervisor.qemu]\nsnp_guest_features = 0", "t.toml:2:22: hypervisor.qemu.snp_guest_features = 0 is out of range");
	reject("[hypervisor.qemu]\nsnp_vcpu_type = \"EPYC,x=1\"", "t.toml:2:17: hypervisor.qemu.snp_vcpu_type must be a name");
	reject("[hypervisor.qemu]\nfirmware = \"OVMF.fd\"", "t.toml:2:12: hypervisor.qemu.firmware must be an absolute path");
}

int main(void)
{
	test_defaults();
	test_confidential();
	test_every_key();
	test_ranges();
	test_bad_values();
	test_shared_fs();
	test_types_and_unknown();
	test_syntax_errors_carry_origin();
	test_shipped_template();
	test_lookup_order();
	return tap_done();
}
