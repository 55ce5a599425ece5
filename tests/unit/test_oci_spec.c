#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/oci_spec.h"
#include "tap.h"

/* Test documents are written with single quotes to stay readable; this turns
 * them into real JSON. The result lives until the next call. */
static const char *J(const char *text)
{
	static char buf[1 << 16];
	size_t n = strlen(text);
	if (n >= sizeof(buf))
		abort();
	for (size_t i = 0; i <= n; i++)
		buf[i] = text[i] == '\'' ? '"' : text[i];
	return buf;
}

static bool parse(const char *json, struct oci_spec *spec)
{
	veil_err_t err = NULL;
	int rc = oci_spec_parse(json, strlen(json), spec, &err);
	if (rc < 0)
		printf("# unexpected error: %s\n", err->msg);
	veil_error_free(&err);
	return rc == 0;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Parsing TEXT[0..LEN) must fail with a one-line message containing NEEDLE,
 * and leave the spec empty. */
static void expect_error_len(const char *text, size_t len, const char *needle)
{
	struct oci_spec spec;
	veil_err_t err = NULL;
	int rc = oci_spec_parse(text, len, &spec, &err);
	const char *msg = err != NULL ? err->msg : "";
	bool ok = rc == -1 && err != NULL && strncmp(msg, "config.json: ", 13) == 0 && strstr(msg, needle) != NULL &&
		  strchr(msg, '\n') == NULL && all_zero(&spec, sizeof(spec));
	if (!CHECK(ok, "error names \"%s\"", needle))
		printf("#   got rc=%d: %s\n", rc, msg);
	oci_spec_free(&spec);
	veil_error_free(&err);
}

static void expect_error(const char *json, const char *needle)
{
	expect_error_len(json, strlen(json), needle);
}

/* A valid document with FRAGMENT spliced in at the top level. */
static void expect_top_error(const char *fragment, const char *needle)
{
	char doc[1 << 15];
	snprintf(doc, sizeof(doc), "{'ociVersion': '1.0.0', 'root': {'path': 'rootfs'}, %s}", fragment);
	expect_error(J(doc), needle);
}

/* A valid document whose process has FRAGMENT added to a valid base. */
static void expect_process_error(const char *fragment, const char *needle)
{
	char doc[1 << 15];
	snprintf(doc, sizeof(doc), "'process': {'args': ['sh'], 'cwd': '/', %s}", fragment);
	expect_top_error(doc, needle);
}

static void test_minimal(void)
{
	struct oci_spec spec;
	CHECK(parse(J("{'ociVersion': '1.0.2', 'root': {'path': 'rootfs'}}"), &spec), "minimal spec parses");
	CHECK(spec.oci_version != NULL && strcmp(spec.oci_version, "1.0.2") == 0, "ociVersion");
	CHECK(spec.root_path != NULL && strcmp(spec.root_path, "rootfs") == 0, "root.path");
	CHECK(!spec.root_readonly, "root.readonly defaults to false");
	CHECK(spec.process == NULL && spec.hostname == NULL && spec.annotations == NULL, "absent parts are NULL");
	CHECK(spec.n_mounts == 0 && spec.n_namespaces == 0 && spec.n_masked_paths == 0 && spec.n_poststop == 0,
	      "absent arrays are empty");
	CHECK(spec.resources.memory_limit == 0 && spec.resources.cpu_quota == 0 && spec.resources.cpu_period == 0 && spec.resources.pids_limit == 0,
	      "resources unset");
	oci_spec_free(&spec);
	CHECK(all_zero(&spec, sizeof(spec)), "oci_spec_free leaves the spec empty");
	oci_spec_free(&spec);

	CHECK(parse(J("{'ociVersion': '1.0.0', 'root': {'path': 'r'}, 'process': null, 'mounts': null}"), &spec),
	      "null members count as absent");
	CHECK(spec.process == NULL && spec.n_mounts == 0, "null process and mounts");
	oci_spec_free(&spec);
}

static void test_default_round_trip(void)
{
	char *json = oci_spec_default_json();
	CHECK(json != NULL, "default spec generated");
	if (json == NULL)
		return;
	CHECK(strstr(json, "\n\t\"ociVersion\": \"" OCI_SPEC_VERSION "\"") != NULL, "tab-indented, spaced, versioned");
	CHECK(strstr(json, "\\/") == NULL, "slashes are not escaped");
	CHECK(json[strlen(json) - 1] == '}', "no trailing newline: the caller writes one");

	struct oci_spec spec;
	CHECK(parse(json, &spec), "default spec parses");
	free(json);
	struct oci_process *p = spec.process;
	CHECK(p != NULL, "default spec has a process");
	if (p == NULL) {
		oci_spec_free(&spec);
		return;
	}
	CHECK(p->terminal && p->uid == 0 && p->gid == 0 && !p->has_umask, "terminal, root user");
	CHECK(p->n_args == 1 && strcmp(p->args[0], "sh") == 0, "args [sh]");
	CHECK(p->n_env == 2 && strncmp(p->env[0], "PATH=/usr/local/sbin:", 21) == 0 &&
		      strcmp(p->env[1], "TERM=xterm") == 0,
	      "env PATH and TERM");
	CHECK(strcmp(p->cwd, "/") == 0, "cwd /");
	CHECK(p->n_rlimits == 1 && strcmp(p->rlimits[0].type, "RLIMIT_NOFILE") == 0 && p->rlimits[0].hard == 1024 &&
		      p->rlimits[0].soft == 1024,
	      "RLIMIT_NOFILE 1024");
	CHECK(p->no_new_privileges, "noNewPrivileges");
	CHECK(strcmp(spec.root_path, "rootfs") == 0 && spec.root_readonly, "root rootfs, read-only");
	CHECK(strcmp(spec.hostname, "veil") == 0, "hostname veil");
	CHECK(spec.n_mounts == 7, "seven mounts");
	if (spec.n_mounts == 7) {
		static const char *const dest[] = { "/proc",       "/dev",  "/dev/pts",      "/dev/shm",
						    "/dev/mqueue", "/sys", "/sys/fs/cgroup" };
		bool same = true;
		for (size_t i = 0; i < 7; i++)
			same = same && strcmp(spec.mounts[i].destination, dest[i]) == 0;
		CHECK(same, "mount destinations in runc's order");
		CHECK(spec.mounts[0].n_options == 0 && strcmp(spec.mounts[0].type, "proc") == 0, "proc mount");
		CHECK(spec.mounts[2].n_options == 6 && strcmp(spec.mounts[2].options[5], "gid=5") == 0, "devpts options");
		CHECK(strcmp(spec.mounts[3].source, "shm") == 0, "shm source");
	}
	static const char *const ns[] = { "pid", "network", "ipc", "uts", "mount" };
	bool ns_ok = spec.n_namespaces == 5;
	for (size_t i = 0; ns_ok && i < 5; i++)
		ns_ok = strcmp(spec.namespaces[i], ns[i]) == 0;
	CHECK(ns_ok, "namespaces pid, network, ipc, uts, mount");
	CHECK(spec.netns_path == NULL, "a network namespace without a path has no netns_path");
	CHECK(spec.n_masked_paths == 11 && strcmp(spec.masked_paths[0], "/proc/acpi") == 0, "maskedPaths");
	CHECK(spec.n_readonly_paths == 5 && strcmp(spec.readonly_paths[4], "/proc/sysrq-trigger") == 0,
	      "readonlyPaths");
	oci_spec_free(&spec);
}

static const char full_spec[] =
	"{'ociVersion': '1.2.0',"
	" 'unknownTopLevel': {'nested': [1, 2, 3]},"
	" 'root': {'path': '/var/lib/rootfs', 'readonly': false},"
	" 'hostname': 'box',"
	" 'process': {"
	"   'terminal': false, 'consoleSize': {'height': 24, 'width': 80},"
	"   'user': {'uid': 1000, 'gid': 4294967295, 'umask': 18, 'additionalGids': [5, 6, 7], 'username': 'x'},"
	"   'args': ['/bin/echo', 'hi there'], 'env': ['A=1', 'B=', 'C=x=y'], 'cwd': '/work',"
	"   'capabilities': {'bounding': ['CAP_KILL']},"
	"   'rlimits': [{'type': 'RLIMIT_CORE', 'hard': 18446744073709551615, 'soft': 0},"
	"               {'type': 'RLIMIT_NPROC', 'hard': 100, 'soft': 50}],"
	"   'noNewPrivileges': true},"
	" 'mounts': [{'destination': '/data', 'source': '/srv/data', 'options': ['rbind', 'ro']},"
	"            {'destination': '/tmp', 'type': 'tmpfs'}],"
	" 'hooks': {"
	"   'prestart': [{'path': '/bin/pre'}],"
	"   'createRuntime': [{'path': '/bin/cr', 'args': ['cr', '--flag'], 'env': ['X=1'], 'timeout': 5},"
	"                     {'path': '/bin/cr2'}],"
	"   'createContainer': [{'path': '/bin/cc'}],"
	"   'startContainer': [{'path': '/bin/sc'}],"
	"   'poststart': [{'path': '/bin/ps'}],"
	"   'poststop': [{'path': '/bin/stop', 'timeout': 2147483647}]},"
	" 'annotations': {'org.example.key': 'value', 'other': ''},"
	" 'linux': {"
	"   'namespaces': [{'type': 'pid'}, {'type': 'user'}, {'type': 'time'}, {'type': 'network', 'path': '/x'}],"
	"   'maskedPaths': ['/proc/kcore'], 'readonlyPaths': ['/proc/sys', '/proc/bus'],"
	"   'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW'},"
	"   'resources': {'memory': {'limit': 536870912, 'swap': 1}, 'cpu': {'quota': -1, 'period': 100000},"
	"                 'pids': {'limit': 64}, 'devices': []}}}";

static void test_every_field(void)
{
	struct oci_spec spec;
	CHECK(parse(J(full_spec), &spec), "full spec parses (unknown fields ignored)");
	struct oci_process *p = spec.process;
	if (p == NULL) {
		CHECK(false, "full spec has a process");
		oci_spec_free(&spec);
		return;
	}
	CHECK(strcmp(spec.root_path, "/var/lib/rootfs") == 0 && !spec.root_readonly, "absolute root");
	CHECK(strcmp(spec.hostname, "box") == 0, "hostname");
	CHECK(!p->terminal && p->console_height == 24 && p->console_width == 80, "terminal and consoleSize");
	CHECK(p->uid == 1000 && p->gid == UINT32_MAX, "uid and gid (up to UINT32_MAX)");
	CHECK(p->has_umask && p->umask == 18, "umask");
	CHECK(p->n_additional_gids == 3 && p->additional_gids[0] == 5 && p->additional_gids[2] == 7, "additionalGids");
	CHECK(p->n_args == 2 && strcmp(p->args[1], "hi there") == 0, "args");
	CHECK(p->n_env == 3 && strcmp(p->env[1], "B=") == 0 && strcmp(p->env[2], "C=x=y") == 0, "env");
	CHECK(strcmp(p->cwd, "/work") == 0, "cwd");
	CHECK(p->n_rlimits == 2 && p->rlimits[0].hard == UINT64_MAX && p->rlimits[0].soft == 0 &&
		      strcmp(p->rlimits[1].type, "RLIMIT_NPROC") == 0 && p->rlimits[1].hard == 100 &&
		      p->rlimits[1].soft == 50,
	      "rlimits, including RLIM_INFINITY");
	CHECK(p->no_new_privileges, "noNewPrivileges");
	CHECK(spec.n_mounts == 2 && strcmp(spec.mounts[0].source, "/srv/data") == 0 && spec.mounts[0].type == NULL &&
		      spec.mounts[0].n_options == 2 && strcmp(spec.mounts[0].options[1], "ro") == 0,
	      "bind mount without type");
	CHECK(spec.n_mounts == 2 && strcmp(spec.mounts[1].type, "tmpfs") == 0 && spec.mounts[1].source == NULL &&
		      spec.mounts[1].n_options == 0,
	      "mount without source or options");
	CHECK(spec.n_prestart == 1 && strcmp(spec.hooks_prestart[0].path, "/bin/pre") == 0 &&
		      spec.hooks_prestart[0].timeout == 0 && spec.hooks_prestart[0].n_args == 0,
	      "prestart hook");
	CHECK(spec.n_create_runtime == 2 && spec.hooks_create_runtime[0].n_args == 2 &&
		      strcmp(spec.hooks_create_runtime[0].args[1], "--flag") == 0 &&
		      spec.hooks_create_runtime[0].n_env == 1 && spec.hooks_create_runtime[0].timeout == 5 &&
		      strcmp(spec.hooks_create_runtime[1].path, "/bin/cr2") == 0,
	      "createRuntime hooks");
	CHECK(spec.n_create_runtime == 2 && spec.hooks_create_runtime[0].args[2] == NULL &&
		      spec.hooks_create_runtime[0].env[1] == NULL,
	      "hook args and env are NULL-terminated for execve");
	CHECK(spec.n_create_container == 1 && strcmp(spec.hooks_create_container[0].path, "/bin/cc") == 0,
	      "createContainer hook");
	CHECK(spec.n_start_container == 1 && strcmp(spec.hooks_start_container[0].path, "/bin/sc") == 0,
	      "startContainer hook");
	CHECK(spec.n_poststart == 1 && strcmp(spec.hooks_poststart[0].path, "/bin/ps") == 0, "poststart hook");
	CHECK(spec.n_poststop == 1 && spec.hooks_poststop[0].timeout == INT_MAX, "poststop hook");
	json_object *v = NULL;
	CHECK(spec.annotations != NULL && json_object_object_get_ex(spec.annotations, "org.example.key", &v) &&
		      strcmp(json_object_get_string(v), "value") == 0,
	      "annotations kept");
	CHECK(spec.n_namespaces == 4 && strcmp(spec.namespaces[1], "user") == 0 &&
		      strcmp(spec.namespaces[3], "network") == 0,
	      "namespaces");
	CHECK(spec.netns_path != NULL && strcmp(spec.netns_path, "/x") == 0, "the network namespace's path is kept");
	CHECK(spec.n_masked_paths == 1 && spec.n_readonly_paths == 2 && strcmp(spec.readonly_paths[1], "/proc/bus") == 0,
	      "masked and read-only paths");
	CHECK(spec.resources.memory_limit == 536870912 && spec.resources.cpu_quota == -1 && spec.resources.cpu_period == 100000 &&
		      spec.resources.pids_limit == 64,
	      "resources");
	oci_spec_free(&spec);

	CHECK(parse(J("{'ociVersion': '1', 'root': {'path': 'r'}, 'process': {'args': ['a'], 'cwd': '/',"
		      " 'user': {'uid': 0, 'gid': 0}}}"),
		    &spec) &&
		      !spec.process->has_umask,
	      "umask absent");
	oci_spec_free(&spec);
	CHECK(parse(J("{'ociVersion': '1', 'root': {'path': 'r'}, 'linux': {'resources': {'memory': {'limit': -1},"
		      " 'pids': {'limit': -1}, 'cpu': {'period': 18446744073709551615}}}}"),
		    &spec) &&
		      spec.resources.memory_limit == -1 && spec.resources.pids_limit == -1 && spec.resources.cpu_period == UINT64_MAX,
	      "negative limits and a huge period");
	oci_spec_free(&spec);
}

static void test_document_errors(void)
{
	expect_error("[]", "must be a JSON object");
	expect_error("null", "must be a JSON object");
	expect_error("123", "must be a JSON object");
	expect_error(J("{'root': {'path': 'r'}}"), "ociVersion is required");
	expect_error(J("{'ociVersion': 1, 'root': {'path': 'r'}}"), "ociVersion must be a string");
	expect_error(J("{'ociVersion': '1'}"), "root is required");
	expect_error(J("{'ociVersion': '1', 'root': 'rootfs'}"), "root must be an object");
	expect_error(J("{'ociVersion': '1', 'root': {}}"), "root.path is required");
	expect_error(J("{'ociVersion': '1', 'root': {'path': ''}}"), "root.path must not be empty");
	expect_error(J("{'ociVersion': '1', 'root': {'path': 'r', 'readonly': 'yes'}}"),
		     "root.readonly must be a boolean");
	expect_top_error("'hostname': 5", "hostname must be a string");
	expect_top_error("'hostname': 'a\\u0000b'", "hostname must not contain NUL characters");

	static char doc[(1 << 16) + 200];
	int n = snprintf(doc, sizeof(doc), "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"hostname\": \"");
	memset(doc + n, 'h', (1 << 16) + 1);
	snprintf(doc + n + (1 << 16) + 1, sizeof(doc) - (size_t)n - (1 << 16) - 1, "\"}");
	expect_error(doc, "hostname is longer than 64 KiB");
}

static void test_json_errors(void)
{
	expect_error(J("{\n  'ociVersion': tru\n}"), "config.json: invalid JSON: boolean expected at line 2, column");
	expect_error("{", "invalid JSON: unexpected end of data at line 1, column 2");
	expect_error("", "invalid JSON: unexpected end of data at line 1, column 1");
	expect_error(J("{'a': 1}\n x"), "invalid JSON: unexpected character at line 2, column 2");
	expect_error_len("{}\0{}", 5, "invalid JSON: unexpected data after the top-level value at line 1, column 3");
	expect_error("{\"a\": \"\xff\"}", "invalid JSON: invalid utf-8 string");
	expect_error(J("{'a': 01}"), "invalid JSON");

	size_t big = OCI_SPEC_MAX_SIZE + 1;
	char *spaces = malloc(big);
	if (spaces != NULL) {
		memset(spaces, ' ', big);
		expect_error_len(spaces, big, "config.json: larger than 4 MiB");
		free(spaces);
	}
}

static void test_process_errors(void)
{
	expect_top_error("'process': 1", "process must be an object");
	expect_top_error("'process': {'cwd': '/'}", "process.args must be a non-empty array of strings");
	expect_top_error("'process': {'args': [], 'cwd': '/'}", "process.args must be a non-empty array of strings");
	expect_top_error("'process': {'args': 'sh', 'cwd': '/'}", "process.args must be a non-empty array of strings");
	expect_top_error("'process': {'args': ['sh', 5], 'cwd': '/'}", "process.args[1] must be a string");
	expect_top_error("'process': {'args': [null], 'cwd': '/'}", "process.args[0] must not be null");
	expect_top_error("'process': {'args': ['sh']}", "process.cwd is required");
	expect_top_error("'process': {'args': ['sh'], 'cwd': 'work'}", "process.cwd must be an absolute path");
	expect_process_error("'env': 'A=1'", "process.env must be an array");
	expect_process_error("'env': ['A=1', 'B']", "process.env[1] must have the form NAME=VALUE");
	expect_process_error("'env': ['=x']", "process.env[0] must have the form NAME=VALUE");
	expect_process_error("'terminal': 'true'", "process.terminal must be a boolean");
	expect_process_error("'noNewPrivileges': 1", "process.noNewPrivileges must be a boolean");
	expect_process_error("'consoleSize': [1]", "process.consoleSize must be an object");
	expect_process_error("'consoleSize': {'height': -1}", "process.consoleSize.height must be an integer from 0 to");
	expect_process_error("'user': 0", "process.user must be an object");
	expect_process_error("'user': {'uid': -1}", "process.user.uid must be an integer from 0 to 4294967295");
	expect_process_error("'user': {'uid': 4294967296}", "process.user.uid must be an integer from 0 to 4294967295");
	expect_process_error("'user': {'uid': 1.5}", "process.user.uid must be an integer");
	expect_process_error("'user': {'uid': '0'}", "process.user.uid must be an integer");
	expect_process_error("'user': {'gid': -5}", "process.user.gid must be an integer");
	expect_process_error("'user': {'umask': -1}", "process.user.umask must be an integer");
	expect_process_error("'user': {'additionalGids': [1, -3]}", "process.user.additionalGids[1] must be an integer");
	expect_process_error("'user': {'additionalGids': 1}", "process.user.additionalGids must be an array");
	expect_process_error("'rlimits': {}", "process.rlimits must be an array");
	expect_process_error("'rlimits': ['RLIMIT_CORE']", "process.rlimits[0] must be an object");
	expect_process_error("'rlimits': [{'type': 'NOFILE', 'hard': 1, 'soft': 1}]",
			     "process.rlimits[0].type must start with RLIMIT_");
	expect_process_error("'rlimits': [{'type': 'RLIMIT_BOGUS', 'hard': 1, 'soft': 1}]",
			     "process.rlimits[0].type names an unknown resource limit");
	expect_process_error("'rlimits': [{'hard': 1, 'soft': 1}]", "process.rlimits[0].type is required");
	expect_process_error("'rlimits': [{'type': 'RLIMIT_CORE', 'soft': 1}]", "process.rlimits[0].hard is required");
	expect_process_error("'rlimits': [{'type': 'RLIMIT_CORE', 'hard': 1}]", "process.rlimits[0].soft is required");
	expect_process_error("'rlimits': [{'type': 'RLIMIT_CORE', 'hard': 1, 'soft': -1}]",
			     "process.rlimits[0].soft must be a non-negative integer");
	expect_process_error("'rlimits': [{'type': 'RLIMIT_CORE', 'hard': 1, 'soft': 2}]",
			     "process.rlimits[0] has soft above hard");
	expect_process_error("'rlimits': [{'type': 'RLIMIT_CORE', 'hard': 1, 'soft': 1},"
			     " {'type': 'RLIMIT_NOFILE', 'hard': 1, 'soft': 1},"
			     " {'type': 'RLIMIT_CORE', 'hard': 2, 'soft': 2}]",
			     "process.rlimits[2].type repeats RLIMIT_CORE");
}

static void test_mount_and_linux_errors(void)
{
	expect_top_error("'mounts': {}", "mounts must be an array");
	expect_top_error("'mounts': [{'type': 'tmpfs'}]", "mounts[0].destination is required");
	expect_top_error("'mounts': [{'destination': '/a'}, {'destination': 'tmp'}]",
			 "mounts[1].destination must be an absolute path");
	expect_top_error("'mounts': [{'destination': '/a', 'type': 3}]", "mounts[0].type must be a string");
	expect_top_error("'mounts': [{'destination': '/a', 'source': []}]", "mounts[0].source must be a string");
	expect_top_error("'mounts': [{'destination': '/a', 'options': ['ro', 1]}]",
			 "mounts[0].options[1] must be a string");
	expect_top_error("'linux': []", "linux must be an object");
	expect_top_error("'linux': {'namespaces': [{'type': 'foo'}]}",
			 "linux.namespaces[0].type must be one of pid, network, mount, ipc, uts, user, cgroup, time");
	expect_top_error("'linux': {'namespaces': [{'path': '/proc/1/ns/pid'}]}", "linux.namespaces[0].type is required");
	expect_top_error("'linux': {'namespaces': ['pid']}", "linux.namespaces[0] must be an object");
	expect_top_error("'linux': {'namespaces': [{'type': 'network', 'path': 'var/run/netns/x'}]}",
			 "linux.namespaces[0].path must be an absolute path");
	expect_top_error("'linux': {'namespaces': [{'type': 'network', 'path': 7}]}",
			 "linux.namespaces[0].path must be a string");
	expect_top_error("'linux': {'namespaces': [{'type': 'pid'}, {'type': 'uts'}, {'type': 'pid'}]}",
			 "linux.namespaces[2].type repeats pid");
	expect_top_error("'linux': {'maskedPaths': ['proc/kcore']}", "linux.maskedPaths[0] must be an absolute path");
	expect_top_error("'linux': {'readonlyPaths': ['/a', 'b']}", "linux.readonlyPaths[1] must be an absolute path");
	expect_top_error("'linux': {'resources': 1}", "linux.resources must be an object");
	expect_top_error("'linux': {'resources': {'memory': 1}}", "linux.resources.memory must be an object");
	expect_top_error("'linux': {'resources': {'memory': {'limit': '1G'}}}",
			 "linux.resources.memory.limit must be an integer");
	expect_top_error("'linux': {'resources': {'cpu': {'quota': 1.5}}}", "linux.resources.cpu.quota must be an integer");
	expect_top_error("'linux': {'resources': {'cpu': {'period': -1}}}",
			 "linux.resources.cpu.period must be a non-negative integer");
	expect_top_error("'linux': {'resources': {'pids': {'limit': 9223372036854775808}}}",
			 "linux.resources.pids.limit must be at most 9223372036854775807");
}

/* The linux section's security and resource fields, parsed. */
static void test_linux_conformance(void)
{
	struct oci_spec spec;
	bool ok = parse(J("{'ociVersion': '1.2.0', 'root': {'path': 'rootfs'}, 'domainname': 'example.org',"
			  " 'process': {'args': ['sh'], 'cwd': '/', 'oomScoreAdj': -500, 'apparmorProfile': 'unconfined',"
			  "  'capabilities': {'bounding': ['CAP_CHOWN', 'CAP_KILL', 'CAP_NOT_A_CAP'],"
			  "   'effective': ['CAP_KILL'], 'permitted': ['CAP_KILL', 'CAP_CHECKPOINT_RESTORE'],"
			  "   'ambient': ['CAP_NOT_A_CAP']}},"
			  " 'linux': {'namespaces': [{'type': 'pid'}, {'type': 'network', 'path': '/run/netns/x'},"
			  "   {'type': 'ipc', 'path': '/proc/1/ns/ipc'}, {'type': 'user'}],"
			  "  'uidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
			  "  'gidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
			  "  'timeOffsets': {'monotonic': {'secs': -10, 'nanosecs': 5}, 'boottime': {'secs': 3600}},"
			  "  'sysctl': {'net.ipv4.ip_forward': '1', 'net/ipv4/conf/eth0.100/rp_filter': '2'},"
			  "  'devices': [{'path': '/dev/fuse', 'type': 'c', 'major': 10, 'minor': 229, 'fileMode': 8630},"
			  "   {'path': '/dev/pipe', 'type': 'p'}, {'path': '/dev/u', 'type': 'u', 'major': 1, 'minor': 3}],"
			  "  'rootfsPropagation': 'runbindable', 'cgroupsPath': '/machine/c1', 'mountLabel': 'ignored',"
			  "  'resources': {'devices': [{'allow': false, 'access': 'rwm'},"
			  "    {'allow': true, 'type': 'c', 'major': 10, 'minor': 229, 'access': 'rw'}],"
			  "   'memory': {'limit': 268435456, 'reservation': 1048576, 'swap': -1, 'kernel': 1,"
			  "    'swappiness': 10, 'disableOOMKiller': true},"
			  "   'cpu': {'shares': 512, 'quota': -1, 'period': 50000, 'idle': 1, 'burst': 1000, 'cpus': '0-1',"
			  "    'mems': '0', 'realtimeRuntime': 5},"
			  "   'pids': {'limit': -1}, 'blockIO': {'weight': 300, 'leafWeight': 10,"
			  "    'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1024}]},"
			  "   'hugepageLimits': [{'pageSize': '2MB', 'limit': 4194304}],"
			  "   'network': {'classID': 7}, 'unified': {'memory.high': '100M'}},"
			  "  'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,"
			  "   'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], 'flags': ['SECCOMP_FILTER_FLAG_LOG'],"
			  "   'syscalls': [{'names': ['read', 'write'], 'action': 'SCMP_ACT_ALLOW'},"
			  "    {'names': ['personality'], 'action': 'SCMP_ACT_KILL', 'args': [{'index': 0, 'value': 8,"
			  "     'valueTwo': 0, 'op': 'SCMP_CMP_MASKED_EQ'}]},"
			  "    {'names': ['mkdir'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38}]}}}"),
			&spec);
	const struct oci_process *p = spec.process;
	CHECK(ok && p->has_capabilities && p->capabilities.bounding == ((1u << 0) | (1u << 5)) &&
		      p->capabilities.effective == 1u << 5 && p->capabilities.permitted == ((1u << 5) | (UINT64_C(1) << 40)) &&
		      p->capabilities.inheritable == 0 && p->capabilities.ambient == 0,
	      "capability names become the five masks");
	CHECK(ok && p->n_unknown_capabilities == 1 && strcmp(p->unknown_capabilities[0], "CAP_NOT_A_CAP") == 0,
	      "an unknown capability is noted once, to be warned about, not refused (runc)");
	CHECK(ok && p->has_oom_score_adj && p->oom_score_adj == -500, "oomScoreAdj -500");
	CHECK(ok && strcmp(spec.domainname, "example.org") == 0 && strcmp(spec.cgroups_path, "/machine/c1") == 0 &&
		      strcmp(spec.rootfs_propagation, "runbindable") == 0,
	      "domainname, cgroupsPath and rootfsPropagation");
	CHECK(ok && spec.namespace_paths[0] == NULL && strcmp(spec.namespace_paths[1], "/run/netns/x") == 0 &&
		      strcmp(spec.namespace_paths[2], "/proc/1/ns/ipc") == 0 && strcmp(spec.netns_path, "/run/netns/x") == 0,
	      "every namespace's path is kept, the network one as netns_path too");
	CHECK(ok && spec.n_uid_mappings == 1 && spec.uid_mappings[0].host_id == 100000 && spec.n_gid_mappings == 1 &&
		      spec.gid_mappings[0].size == 65536,
	      "uid and gid mappings");
	CHECK(ok && spec.has_time_offsets && spec.time_offsets.monotonic_secs == -10 &&
		      spec.time_offsets.monotonic_nanosecs == 5 && spec.time_offsets.boottime_secs == 3600,
	      "time offsets");
	CHECK(ok && spec.n_sysctls == 2 && strcmp(spec.sysctls[1].key, "net.ipv4.conf.eth0/100.rp_filter") == 0 &&
		      strcmp(spec.sysctls[1].value, "2") == 0,
	      "a sysctl in the slash form is turned into the dotted form, as runc does: %s",
	      ok ? spec.sysctls[1].key : "");
	CHECK(ok && spec.n_devices == 3 && spec.devices[0].file_mode == 0666 && spec.devices[0].type == 'c' &&
		      spec.devices[1].type == 'p' && spec.devices[1].major == -1 && spec.devices[2].type == 'c' &&
		      spec.devices[0].uid == 0,
	      "devices: fileMode keeps the permission bits, 'u' is a char device, a fifo needs no numbers");
	const struct oci_resources *r = &spec.resources;
	CHECK(ok && r->n_devices == 2 && r->devices[0].type == 'a' && r->devices[0].major == -1 && !r->devices[0].allow &&
		      r->devices[1].minor == 229 && strcmp(r->devices[1].access, "rw") == 0,
	      "device rules, 'a' and any number where absent");
	CHECK(ok && r->memory_limit == 268435456 && r->memory_reservation == 1048576 && r->memory_swap == -1 &&
		      r->cpu_shares == 512 && r->cpu_quota == -1 && r->cpu_period == 50000 && r->has_cpu_idle &&
		      r->cpu_idle == 1 && r->has_cpu_burst && r->cpu_burst == 1000 && strcmp(r->cpuset_cpus, "0-1") == 0 &&
		      strcmp(r->cpuset_mems, "0") == 0 && r->pids_limit == -1 && r->blkio_weight == 300 &&
		      r->n_blkio_devices == 1 && r->n_hugepage_limits == 1 &&
		      strcmp(r->hugepage_limits[0].page_size, "2MB") == 0 && r->n_unified == 1 &&
		      strcmp(r->unified[0].value, "100M") == 0,
	      "every resource, the host's block devices counted for a warning");
	const struct oci_seccomp *sc = spec.seccomp;
	CHECK(ok && sc != NULL && sc->default_action == oci_name_number(oci_seccomp_actions, "SCMP_ACT_ERRNO") &&
		      sc->has_default_errno_ret && sc->default_errno_ret == 1 && sc->n_archs == 2 && sc->flag_log &&
		      !sc->flag_spec_allow && sc->n_rules == 3 && sc->rules[0].n_names == 2,
	      "seccomp: default action, errno, architectures, flags");
	CHECK(ok && sc->rules[1].action == 1 && sc->rules[1].n_args == 1 && sc->rules[1].args[0].value == 8 &&
		      sc->rules[1].args[0].op == oci_name_number(oci_seccomp_operators, "SCMP_CMP_MASKED_EQ") &&
		      sc->rules[2].has_errno_ret && sc->rules[2].errno_ret == 38 && !sc->rules[0].has_errno_ret,
	      "seccomp: SCMP_ACT_KILL is KILL_THREAD, conditions, errnoRet");
	oci_spec_free(&spec);

	ok = parse(J("{'ociVersion': '1.2.0', 'root': {'path': 'rootfs'}, 'linux': {'seccomp':"
		     " {'defaultAction': 'SCMP_ACT_ALLOW'}}}"),
		   &spec);
	CHECK(ok && spec.seccomp != NULL && spec.seccomp->flag_spec_allow, "seccomp without flags gets SPEC_ALLOW, as with runc");
	oci_spec_free(&spec);
	ok = parse(J("{'ociVersion': '1.2.0', 'root': {'path': 'rootfs'}, 'linux': {'seccomp': {'syscalls': []}}}"), &spec);
	CHECK(ok && spec.seccomp == NULL, "seccomp with neither a default action nor syscalls is no filter");
	oci_spec_free(&spec);
}

static void test_linux_conformance_errors(void)
{
	expect_process_error("'capabilities': {'bounding': 'CAP_KILL'}", "process.capabilities.bounding must be an array");
	expect_process_error("'oomScoreAdj': 1001", "process.oomScoreAdj must be an integer from -1000 to 1000");
	expect_process_error("'apparmorProfile': 'docker-default'",
			     "process.apparmorProfile \"docker-default\" cannot be applied: the guest kernel has no AppArmor");
	expect_process_error("'selinuxLabel': 'system_u:system_r:container_t:s0'",
			     "process.selinuxLabel is specified, but the guest kernel has no SELinux");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_NOTIFY'}}",
			 "linux.seccomp.defaultAction SCMP_ACT_NOTIFY needs a seccomp agent on the host");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'listenerPath': '/run/agent.sock'}}",
			 "linux.seccomp.listenerPath names a seccomp agent on the host");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_BLOCK'}}",
			 "linux.seccomp.defaultAction \"SCMP_ACT_BLOCK\" is not a seccomp action");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW\\n\\u001b[2J'}}",
			 "linux.seccomp.defaultAction \"SCMP_ACT_ALLOW??[2J\" is not a seccomp action");
	expect_top_error("'linux': {'seccomp': {'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_ERRNO'}]}}",
			 "linux.seccomp.defaultAction is required");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_Z80']}}",
			 "linux.seccomp.architectures[0] \"SCMP_ARCH_Z80\" is not a seccomp architecture");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['SECCOMP_FILTER_FLAG_X']}}",
			 "linux.seccomp.flags[0] \"SECCOMP_FILTER_FLAG_X\" is not a known seccomp flag");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW',"
			 " 'flags': ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']}}",
			 "linux.seccomp.flags[0] applies to SCMP_ACT_NOTIFY only");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': [],"
			 " 'action': 'SCMP_ACT_ERRNO'}]}}",
			 "linux.seccomp.syscalls[0].names must name at least one syscall");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read', 'sch+d'],"
			 " 'action': 'SCMP_ACT_ERRNO'}]}}",
			 "linux.seccomp.syscalls[0].names[1] is not a syscall name ([a-z0-9_])");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'],"
			 " 'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 6, 'value': 0, 'op': 'SCMP_CMP_EQ'}]}]}}",
			 "linux.seccomp.syscalls[0].args[0].index must be an integer from 0 to 5");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'],"
			 " 'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 0, 'value': 0, 'op': 'SCMP_CMP_XOR'}]}]}}",
			 "linux.seccomp.syscalls[0].args[0].op \"SCMP_CMP_XOR\" is not a seccomp operator");
	expect_top_error("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'],"
			 " 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 65536}]}}",
			 "linux.seccomp.syscalls[0].errnoRet must be an integer from 0 to 65535");
	expect_top_error("'linux': {'sysctl': {'net.ipv4.ip_forward': 1}}", "linux.sysctl.net.ipv4.ip_forward must be a string");
	expect_top_error("'linux': {'devices': [{'path': '/dev/x', 'type': 'c', 'major': 1}]}",
			 "linux.devices[0].minor is required");
	expect_top_error("'linux': {'devices': [{'path': '/dev/x', 'type': 'x', 'major': 1, 'minor': 1}]}",
			 "linux.devices[0].type must be c, u, b or p");
	expect_top_error("'linux': {'resources': {'devices': [{'allow': true, 'access': 'rwx'}]}}",
			 "linux.resources.devices[0].access must be a non-empty subset of rwm");
	expect_top_error("'linux': {'resources': {'devices': [{'allow': true}]}}",
			 "linux.resources.devices[0].access is required");
	expect_top_error("'linux': {'resources': {'devices': [{'access': 'r'}]}}", "linux.resources.devices[0].allow is required");
	expect_top_error("'linux': {'resources': {'devices': [{'allow': true, 'type': 'p', 'access': 'r'}]}}",
			 "linux.resources.devices[0].type must be a, c or b");
	expect_top_error("'linux': {'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 0}]}",
			 "linux.uidMappings[0].size must be an integer from 1 to 4294967295");
	expect_top_error("'linux': {'timeOffsets': {'boottime': {'secs': 1, 'nanosecs': 1000000000}}}",
			 "linux.timeOffsets.boottime.nanosecs must be an integer from 0 to 999999999");
	expect_top_error("'linux': {'rootfsPropagation': 'recursive'}",
			 "linux.rootfsPropagation must be one of private, shared, slave, unbindable");
	expect_top_error("'linux': {'resources': {'cpu': {'cpus': '0;1'}}}",
			 "linux.resources.cpu.cpus must be a list such as 0-2,4");
	expect_top_error("'linux': {'resources': {'cpu': {'idle': 2}}}", "linux.resources.cpu.idle must be an integer from 0 to 1");
	expect_top_error("'linux': {'resources': {'blockIO': {'weight': 5}}}", "linux.resources.blockIO.weight must be 10..1000");
	expect_top_error("'linux': {'resources': {'hugepageLimits': [{'pageSize': '2M', 'limit': 1}]}}",
			 "linux.resources.hugepageLimits[0].pageSize must be a size such as 2MB or 1GB");
	expect_top_error("'linux': {'resources': {'unified': {'../cgroup.procs': '1'}}}",
			 "must name a file of the cgroup (no slashes)");
	expect_top_error("'linux': {'intelRdt': {'closID': 'x'}}", "linux.intelRdt is not supported");
}

static void test_hook_and_annotation_errors(void)
{
	expect_top_error("'hooks': []", "hooks must be an object");
	expect_top_error("'hooks': {'poststart': {}}", "hooks.poststart must be an array");
	expect_top_error("'hooks': {'prestart': [{'args': ['x']}]}", "hooks.prestart[0].path is required");
	expect_top_error("'hooks': {'createContainer': [{'path': 'hook'}]}",
			 "hooks.createContainer[0].path must be an absolute path");
	expect_top_error("'hooks': {'createRuntime': [{'path': '/h', 'env': ['X']}]}",
			 "hooks.createRuntime[0].env[0] must have the form NAME=VALUE");
	expect_top_error("'hooks': {'startContainer': [{'path': '/h', 'args': [1]}]}",
			 "hooks.startContainer[0].args[0] must be a string");
	expect_top_error("'hooks': {'poststop': [{'path': '/h', 'timeout': 0}]}",
			 "hooks.poststop[0].timeout must be an integer from 1 to 2147483647");
	expect_top_error("'hooks': {'poststop': [{'path': '/h', 'timeout': 2147483648}]}",
			 "hooks.poststop[0].timeout must be an integer from 1 to 2147483647");
	expect_top_error("'annotations': ['a']", "annotations must be an object");
	expect_top_error("'annotations': {'a': 'b', 'org.x': 1}", "annotations.org.x must be a string");
	expect_top_error("'annotations': {'': 'b'}", "annotations keys must not be empty");
	expect_top_error("'annotations': {'bad\\nkey': 1}", "annotations.bad?key must be a string");
}

/* More than the allowed number of entries in an array of small items. */
static void test_bounds(void)
{
	size_t cap = 64 * 1024;
	char *doc = malloc(cap);
	if (doc == NULL)
		abort();
	size_t n = (size_t)snprintf(doc, cap, "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": "
					      "{\"cwd\": \"/\", \"args\": [\"a\"");
	for (int i = 0; i < 4096; i++)
		n += (size_t)snprintf(doc + n, cap - n, ",\"a\"");
	snprintf(doc + n, cap - n, "]}}");
	expect_error(doc, "process.args has more than 4096 entries");

	n = (size_t)snprintf(doc, cap, "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"mounts\": [");
	for (int i = 0; i < 1025; i++)
		n += (size_t)snprintf(doc + n, cap - n, "%s{\"destination\":\"/m\"}", i ? "," : "");
	snprintf(doc + n, cap - n, "]}");
	expect_error(doc, "mounts has more than 1024 entries");
	free(doc);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void make_dir(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0755) < 0)
		abort();
}

/* Loading BUNDLE must fail with a message equal to EXPECTED. */
static void expect_bundle_error(const char *bundle, const char *expected)
{
	struct oci_spec spec;
	veil_err_t err = NULL;
	int rc = oci_spec_load_bundle(bundle, &spec, &err);
	const char *msg = err != NULL ? err->msg : "";
	if (!CHECK(rc == -1 && strcmp(msg, expected) == 0 && all_zero(&spec, sizeof(spec)), "bundle error: %s",
		   expected))
		printf("#   got rc=%d: %s\n", rc, msg);
	veil_error_free(&err);
}

static bool load(const char *bundle, struct oci_spec *spec)
{
	veil_err_t err = NULL;
	int rc = oci_spec_load_bundle(bundle, spec, &err);
	if (rc < 0)
		printf("# unexpected error: %s\n", err->msg);
	veil_error_free(&err);
	return rc == 0;
}

static bool rootfs_is(const struct oci_spec *spec, const char *bundle, const char *expected)
{
	char *path = oci_spec_rootfs_path(spec, bundle);
	bool same = path != NULL && strcmp(path, expected) == 0;
	if (!same)
		printf("# rootfs path %s, expected %s\n", path ? path : "(null)", expected);
	free(path);
	return same;
}

static void test_bundles(void)
{
	char tmp[] = "/tmp/veil-oci-test.XXXXXX";
	if (mkdtemp(tmp) == NULL)
		abort();
	char path[PATH_MAX], expected[PATH_MAX + 64];
	struct oci_spec spec;

	snprintf(path, sizeof(path), "%s/missing", tmp);
	snprintf(expected, sizeof(expected), "bundle %s: no such directory", path);
	expect_bundle_error(path, expected);

	write_file(tmp, "plain", "");
	snprintf(path, sizeof(path), "%s/plain", tmp);
	snprintf(expected, sizeof(expected), "bundle %s: not a directory", path);
	expect_bundle_error(path, expected);

	make_dir(tmp, "b");
	snprintf(path, sizeof(path), "%s/b", tmp);
	snprintf(expected, sizeof(expected), "%s/b/config.json: no such file", tmp);
	expect_bundle_error(path, expected);

	write_file(path, "config.json", "{\"ociVersion\": \"1.0.0\"}");
	expect_bundle_error(path, "config.json: root is required");

	write_file(path, "config.json", "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"rootfs\"}}");
	snprintf(expected, sizeof(expected), "rootfs %s/b/rootfs: no such directory", tmp);
	expect_bundle_error(path, expected);

	write_file(path, "rootfs", "");
	snprintf(expected, sizeof(expected), "rootfs %s/b/rootfs: not a directory", tmp);
	expect_bundle_error(path, expected);

	snprintf(expected, sizeof(expected), "%s/b/rootfs", tmp);
	remove(expected);
	make_dir(path, "rootfs");
	CHECK(load(path, &spec), "bundle with relative root.path loads");
	CHECK(rootfs_is(&spec, path, expected), "relative root.path resolved against the bundle");
	oci_spec_free(&spec);

	char slashed[PATH_MAX + 1];
	snprintf(slashed, sizeof(slashed), "%s/", path);
	CHECK(load(slashed, &spec), "bundle path with a trailing slash loads");
	CHECK(rootfs_is(&spec, slashed, expected), "no doubled slash in the rootfs path");
	oci_spec_free(&spec);

	write_file(path, "config.json", "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"./x/../rootfs/.\"}}");
	CHECK(load(path, &spec), "bundle with a dotted root.path loads");
	CHECK(rootfs_is(&spec, path, expected), "rootfs path is lexically cleaned");
	oci_spec_free(&spec);

	make_dir(tmp, "elsewhere");
	char raw[PATH_MAX], config[PATH_MAX + 128];
	snprintf(raw, sizeof(raw), "%s//elsewhere/", tmp);
	snprintf(config, sizeof(config), "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"%s\"}}", raw);
	write_file(path, "config.json", config);
	snprintf(expected, sizeof(expected), "%s/elsewhere", tmp);
	CHECK(load(path, &spec), "bundle with absolute root.path loads");
	CHECK(strcmp(spec.root_path, raw) == 0, "root.path kept as written");
	CHECK(rootfs_is(&spec, path, expected), "absolute root.path used, cleaned, bundle ignored");
	oci_spec_free(&spec);

	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(tmp) < 0)
		abort();
	write_file("b", "config.json", "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"rootfs\"}}");
	snprintf(expected, sizeof(expected), "%s/b/rootfs", tmp);
	CHECK(load("b", &spec), "relative bundle path loads");
	CHECK(rootfs_is(&spec, "b", expected), "rootfs of a relative bundle is absolute");
	CHECK(rootfs_is(&spec, "./b/../b", expected), "and cleaned");
	oci_spec_free(&spec);
	if (chdir(cwd) < 0)
		abort();

	struct oci_spec empty = { 0 };
	CHECK(oci_spec_rootfs_path(&empty, "/b") == NULL, "no rootfs path without root.path");

	make_dir(tmp, "c");
	snprintf(path, sizeof(path), "%s/c", tmp);
	make_dir(path, "config.json");
	snprintf(expected, sizeof(expected), "%s/c/config.json: not a regular file", tmp);
	expect_bundle_error(path, expected);

	make_dir(tmp, "d");
	snprintf(path, sizeof(path), "%s/d/config.json", tmp);
	if (mkfifo(path, 0600) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/d", tmp);
	snprintf(expected, sizeof(expected), "%s/d/config.json: not a regular file", tmp);
	expect_bundle_error(path, expected);

	make_dir(tmp, "e");
	snprintf(path, sizeof(path), "%s/e/config.json", tmp);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)OCI_SPEC_MAX_SIZE + 1) < 0 || close(fd) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/e", tmp);
	snprintf(expected, sizeof(expected), "%s/e/config.json: larger than 4 MiB", tmp);
	expect_bundle_error(path, expected);

	nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	test_minimal();
	test_default_round_trip();
	test_every_field();
	test_document_errors();
	test_json_errors();
	test_process_errors();
	test_mount_and_linux_errors();
	test_linux_conformance();
	test_linux_conformance_errors();
	test_hook_and_annotation_errors();
	test_bounds();
	test_bundles();
	return tap_done();
}
