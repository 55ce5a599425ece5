/* The agent's request validation: every bound and allow-list the host must respect; and
 * decoding as the agent does it, with the allocator that wipes what it frees. */
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "agent/validate.h"
#include "agent/wipe.h"
#include "tap.h"

/* Validates msg as method m; returns the gRPC code (0 = accepted). */
static int code_of(int m, const ProtobufCMessage *msg)
{
	veil_err_t err = NULL;
	int code = -1;
	if (agent_validate_request(m, msg, &code, &err) == 0) {
		if (err != NULL)
			code = -2; /* success must not leave an error behind */
		return err == NULL ? 0 : code;
	}
	if (err == NULL || err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL)
		code = -3; /* every rejection carries a one-line reason */
	veil_error_free(&err);
	return code;
}

static bool id_ok(const char *id)
{
	veil_err_t err = NULL;
	int rc = agent_validate_id("container_id", id, &err);
	veil_error_free(&err);
	return rc == 0;
}

static void test_ids(void)
{
	char max[AGENT_ID_MAX + 2];
	memset(max, 'a', sizeof(max));
	max[AGENT_ID_MAX] = '\0';
	CHECK(id_ok("c1") && id_ok("A.b_c-9") && id_ok("9") && id_ok(max), "well-formed ids accepted");
	max[AGENT_ID_MAX] = 'a';
	max[AGENT_ID_MAX + 1] = '\0';
	CHECK(!id_ok(max), "id of %d characters rejected", AGENT_ID_MAX + 1);
	CHECK(!id_ok(""), "empty id rejected");
	CHECK(!id_ok("-a") && !id_ok(".a") && !id_ok("_a"), "id must start with a letter or digit");
	CHECK(!id_ok("a/b") && !id_ok("a b") && !id_ok("a\nb") && !id_ok("a\xc3\xa9"), "id charset enforced");
	CHECK(!id_ok("../x") && !id_ok("a:b"), "path-like ids rejected");
}

static void test_hello(void)
{
	uint8_t entropy[AGENT_ENTROPY_MAX + 1] = { 0 };
	Veil__Agent__V1__HelloRequest r = VEIL__AGENT__V1__HELLO_REQUEST__INIT;
	r.protocol_version = 1;
	r.entropy.data = entropy;
	r.entropy.len = AGENT_ENTROPY_MIN;
	CHECK(code_of(VEIL_METHOD_HELLO, &r.base) == 0, "hello with 32 bytes of entropy accepted");
	r.entropy.len = AGENT_ENTROPY_MAX;
	r.realtime_ns = 1700000000000000000;
	CHECK(code_of(VEIL_METHOD_HELLO, &r.base) == 0, "hello with 512 bytes and a clock accepted");
	r.entropy.len = AGENT_ENTROPY_MIN - 1;
	CHECK(code_of(VEIL_METHOD_HELLO, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "31 bytes of entropy rejected");
	r.entropy.len = AGENT_ENTROPY_MAX + 1;
	CHECK(code_of(VEIL_METHOD_HELLO, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "513 bytes of entropy rejected");
	r.entropy.len = 64;
	r.realtime_ns = -1;
	CHECK(code_of(VEIL_METHOD_HELLO, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "negative realtime rejected");
	r.realtime_ns = 0;
	r.protocol_version = 2;
	CHECK(code_of(VEIL_METHOD_HELLO, &r.base) == VEIL_RPC_FAILED_PRECONDITION, "protocol 2 -> FAILED_PRECONDITION");
	r.protocol_version = 0;
	CHECK(code_of(VEIL_METHOD_HELLO, &r.base) == VEIL_RPC_FAILED_PRECONDITION, "protocol 0 -> FAILED_PRECONDITION");
}

static void test_method_mismatch(void)
{
	Veil__Agent__V1__HelloRequest hello = VEIL__AGENT__V1__HELLO_REQUEST__INIT;
	CHECK(code_of(VEIL_METHOD_CREATE_CONTAINER, &hello.base) == VEIL_RPC_INVALID_ARGUMENT,
	      "message of another method rejected");
	CHECK(code_of(-1, &hello.base) == VEIL_RPC_INVALID_ARGUMENT && code_of(VEIL_METHOD_COUNT, &hello.base) != 0,
	      "out-of-range method rejected");
	CHECK(code_of(VEIL_METHOD_HELLO, NULL) == VEIL_RPC_INVALID_ARGUMENT, "NULL message rejected");
	Veil__Agent__V1__ShutdownRequest shutdown = VEIL__AGENT__V1__SHUTDOWN_REQUEST__INIT;
	CHECK(code_of(VEIL_METHOD_SHUTDOWN, &shutdown.base) == 0, "shutdown accepted");
}

/* A CreateContainerRequest that passes, for tests to break one field at a time. */
struct create_fixture {
	Veil__Agent__V1__CreateContainerRequest r;
	Veil__Agent__V1__Mount m[2];
	Veil__Agent__V1__Mount *mp[2];
	char *m0_opts[4];
	char *m1_opts[3];
	char *ns[5];
	char *masked[2];
	char *ro[1];
	Veil__Agent__V1__Resources res;
};

static void create_init(struct create_fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->r = (Veil__Agent__V1__CreateContainerRequest)VEIL__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	f->r.container_id = "web-1";
	f->r.rootfs_serial = "rootfs0";
	f->r.hostname = "web";
	for (int i = 0; i < 2; i++) {
		f->m[i] = (Veil__Agent__V1__Mount)VEIL__AGENT__V1__MOUNT__INIT;
		f->mp[i] = &f->m[i];
	}
	f->m[0].destination = "/dev";
	f->m[0].type = "tmpfs";
	f->m[0].source = "tmpfs";
	f->m0_opts[0] = "nosuid";
	f->m0_opts[1] = "strictatime";
	f->m0_opts[2] = "mode=755";
	f->m0_opts[3] = "size=65536k";
	f->m[0].options = f->m0_opts;
	f->m[0].n_options = 4;
	f->m[1].destination = "/dev/pts";
	f->m[1].type = "devpts";
	f->m[1].source = "devpts";
	f->m1_opts[0] = "newinstance";
	f->m1_opts[1] = "ptmxmode=0666";
	f->m1_opts[2] = "gid=5";
	f->m[1].options = f->m1_opts;
	f->m[1].n_options = 3;
	f->r.mounts = f->mp;
	f->r.n_mounts = 2;
	f->ns[0] = "mount";
	f->ns[1] = "pid";
	f->ns[2] = "uts";
	f->ns[3] = "ipc";
	f->ns[4] = "network";
	f->r.namespaces = f->ns;
	f->r.n_namespaces = 5;
	f->masked[0] = "/proc/kcore";
	f->masked[1] = "/sys/firmware";
	f->r.masked_paths = f->masked;
	f->r.n_masked_paths = 2;
	f->ro[0] = "/proc/sys";
	f->r.readonly_paths = f->ro;
	f->r.n_readonly_paths = 1;
	f->res = (Veil__Agent__V1__Resources)VEIL__AGENT__V1__RESOURCES__INIT;
	f->res.memory_limit = 256 << 20;
	f->res.cpu_quota = 50000;
	f->res.cpu_period = 100000;
	f->res.pids_limit = 100;
	f->r.resources = &f->res;
}

static int create_code(struct create_fixture *f)
{
	return code_of(VEIL_METHOD_CREATE_CONTAINER, &f->r.base);
}

static void test_create_fields(void)
{
	struct create_fixture f;
	create_init(&f);
	CHECK(create_code(&f) == 0, "typical CreateContainer accepted");

	create_init(&f);
	f.r.container_id = "a/b";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "bad container id rejected");

	create_init(&f);
	f.r.rootfs_serial = "";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "empty serial rejected");
	f.r.rootfs_serial = "abcdefghij0123456789";
	CHECK(create_code(&f) == 0, "20-character serial accepted");
	f.r.rootfs_serial = "abcdefghij0123456789x";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "21-character serial rejected");
	f.r.rootfs_serial = "disk.0";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "serial with '.' rejected");

	create_init(&f);
	f.r.hostname = "0123456789012345678901234567890123456789012345678901234567890123";
	CHECK(create_code(&f) == 0, "64-character hostname accepted");
	f.r.hostname = "01234567890123456789012345678901234567890123456789012345678901234";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "65-character hostname rejected");
	f.r.hostname = "a b";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "hostname with a space rejected");
	f.r.hostname = "a\nb";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "hostname with a newline rejected");

	create_init(&f);
	f.r.n_namespaces = 2; /* mount, pid: no uts */
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "hostname without a uts namespace rejected");
	f.r.hostname = "";
	CHECK(create_code(&f) == 0, "no hostname without a uts namespace accepted");
}

static void test_create_namespaces(void)
{
	struct create_fixture f;
	create_init(&f);
	f.r.hostname = "";
	f.ns[4] = "user";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a user namespace without id mappings rejected");
	f.ns[4] = "cgroup";
	CHECK(create_code(&f) == 0, "cgroup namespace accepted (the init always gets one)");
	f.ns[4] = "time";
	CHECK(create_code(&f) == 0, "time namespace accepted");
	f.ns[4] = "net";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "unknown namespace name rejected");

	veil_err_t err = NULL;
	int flags = 0, code = 0;
	char *all[] = { "mount", "pid", "uts", "ipc", "network", "cgroup" };
	CHECK(agent_namespace_flags(all, 6, &flags, &code, &err) == 0 &&
		      flags == (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP),
	      "namespace names map to CLONE_NEW* flags");
	CHECK(agent_namespace_flags(all, 0, &flags, &code, &err) == 0 && flags == 0, "no namespaces, no flags");
	veil_error_free(&err);
}

static int mount_code(const char *type, const char *dest, char **opts, size_t n)
{
	struct create_fixture f;
	create_init(&f);
	f.m[0].type = (char *)type;
	f.m[0].destination = (char *)dest;
	f.m[0].options = opts;
	f.m[0].n_options = n;
	return create_code(&f);
}

static void test_mounts(void)
{
	static const char *const types[] = { "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup2" };
	bool all = true;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		all = all && mount_code(types[i], "/x", NULL, 0) == 0;
	CHECK(all, "every allowed mount type accepted");
	CHECK(mount_code("bind", "/x", NULL, 0) == VEIL_RPC_INVALID_ARGUMENT, "bind type rejected");
	CHECK(mount_code("ext4", "/x", NULL, 0) == VEIL_RPC_INVALID_ARGUMENT, "ext4 type rejected");
	CHECK(mount_code("overlay", "/x", NULL, 0) == VEIL_RPC_INVALID_ARGUMENT, "overlay type rejected");
	char *bind[] = { "rbind" };
	CHECK(mount_code("tmpfs", "/x", bind, 1) == VEIL_RPC_INVALID_ARGUMENT, "rbind option rejected");
	char *bind2[] = { "ro", "bind" };
	CHECK(mount_code("tmpfs", "/x", bind2, 2) == VEIL_RPC_INVALID_ARGUMENT, "bind option rejected");

	CHECK(mount_code("tmpfs", "x", NULL, 0) == VEIL_RPC_INVALID_ARGUMENT, "relative destination rejected");
	CHECK(mount_code("tmpfs", "", NULL, 0) == VEIL_RPC_INVALID_ARGUMENT, "empty destination rejected");
	CHECK(mount_code("tmpfs", "/a/../etc", NULL, 0) == VEIL_RPC_INVALID_ARGUMENT, "'..' in destination rejected");
	CHECK(mount_code("tmpfs", "/..", NULL, 0) == VEIL_RPC_INVALID_ARGUMENT, "trailing '..' rejected");
	CHECK(mount_code("tmpfs", "/a/..b/c..", NULL, 0) == 0, "'..' inside a name is fine");

	static char *bad[] = { "suid",	    "dev",	"exec",	   "remount",	 "mode=0755;x", "mode=8",
			       "mode=",	    "size=1x",	"size=k",  "uid=-1",	 "gid=0x10",	"context=foo",
			       "mode=0755,size=1", "upperdir=/x", "lowerdir=/", "ptmxmode=0999", "newinstance=1",
			       "size=123456789012345678901" };
	bool rejected = true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *one[] = { bad[i] };
		int code = mount_code("tmpfs", "/x", one, 1);
		if (code != VEIL_RPC_INVALID_ARGUMENT) {
			rejected = false;
			printf("# option \"%s\" gave code %d\n", bad[i], code);
		}
	}
	CHECK(rejected, "options outside the allow-list rejected");

	char *many[AGENT_MAX_MOUNT_OPTIONS + 1];
	for (size_t i = 0; i < AGENT_MAX_MOUNT_OPTIONS + 1; i++)
		many[i] = "nosuid";
	CHECK(mount_code("tmpfs", "/x", many, AGENT_MAX_MOUNT_OPTIONS) == 0, "64 options accepted");
	CHECK(mount_code("tmpfs", "/x", many, AGENT_MAX_MOUNT_OPTIONS + 1) == VEIL_RPC_INVALID_ARGUMENT,
	      "65 options rejected");

	struct create_fixture f;
	create_init(&f);
	Veil__Agent__V1__Mount *mp[AGENT_MAX_MOUNTS + 1];
	for (size_t i = 0; i < AGENT_MAX_MOUNTS + 1; i++)
		mp[i] = &f.m[0];
	f.r.mounts = mp;
	f.r.n_mounts = AGENT_MAX_MOUNTS;
	CHECK(create_code(&f) == 0, "64 mounts accepted");
	f.r.n_mounts = AGENT_MAX_MOUNTS + 1;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "65 mounts rejected");
}

/* A shared tree (virtio-fs): the rootfs from it, bind mounts from it only. */
static void test_shared_tree(void)
{
	struct create_fixture f;
	create_init(&f);
	f.r.shared_fs_tag = "veil-fs";
	CHECK(create_code(&f) == 0, "a shared tree beside a rootfs disk accepted");
	f.r.shared_fs_tag = "veil.fs";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a tag with '.' rejected");
	f.r.shared_fs_tag = "0123456789abcdef0123456789abcdef0123";
	CHECK(create_code(&f) == 0, "a 36-character tag accepted");
	f.r.shared_fs_tag = "0123456789abcdef0123456789abcdef01234";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a 37-character tag rejected");

	create_init(&f);
	f.r.rootfs_shared = true;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a shared rootfs without a tag rejected");
	f.r.shared_fs_tag = "veil-fs";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a shared rootfs with a rootfs_serial rejected");
	f.r.rootfs_serial = "";
	CHECK(create_code(&f) == 0, "a shared rootfs accepted");
	f.r.upper_serial = "veil-upper";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a shared rootfs with an upper_serial rejected");

	create_init(&f);
	f.r.upper_serial = "veil-upper";
	CHECK(create_code(&f) == 0, "a writable layer on a disk accepted");
	f.r.upper_serial = "veil/upper";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "an upper_serial with '/' rejected");

	create_init(&f);
	f.m[0].type = "bind";
	f.m[0].source = "m3";
	f.m[0].n_options = 0;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a bind mount without a shared tree rejected");
	f.r.shared_fs_tag = "veil-fs";
	CHECK(create_code(&f) == 0, "a bind mount from the shared tree accepted");
	char *flags[] = { "rbind", "ro", "nosuid", "nodev", "noexec" };
	f.m[0].options = flags;
	f.m[0].n_options = 5;
	CHECK(create_code(&f) == 0, "with a bind mount's flags");
	char *data[] = { "bind", "mode=0755" };
	f.m[0].options = data;
	f.m[0].n_options = 2;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "with data options rejected");
	f.m[0].n_options = 0;
	static const char *const sources[] = { "", "/etc", "../etc", "m3/../../etc", ".." };
	bool refused = true;
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		f.m[0].source = (char *)sources[i];
		refused = refused && create_code(&f) == VEIL_RPC_INVALID_ARGUMENT;
	}
	CHECK(refused, "a source that is empty, absolute or has \"..\" rejected");
	f.m[0].source = "m3/sub/..x";
	CHECK(create_code(&f) == 0, "a source below a name accepted");

	create_init(&f);
	f.r.shared_fs_tag = "veil-fs";
	char *bind[] = { "rbind" };
	f.m[0].options = bind;
	f.m[0].n_options = 1;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "a bind option on a tmpfs rejected, with a shared tree too");
}

static void test_mount_option_translation(void)
{
	Veil__Agent__V1__Mount m = VEIL__AGENT__V1__MOUNT__INIT;
	char *opts[] = { "ro", "nosuid", "nodev", "noexec", "relatime", "newinstance", "mode=0620", "size=50%",
			 "nr_inodes=1k", "uid=0", "gid=5", "ptmxmode=0666", "rw", "strictatime" };
	m.destination = "/x";
	m.options = opts;
	m.n_options = sizeof(opts) / sizeof(opts[0]);
	unsigned long flags;
	char data[AGENT_MOUNT_DATA_MAX];
	veil_err_t err = NULL;
	int rc = agent_mount_options(&m, &flags, data, sizeof(data), &err);
	CHECK(rc == 0, "translatable options accepted");
	CHECK(flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME), "flags: later rw/strictatime override ro/relatime (0x%lx)",
	      flags);
	CHECK(strcmp(data, "newinstance,mode=0620,size=50%,nr_inodes=1k,uid=0,gid=5,ptmxmode=0666") == 0,
	      "data options joined in order: %s", data);
	m.n_options = 0;
	rc = agent_mount_options(&m, &flags, data, sizeof(data), &err);
	CHECK(rc == 0 && flags == 0 && data[0] == '\0', "no options: no flags, empty data");
	veil_error_free(&err);
}

static void test_create_paths_and_resources(void)
{
	struct create_fixture f;
	create_init(&f);
	f.masked[1] = "relative";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "relative masked path rejected");
	f.masked[1] = "/proc/../etc";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "masked path with '..' rejected");
	create_init(&f);
	f.ro[0] = "/..";
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "readonly path with '..' rejected");

	char *paths[AGENT_MAX_PATHS + 1];
	for (size_t i = 0; i < AGENT_MAX_PATHS + 1; i++)
		paths[i] = "/proc/x";
	create_init(&f);
	f.r.masked_paths = paths;
	f.r.n_masked_paths = AGENT_MAX_PATHS;
	f.r.readonly_paths = paths;
	f.r.n_readonly_paths = AGENT_MAX_PATHS;
	CHECK(create_code(&f) == 0, "128 masked and 128 readonly paths accepted");
	f.r.n_masked_paths = AGENT_MAX_PATHS + 1;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "129 masked paths rejected");
	f.r.n_masked_paths = 0;
	f.r.n_readonly_paths = AGENT_MAX_PATHS + 1;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "129 readonly paths rejected");

	static char long_path[5000];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	create_init(&f);
	f.masked[0] = long_path;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "path longer than PATH_MAX rejected");

	create_init(&f);
	f.r.resources = NULL;
	CHECK(create_code(&f) == 0, "no resources accepted");
	create_init(&f);
	f.res.memory_limit = -1;
	CHECK(create_code(&f) == 0, "memory limit -1 (unlimited) accepted");
	f.res.memory_limit = -2;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "memory limit below -1 rejected");
	create_init(&f);
	f.res.pids_limit = -5;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "negative pids limit rejected");
	create_init(&f);
	f.res.cpu_quota = 999;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "cpu quota below 1 ms rejected");
	f.res.cpu_quota = 1000;
	f.res.cpu_period = 0;
	CHECK(create_code(&f) == 0, "cpu quota with the default period accepted");
	f.res.cpu_period = 999;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "cpu period below 1 ms rejected");
	f.res.cpu_period = 1000001;
	CHECK(create_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "cpu period above 1 s rejected");
}

/* An ExecProcessRequest that passes. */
struct exec_fixture {
	Veil__Agent__V1__ExecProcessRequest r;
	Veil__Agent__V1__Process p;
	char *args[2];
	char *env[2];
	uint32_t gids[2];
	Veil__Agent__V1__Rlimit rl;
	Veil__Agent__V1__Rlimit *rlp[1];
};

static void exec_init(struct exec_fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->r = (Veil__Agent__V1__ExecProcessRequest)VEIL__AGENT__V1__EXEC_PROCESS_REQUEST__INIT;
	f->p = (Veil__Agent__V1__Process)VEIL__AGENT__V1__PROCESS__INIT;
	f->r.container_id = "web-1";
	f->r.exec_id = "";
	f->r.process = &f->p;
	f->args[0] = "sh";
	f->args[1] = "-c";
	f->p.args = f->args;
	f->p.n_args = 2;
	f->env[0] = "PATH=/bin";
	f->env[1] = "EMPTY=";
	f->p.env = f->env;
	f->p.n_env = 2;
	f->p.cwd = "/";
	f->p.uid = 1000;
	f->p.gid = 1000;
	f->gids[0] = 5;
	f->gids[1] = 0;
	f->p.additional_gids = f->gids;
	f->p.n_additional_gids = 2;
	f->rl = (Veil__Agent__V1__Rlimit)VEIL__AGENT__V1__RLIMIT__INIT;
	f->rl.type = "RLIMIT_NOFILE";
	f->rl.hard = 4096;
	f->rl.soft = 1024;
	f->rlp[0] = &f->rl;
	f->p.rlimits = f->rlp;
	f->p.n_rlimits = 1;
	f->r.stdin_stream = 2;
	f->r.stdout_stream = 4;
	f->r.stderr_stream = 6;
}

static int exec_code(struct exec_fixture *f)
{
	return code_of(VEIL_METHOD_EXEC_PROCESS, &f->r.base);
}

static void test_exec_process(void)
{
	struct exec_fixture f;
	exec_init(&f);
	CHECK(exec_code(&f) == 0, "typical ExecProcess (init) accepted");
	f.r.exec_id = "exec-1";
	CHECK(exec_code(&f) == 0, "ExecProcess with an exec id accepted");
	f.r.exec_id = "bad id";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "bad exec id rejected");

	exec_init(&f);
	f.r.process = NULL;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "missing process rejected");
	exec_init(&f);
	f.p.n_args = 0;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "empty args rejected");
	exec_init(&f);
	f.args[0] = "";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "empty args[0] rejected");
	exec_init(&f);
	f.env[1] = "NOEQUALS";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "env entry without '=' rejected");
	f.env[1] = "=value";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "env entry with an empty name rejected");

	exec_init(&f);
	f.p.cwd = "";
	CHECK(exec_code(&f) == 0, "empty cwd (meaning /) accepted");
	f.p.cwd = "tmp";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "relative cwd rejected");
	f.p.cwd = "/tmp/../..";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "cwd with '..' rejected");

	exec_init(&f);
	f.p.uid = UINT32_MAX;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "uid -1 rejected");
	exec_init(&f);
	f.p.gid = UINT32_MAX;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "gid -1 rejected");
	exec_init(&f);
	f.gids[1] = UINT32_MAX;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "additional gid -1 rejected");

	uint32_t gids[AGENT_MAX_GIDS + 1] = { 0 };
	exec_init(&f);
	f.p.additional_gids = gids;
	f.p.n_additional_gids = AGENT_MAX_GIDS;
	CHECK(exec_code(&f) == 0, "64 additional gids accepted");
	f.p.n_additional_gids = AGENT_MAX_GIDS + 1;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "65 additional gids rejected");

	exec_init(&f);
	f.p.umask = 0777;
	f.p.has_umask = 1;
	CHECK(exec_code(&f) == 0, "umask 0777 accepted");
	f.p.umask = 01000;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "umask above 0777 rejected");

	exec_init(&f);
	f.p.console_rows = 65535;
	f.p.console_cols = 65535;
	CHECK(exec_code(&f) == 0, "console 65535x65535 accepted");
	f.p.console_cols = 65536;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "console width 65536 rejected");
}

static void test_exec_rlimits(void)
{
	struct exec_fixture f;
	exec_init(&f);
	f.rl.type = "RLIMIT_FOO";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "unknown rlimit rejected");
	f.rl.type = "NOFILE";
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "rlimit without the RLIMIT_ prefix rejected");
	f.rl.type = "RLIMIT_CORE";
	f.rl.soft = f.rl.hard + 1;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "soft above hard rejected");
	f.rl.soft = f.rl.hard = UINT64_MAX;
	CHECK(exec_code(&f) == 0, "unlimited rlimit accepted");

	Veil__Agent__V1__Rlimit *many[AGENT_MAX_RLIMITS + 1];
	for (size_t i = 0; i < AGENT_MAX_RLIMITS + 1; i++)
		many[i] = &f.rl;
	f.p.rlimits = many;
	f.p.n_rlimits = AGENT_MAX_RLIMITS;
	CHECK(exec_code(&f) == 0, "32 rlimits accepted");
	f.p.n_rlimits = AGENT_MAX_RLIMITS + 1;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "33 rlimits rejected");

	CHECK(agent_rlimit_resource("RLIMIT_NOFILE") == RLIMIT_NOFILE &&
		      agent_rlimit_resource("RLIMIT_STACK") == RLIMIT_STACK &&
		      agent_rlimit_resource("RLIMIT_RTTIME") == RLIMIT_RTTIME,
	      "rlimit names map to resources");
	CHECK(agent_rlimit_resource("rlimit_nofile") == -1 && agent_rlimit_resource("") == -1,
	      "rlimit names are exact");
}

static void test_exec_bounds(void)
{
	static char *args[AGENT_MAX_ARGS + 1];
	for (size_t i = 0; i < AGENT_MAX_ARGS + 1; i++)
		args[i] = "x";
	struct exec_fixture f;
	exec_init(&f);
	f.p.args = args;
	f.p.n_args = AGENT_MAX_ARGS;
	CHECK(exec_code(&f) == 0, "4096 args accepted");
	f.p.n_args = AGENT_MAX_ARGS + 1;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "4097 args rejected");

	static char *env[AGENT_MAX_ENV + 1];
	for (size_t i = 0; i < AGENT_MAX_ENV + 1; i++)
		env[i] = "A=1";
	exec_init(&f);
	f.p.env = env;
	f.p.n_env = AGENT_MAX_ENV;
	CHECK(exec_code(&f) == 0, "4096 env entries accepted");
	f.p.n_env = AGENT_MAX_ENV + 1;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "4097 env entries rejected");

	/* 64 KiB strings: the largest allowed, and one byte more. */
	static char big[AGENT_MAX_STRING + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[AGENT_MAX_STRING] = '\0';
	exec_init(&f);
	f.args[1] = big;
	CHECK(exec_code(&f) == 0, "64 KiB argument accepted");
	big[AGENT_MAX_STRING] = 'a';
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "argument over 64 KiB rejected");
	big[AGENT_MAX_STRING] = '\0';

	/* 17 arguments of 64 KiB exceed the 1 MiB total. */
	static char *fat[17];
	for (size_t i = 0; i < 17; i++)
		fat[i] = big;
	exec_init(&f);
	f.p.args = fat;
	f.p.n_args = 15;
	CHECK(exec_code(&f) == 0, "15 x 64 KiB of args accepted");
	f.p.n_args = 17;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "args over 1 MiB in total rejected");
}

static void test_exec_streams(void)
{
	struct exec_fixture f;
	exec_init(&f);
	f.r.stdout_stream = 3;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "odd stream id rejected");
	exec_init(&f);
	f.r.stderr_stream = f.r.stdout_stream;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "stream used twice rejected");
	exec_init(&f);
	f.r.stdin_stream = f.r.stdout_stream = f.r.stderr_stream = 0;
	CHECK(exec_code(&f) == 0, "no streams at all accepted");
	exec_init(&f);
	f.p.terminal = 1;
	CHECK(exec_code(&f) == VEIL_RPC_INVALID_ARGUMENT, "terminal with a stderr stream rejected");
	f.r.stderr_stream = 0;
	CHECK(exec_code(&f) == 0, "terminal without a stderr stream accepted");
}

static void test_targets(void)
{
	Veil__Agent__V1__WaitProcessRequest w = VEIL__AGENT__V1__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = "c";
	CHECK(code_of(VEIL_METHOD_WAIT_PROCESS, &w.base) == 0, "wait for the init accepted");
	w.exec_id = "e.1";
	CHECK(code_of(VEIL_METHOD_WAIT_PROCESS, &w.base) == 0, "wait for an exec accepted");
	w.container_id = "";
	CHECK(code_of(VEIL_METHOD_WAIT_PROCESS, &w.base) == VEIL_RPC_INVALID_ARGUMENT, "wait without container rejected");

	Veil__Agent__V1__SignalProcessRequest s = VEIL__AGENT__V1__SIGNAL_PROCESS_REQUEST__INIT;
	s.container_id = "c";
	s.signal = 0;
	CHECK(code_of(VEIL_METHOD_SIGNAL_PROCESS, &s.base) == VEIL_RPC_INVALID_ARGUMENT, "signal 0 rejected");
	s.signal = 65;
	CHECK(code_of(VEIL_METHOD_SIGNAL_PROCESS, &s.base) == VEIL_RPC_INVALID_ARGUMENT, "signal 65 rejected");
	s.signal = 64;
	s.all = 1;
	CHECK(code_of(VEIL_METHOD_SIGNAL_PROCESS, &s.base) == 0, "signal 64 to all accepted");
	s.exec_id = "x\n";
	CHECK(code_of(VEIL_METHOD_SIGNAL_PROCESS, &s.base) == VEIL_RPC_INVALID_ARGUMENT, "exec id with newline rejected");

	Veil__Agent__V1__ResizeTerminalRequest r = VEIL__AGENT__V1__RESIZE_TERMINAL_REQUEST__INIT;
	r.container_id = "c";
	r.rows = 65535;
	r.cols = 1;
	CHECK(code_of(VEIL_METHOD_RESIZE_TERMINAL, &r.base) == 0, "resize accepted");
	r.rows = 65536;
	CHECK(code_of(VEIL_METHOD_RESIZE_TERMINAL, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "resize to 65536 rows rejected");

	Veil__Agent__V1__DestroyContainerRequest d = VEIL__AGENT__V1__DESTROY_CONTAINER_REQUEST__INIT;
	d.container_id = "c";
	CHECK(code_of(VEIL_METHOD_DESTROY_CONTAINER, &d.base) == 0, "destroy accepted");
	d.container_id = "..";
	CHECK(code_of(VEIL_METHOD_DESTROY_CONTAINER, &d.base) == VEIL_RPC_INVALID_ARGUMENT, "destroy '..' rejected");
}

static void test_update_stats_oom(void)
{
	Veil__Agent__V1__Resources res = VEIL__AGENT__V1__RESOURCES__INIT;
	Veil__Agent__V1__UpdateContainerRequest u = VEIL__AGENT__V1__UPDATE_CONTAINER_REQUEST__INIT;
	u.container_id = "c";
	CHECK(code_of(VEIL_METHOD_UPDATE_CONTAINER, &u.base) == VEIL_RPC_INVALID_ARGUMENT,
	      "an update without resources rejected");
	u.resources = &res;
	res.memory_limit = -1;
	res.cpu_quota = -1;
	res.pids_limit = 100;
	CHECK(code_of(VEIL_METHOD_UPDATE_CONTAINER, &u.base) == 0, "an update may lift limits (-1)");
	res.memory_limit = -2;
	CHECK(code_of(VEIL_METHOD_UPDATE_CONTAINER, &u.base) == VEIL_RPC_INVALID_ARGUMENT, "a limit of -2 rejected");
	res.memory_limit = 0;
	res.cpu_quota = 999;
	CHECK(code_of(VEIL_METHOD_UPDATE_CONTAINER, &u.base) == VEIL_RPC_INVALID_ARGUMENT,
	      "a cpu quota under 1 ms rejected");
	res.cpu_quota = 0;
	u.container_id = "a/b";
	CHECK(code_of(VEIL_METHOD_UPDATE_CONTAINER, &u.base) == VEIL_RPC_INVALID_ARGUMENT, "update of 'a/b' rejected");

	Veil__Agent__V1__StatsContainerRequest st = VEIL__AGENT__V1__STATS_CONTAINER_REQUEST__INIT;
	st.container_id = "c";
	CHECK(code_of(VEIL_METHOD_STATS_CONTAINER, &st.base) == 0, "stats accepted");
	st.container_id = "";
	CHECK(code_of(VEIL_METHOD_STATS_CONTAINER, &st.base) == VEIL_RPC_INVALID_ARGUMENT, "stats of '' rejected");
	Veil__Agent__V1__FreezeContainerRequest f = VEIL__AGENT__V1__FREEZE_CONTAINER_REQUEST__INIT;
	f.container_id = "c";
	f.frozen = true;
	CHECK(code_of(VEIL_METHOD_FREEZE_CONTAINER, &f.base) == 0, "freeze accepted");
	f.container_id = "a b";
	CHECK(code_of(VEIL_METHOD_FREEZE_CONTAINER, &f.base) == VEIL_RPC_INVALID_ARGUMENT, "freeze of 'a b' rejected");
	Veil__Agent__V1__GetOOMEventRequest o = VEIL__AGENT__V1__GET_OOMEVENT_REQUEST__INIT;
	CHECK(code_of(VEIL_METHOD_GET_OOM_EVENT, &o.base) == 0, "GetOOMEvent accepted");
}

static void test_configure_interface(void)
{
	char *addrs[AGENT_MAX_ADDRESSES + 1];
	for (int i = 0; i <= AGENT_MAX_ADDRESSES; i++)
		addrs[i] = "10.0.0.2/24";
	Veil__Agent__V1__ConfigureInterfaceRequest r = VEIL__AGENT__V1__CONFIGURE_INTERFACE_REQUEST__INIT;
	const int m = VEIL_METHOD_CONFIGURE_INTERFACE;
	r.mac = "02:42:AC:11:00:02";
	r.name = "eth0";
	r.mtu = 1500;
	r.addresses = addrs;
	r.n_addresses = 1;
	r.gateway = "10.0.0.1";
	CHECK(code_of(m, &r.base) == 0, "configure interface accepted");
	r.n_addresses = AGENT_MAX_ADDRESSES;
	r.mtu = 0;
	r.gateway = "";
	CHECK(code_of(m, &r.base) == 0, "%d addresses, mtu 0 and no gateway accepted", AGENT_MAX_ADDRESSES);
	r.n_addresses = AGENT_MAX_ADDRESSES + 1;
	CHECK(code_of(m, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "%d addresses rejected", AGENT_MAX_ADDRESSES + 1);
	r.n_addresses = 1;

	static const char *const bad_macs[] = { "", "02:42:ac:11:00", "02:42:ac:11:00:02:03", "02-42-ac-11-00-02",
						"02:42:ac:11:00:0g", "01:00:5e:00:00:01", "00:00:00:00:00:00",
						"02:42:ac:11:00:2", " 2:42:ac:11:00:02" };
	bool all = true;
	for (size_t i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
		r.mac = (char *)bad_macs[i];
		all = all && code_of(m, &r.base) == VEIL_RPC_INVALID_ARGUMENT;
	}
	CHECK(all, "malformed, multicast and zero MACs rejected");
	r.mac = "02:42:ac:11:00:02";

	static const char *const bad_names[] = { "", ".", "..", "eth0/x", "a b", "0123456789abcdef", "eth\n0", "et:h" };
	all = true;
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		r.name = (char *)bad_names[i];
		all = all && code_of(m, &r.base) == VEIL_RPC_INVALID_ARGUMENT;
	}
	CHECK(all, "empty, path-like, over-long and odd interface names rejected");
	r.name = "0123456789abcde";
	CHECK(code_of(m, &r.base) == 0, "a 15-character interface name accepted");
	r.name = "eth0";

	r.mtu = 67;
	CHECK(code_of(m, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "mtu 67 rejected");
	r.mtu = 65536;
	CHECK(code_of(m, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "mtu 65536 rejected");
	r.mtu = 68;
	CHECK(code_of(m, &r.base) == 0, "mtu 68 accepted");

	static const char *const bad_cidrs[] = { "10.0.0.2", "10.0.0.2/", "10.0.0.2/0", "10.0.0.2/33", "10.0.0.2/024",
						 "10.0.0/24", "10.0.0.256/24", "10.0.0.02/24", "10.0.0.2/2a",
						 " 10.0.0.2/24", "10.0.0.2/24 ", "10..0.2/24", "1.2.3.4.5/8", "/24" };
	all = true;
	for (size_t i = 0; i < sizeof(bad_cidrs) / sizeof(bad_cidrs[0]); i++) {
		addrs[0] = (char *)bad_cidrs[i];
		all = all && code_of(m, &r.base) == VEIL_RPC_INVALID_ARGUMENT;
	}
	CHECK(all, "malformed addresses rejected");
	addrs[0] = "0.0.0.0/32";
	CHECK(code_of(m, &r.base) == 0, "a /32 address accepted");
	addrs[0] = "10.0.0.2/24";

	static const char *const bad_gws[] = { "10.0.0.1/24", "10.0.0", "256.0.0.1", "gateway", "10.0.0.1 " };
	all = true;
	for (size_t i = 0; i < sizeof(bad_gws) / sizeof(bad_gws[0]); i++) {
		r.gateway = (char *)bad_gws[i];
		all = all && code_of(m, &r.base) == VEIL_RPC_INVALID_ARGUMENT;
	}
	CHECK(all, "malformed gateways rejected");

	uint32_t a;
	unsigned prefix;
	CHECK(agent_parse_ipv4_cidr("192.168.1.7/20", &a, &prefix) == 0 && prefix == 20 &&
		      memcmp(&a, (const uint8_t[]){ 192, 168, 1, 7 }, 4) == 0,
	      "a.b.c.d/len parses to network byte order");
	uint8_t mac[6];
	CHECK(agent_parse_mac("0a:Bc:de:F0:12:34", mac) == 0 && mac[1] == 0xbc && mac[5] == 0x34, "MACs parse in either case");
}

static void test_scrub(void)
{
	static uint8_t padding[AGENT_SCRUB_PADDING_MAX + 1];
	Veil__Agent__V1__ScrubRequest r = VEIL__AGENT__V1__SCRUB_REQUEST__INIT;
	CHECK(code_of(VEIL_METHOD_SCRUB, &r.base) == 0, "scrub without padding accepted");
	r.padding.data = padding;
	r.padding.len = 2u << 20;
	CHECK(code_of(VEIL_METHOD_SCRUB, &r.base) == 0, "scrub with 2 MiB of padding accepted");
	r.padding.len = (2u << 20) + 1;
	CHECK(code_of(VEIL_METHOD_SCRUB, &r.base) == VEIL_RPC_INVALID_ARGUMENT, "scrub with 2 MiB + 1 of padding rejected");
	CHECK(veil_method_lookup("Scrub") == VEIL_METHOD_SCRUB &&
		      veil_method_request_descriptor(VEIL_METHOD_SCRUB) == &veil__agent__v1__scrub_request__descriptor &&
		      veil_method_response_descriptor(VEIL_METHOD_SCRUB) == &veil__agent__v1__scrub_response__descriptor,
	      "Scrub is a method with its own messages");
}

/* Requests are decoded, and buffers grown, as the agent does it: through the
 * wiping allocator. Under ASan this checks every block is freed once and whole. */
static void test_wipe(void)
{
	uint8_t padding[100] = { 0 };
	Veil__Agent__V1__ScrubRequest r = VEIL__AGENT__V1__SCRUB_REQUEST__INIT;
	r.padding.data = padding;
	r.padding.len = sizeof(padding);
	size_t len;
	uint8_t *buf = veil_rpc_pack_request(VEIL_METHOD_SCRUB, &r.base, 0, &len);
	int method = -1, code = 0;
	char why[160] = "";
	ProtobufCMessage *msg =
		buf ? veil_rpc_unpack_request(&agent_wipe_allocator, buf, len, &method, &code, why, sizeof(why)) : NULL;
	CHECK(msg != NULL && method == VEIL_METHOD_SCRUB && code_of(method, msg) == 0 &&
		      ((Veil__Agent__V1__ScrubRequest *)msg)->padding.len == sizeof(padding),
	      "a Scrub request decodes with the wiping allocator");
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, &agent_wipe_allocator);
	free(buf);

	char *p = malloc(4);
	if (p != NULL)
		memcpy(p, "abc", 4);
	char *grown = p ? agent_wipe_realloc(p, 4, 1000) : NULL;
	CHECK(grown != NULL && strcmp(grown, "abc") == 0, "agent_wipe_realloc keeps the used bytes");
	agent_wipe_free(grown);
	agent_wipe_free(NULL);
}

int main(void)
{
	test_ids();
	test_hello();
	test_method_mismatch();
	test_create_fields();
	test_create_namespaces();
	test_mounts();
	test_shared_tree();
	test_mount_option_translation();
	test_create_paths_and_resources();
	test_exec_process();
	test_exec_rlimits();
	test_exec_bounds();
	test_exec_streams();
	test_targets();
	test_update_stats_oom();
	test_configure_interface();
	test_scrub();
	test_wipe();
	return tap_done();
}
