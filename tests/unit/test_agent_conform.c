/* The agent's runtime-spec conformance pieces that need no guest: validation
 * of the linux section and of process security, the cgroup v1 to v2
 * conversions, the device filter (emulated rules and the BPF program, run by
 * a small interpreter below), the seccomp compiler and the passwd lookup. */
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include "agent/cgroup.h"
#include "agent/devicefilter.h"
#include "agent/passwd.h"
#include "agent/seccomp.h"
#include "agent/validate.h"
#include "tap.h"

/* ---- validation ---- */

struct fixture {
	Veil__Agent__V1__CreateContainerRequest r;
	char *ns[4];
	Veil__Agent__V1__Resources res;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->r = (Veil__Agent__V1__CreateContainerRequest)VEIL__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	f->r.container_id = "c1";
	f->r.rootfs_serial = "rootfs0";
	f->ns[0] = "mount";
	f->ns[1] = "pid";
	f->ns[2] = "ipc";
	f->ns[3] = "uts";
	f->r.namespaces = f->ns;
	f->r.n_namespaces = 4;
	f->res = (Veil__Agent__V1__Resources)VEIL__AGENT__V1__RESOURCES__INIT;
	f->r.resources = &f->res;
}

/* The gRPC code CreateContainer gets: 0, or why not, always one line. */
static int code_of(struct fixture *f)
{
	veil_err_t err = NULL;
	int code = -1;
	if (agent_validate_request(VEIL_METHOD_CREATE_CONTAINER, &f->r.base, &code, &err) == 0)
		return err == NULL ? 0 : -2;
	if (err == NULL || err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL)
		code = -3;
	veil_error_free(&err);
	return code;
}

/* A profile of default_action with one rule of action for names. */
static void seccomp_profile(Veil__Agent__V1__Seccomp *s, Veil__Agent__V1__SeccompAction default_action,
			    Veil__Agent__V1__SeccompRule **rule, Veil__Agent__V1__SeccompAction action, char **names,
			    size_t n_names)
{
	s->default_action = default_action;
	s->syscalls = rule;
	s->n_syscalls = 1;
	(*rule)->names = names;
	(*rule)->n_names = n_names;
	(*rule)->action = action;
}

static void test_seccomp_validation(void)
{
	struct fixture f;
	fixture_init(&f);
	Veil__Agent__V1__Seccomp s = VEIL__AGENT__V1__SECCOMP__INIT;
	Veil__Agent__V1__SeccompRule rule = VEIL__AGENT__V1__SECCOMP_RULE__INIT, *rules[1] = { &rule };
	Veil__Agent__V1__SeccompArg arg = VEIL__AGENT__V1__SECCOMP_ARG__INIT, *args[1] = { &arg };
	Veil__Agent__V1__SeccompArch archs[2] = { VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86_64,
						  VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86 };
	char *names[2] = { "mkdir", "clock_gettime64" };
	seccomp_profile(&s, VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ALLOW, rules,
			VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ERRNO, names, 2);
	s.architectures = archs;
	s.n_architectures = 2;
	rule.errno_ret = 38;
	rule.has_errno_ret = true;
	rule.args = args;
	rule.n_args = 1;
	arg.index = 1;
	arg.op = VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_MASKED_EQ;
	f.r.seccomp = &s;
	CHECK(code_of(&f) == 0, "a seccomp profile with archs, errno_ret and a masked condition is accepted");
	s.default_action = VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_UNSPECIFIED;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a profile without a default action is refused");
	s.default_action = 8;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "an action past the enum (NOTIFY's place) is refused");
	s.default_action = VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ALLOW;
	rule.errno_ret = 65536;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "errno_ret above 16 bits is refused");
	rule.errno_ret = 1;
	arg.index = 6;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "argument index 6 is refused");
	arg.index = 0;
	arg.op = 0;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "an argument without an operator is refused");
	arg.op = VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_EQ;
	names[1] = "Mkdir";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a syscall name outside [a-z0-9_] is refused");
	names[1] = "";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "an empty syscall name is refused");
	names[1] = "rmdir";
	rule.n_names = 0;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a rule naming no syscall is refused");
	rule.n_names = 2;
	archs[1] = 20;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "an unknown architecture is refused");
	archs[1] = VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X32;
	s.n_syscalls = AGENT_MAX_SECCOMP_RULES + 1;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "more than %d rules are refused", AGENT_MAX_SECCOMP_RULES);
	/* The name count is bounded across rules: one rule repeated past the limit. */
	Veil__Agent__V1__SeccompRule *many[AGENT_MAX_SECCOMP_NAMES / 2 + 1];
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = &rule;
	s.syscalls = many;
	s.n_syscalls = AGENT_MAX_SECCOMP_RULES;
	CHECK(code_of(&f) == 0, "%d rules of 2 names each are accepted", AGENT_MAX_SECCOMP_RULES);
	rule.n_args = AGENT_MAX_SECCOMP_ARGS + 1;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "more than %d conditions in a rule are refused",
	      AGENT_MAX_SECCOMP_ARGS);
	rule.n_args = 0;
	char *lots[AGENT_MAX_SECCOMP_NAMES + 1];
	for (size_t i = 0; i < sizeof(lots) / sizeof(lots[0]); i++)
		lots[i] = "read";
	rule.names = lots;
	rule.n_names = AGENT_MAX_SECCOMP_NAMES + 1;
	s.n_syscalls = 1;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "more than %d syscall names are refused", AGENT_MAX_SECCOMP_NAMES);
}

static void test_sysctl_validation(void)
{
	struct fixture f;
	fixture_init(&f);
	Veil__Agent__V1__KeyValue kv = VEIL__AGENT__V1__KEY_VALUE__INIT, *kvs[1] = { &kv };
	f.r.sysctls = kvs;
	f.r.n_sysctls = 1;
	kv.value = "1";
	const struct {
		const char *key;
		int want;
		const char *why;
	} cases[] = {
		{ "net.ipv4.ip_forward", 0, "net.* is the container's (or its VM's) own" },
		{ "kernel.shmmax", 0, "an ipc sysctl with an ipc namespace" },
		{ "fs.mqueue.msg_max", 0, "an mqueue sysctl with an ipc namespace" },
		{ "kernel.domainname", 0, "domainname with a uts namespace" },
		{ "kernel.hostname", VEIL_RPC_INVALID_ARGUMENT, "hostname is the hostname field's" },
		{ "vm.overcommit_memory", VEIL_RPC_INVALID_ARGUMENT, "a guest-wide sysctl" },
		{ "kernel.pid_max", VEIL_RPC_INVALID_ARGUMENT, "kernel.* outside the ipc and uts ones" },
		{ "user.max_user_namespaces", VEIL_RPC_INVALID_ARGUMENT, "user.* without a user namespace" },
		{ "net..ipv4", VEIL_RPC_INVALID_ARGUMENT, "an empty component" },
		{ "net.ipv4.conf.eth0/../x", VEIL_RPC_INVALID_ARGUMENT, "a '..' component after translation" },
		{ "net/ipv4/ip_forward", VEIL_RPC_INVALID_ARGUMENT, "slashes first: the host sends the dotted form" },
		{ "net.ipv4 .x", VEIL_RPC_INVALID_ARGUMENT, "a space" },
		{ "", VEIL_RPC_INVALID_ARGUMENT, "an empty name" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kv.key = (char *)cases[i].key;
		CHECK(code_of(&f) == cases[i].want, "sysctl %s: %s", cases[i].key, cases[i].why);
	}
	f.r.n_namespaces = 1; /* mount only */
	kv.key = "kernel.shmmax";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "an ipc sysctl without an ipc namespace is refused");
	char long_value[4098];
	memset(long_value, '1', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	kv.key = "net.ipv4.ip_forward";
	kv.value = long_value;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a value longer than a page is refused");

	char path[128];
	CHECK(agent_sysctl_path("net.ipv4.conf.eth0/100.rp_filter", path, sizeof(path)) == 0 &&
		      strcmp(path, "net/ipv4/conf/eth0.100/rp_filter") == 0,
	      "a slash in a dotted name stands for a dot in a component: %s", path);
}

static void test_device_validation(void)
{
	struct fixture f;
	fixture_init(&f);
	Veil__Agent__V1__Device d = VEIL__AGENT__V1__DEVICE__INIT, *ds[1] = { &d };
	d.path = "/dev/fuse";
	d.type = VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_CHAR;
	d.major = 10;
	d.minor = 229;
	d.file_mode = 0666;
	f.r.devices = ds;
	f.r.n_devices = 1;
	CHECK(code_of(&f) == 0, "a char device is accepted");
	d.type = VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_ALL;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a device of type 'a' is refused");
	d.type = VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_BLOCK;
	d.major = 4096;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "major 4096 does not fit a dev_t");
	d.major = 8;
	d.file_mode = 010000;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a mode beyond the permission bits is refused");
	d.file_mode = 0600;
	d.path = "dev/x";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a relative device path is refused");
	d.path = "/dev/../x";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a device path with .. is refused");
	f.r.n_devices = 0;

	Veil__Agent__V1__DeviceRule r = VEIL__AGENT__V1__DEVICE_RULE__INIT, *rs[1] = { &r };
	f.r.device_rules = rs;
	f.r.n_device_rules = 1;
	r.major = r.minor = -1;
	r.access = "rwm";
	CHECK(code_of(&f) == 0, "a deny-all rule is accepted");
	r.access = "rwx";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "access outside rwm is refused");
	r.access = "";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "empty access is refused");
	r.access = "m";
	r.type = VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_FIFO;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a rule for fifos is refused");
	r.type = VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_CHAR;
	r.major = -2;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "major -2 is refused");
}

static void test_user_and_time_validation(void)
{
	struct fixture f;
	fixture_init(&f);
	Veil__Agent__V1__IdMapping m = VEIL__AGENT__V1__ID_MAPPING__INIT, *ms[1] = { &m };
	m.container_id = 0;
	m.host_id = 100000;
	m.size = 65536;
	f.r.uid_mappings = f.r.gid_mappings = ms;
	f.r.n_uid_mappings = f.r.n_gid_mappings = 1;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "id mappings without a user namespace are refused");
	char *ns[5] = { "mount", "pid", "ipc", "uts", "user" };
	f.r.namespaces = ns;
	f.r.n_namespaces = 5;
	CHECK(code_of(&f) == 0, "a user namespace with uid and gid mappings is accepted");
	f.r.n_gid_mappings = 0;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a user namespace without gid mappings is refused");
	f.r.n_gid_mappings = 1;
	m.size = 0;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a mapping of size 0 is refused");
	m.size = 1;
	m.host_id = UINT32_MAX;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a mapping past 2^32 is refused");
	m.host_id = 1000;

	Veil__Agent__V1__TimeOffsets t = VEIL__AGENT__V1__TIME_OFFSETS__INIT;
	t.boottime_secs = -3600;
	t.monotonic_nanosecs = 5;
	f.r.time_offsets = &t;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "time offsets without a time namespace are refused");
	ns[4] = "time";
	f.r.n_uid_mappings = f.r.n_gid_mappings = 0;
	CHECK(code_of(&f) == 0, "time offsets with a time namespace are accepted");
	t.monotonic_nanosecs = 1000000000;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "nanoseconds of a whole second are refused");
}

static void test_other_linux_fields(void)
{
	struct fixture f;
	fixture_init(&f);
	const char *ok[] = { "", "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable" };
	bool all = true;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		f.r.rootfs_propagation = (char *)ok[i];
		all = all && code_of(&f) == 0;
	}
	CHECK(all, "every rootfs propagation of the spec is accepted");
	unsigned long flags;
	CHECK(agent_propagation_flags("runbindable", &flags) == 0 && flags == (MS_UNBINDABLE | MS_REC),
	      "runbindable is MS_UNBINDABLE | MS_REC");
	f.r.rootfs_propagation = "recursive";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "an unknown propagation is refused");
	f.r.rootfs_propagation = "";

	f.r.domainname = "example.org";
	CHECK(code_of(&f) == 0, "a domainname with a uts namespace is accepted");
	f.r.n_namespaces = 2;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a domainname without a uts namespace is refused");
	f.r.n_namespaces = 4;
	f.r.domainname = "";

	Veil__Agent__V1__JoinedNamespace j = VEIL__AGENT__V1__JOINED_NAMESPACE__INIT, *js[1] = { &j };
	f.r.joined_namespaces = js;
	f.r.n_joined_namespaces = 1;
	j.type = "network";
	j.container_id = "infra";
	CHECK(code_of(&f) == 0, "sharing another container's network namespace is accepted");
	j.type = "ipc";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "joining a namespace the container also makes is refused");
	j.type = "user";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "joining a user namespace is refused");
	j.type = "network";
	j.container_id = "c1";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "joining its own namespace is refused");
	f.r.n_joined_namespaces = 0;

	Veil__Agent__V1__ExecutableLookup e = VEIL__AGENT__V1__EXECUTABLE_LOOKUP__INIT;
	f.r.executable = &e;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "an empty executable name is refused");
	e.file = "sh";
	e.cwd = "tmp";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a relative cwd for the lookup is refused");
	e.cwd = "/tmp";
	CHECK(code_of(&f) == 0, "an executable lookup is accepted");
}

static void test_resources_validation(void)
{
	struct fixture f;
	fixture_init(&f);
	f.res.memory_limit = -1;
	f.res.memory_swap = -1;
	f.res.memory_reservation = 64 << 20;
	f.res.cpu_shares = 512;
	f.res.cpu_quota = -1;
	f.res.cpu_period = 50000;
	f.res.cpuset_cpus = "0-1";
	f.res.cpuset_mems = "0";
	f.res.blkio_weight = 500;
	Veil__Agent__V1__HugepageLimit h = VEIL__AGENT__V1__HUGEPAGE_LIMIT__INIT, *hs[1] = { &h };
	h.page_size = "2MB";
	h.limit = 4 << 20;
	f.res.hugepage_limits = hs;
	f.res.n_hugepage_limits = 1;
	Veil__Agent__V1__KeyValue u = VEIL__AGENT__V1__KEY_VALUE__INIT, *us[1] = { &u };
	u.key = "memory.high";
	u.value = "100000000";
	f.res.unified = us;
	f.res.n_unified = 1;
	CHECK(code_of(&f) == 0, "every resource at once is accepted");
	f.res.blkio_weight = 5;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "blkio weight 5 is refused");
	f.res.blkio_weight = 0;
	h.page_size = "2M";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "hugepage size 2M is refused (2MB is the spec's)");
	h.page_size = "1GB";
	f.res.cpuset_cpus = "0;1";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a cpuset with a ';' is refused");
	f.res.cpuset_cpus = "";
	const char *bad_keys[] = { "cgroup.procs", "cgroup.kill", "memory/../cgroup.procs", "memory.", "devices.allow",
				   "memory" };
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		u.key = (char *)bad_keys[i];
		CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "unified key %s is refused", bad_keys[i]);
	}
	u.key = "io.max";
	CHECK(code_of(&f) == 0, "unified key io.max is accepted");
	f.res.has_cpu_idle = true;
	f.res.cpu_idle = 2;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "cpu idle 2 is refused");
}

static void test_file_mounts_validation(void)
{
	struct fixture f;
	fixture_init(&f);
	static uint8_t content[AGENT_MAX_FILE_BYTES + 1];
	Veil__Agent__V1__Mount m[5], *mp[5];
	char *ro[1] = { "ro" }, *sized[1] = { "size=1k" };
	for (int i = 0; i < 5; i++) {
		m[i] = (Veil__Agent__V1__Mount)VEIL__AGENT__V1__MOUNT__INIT;
		m[i].destination = "/etc/hosts";
		m[i].type = "file";
		m[i].content.data = content;
		m[i].content.len = AGENT_MAX_FILE_BYTES;
		m[i].mode = 0644;
		mp[i] = &m[i];
	}
	m[0].options = ro;
	m[0].n_options = 1;
	f.r.mounts = mp;
	f.r.n_mounts = 4;
	CHECK(code_of(&f) == 0, "4 files of 64 KiB (the total bound) are accepted");
	f.r.n_mounts = 5;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a 5th one past 256 KiB in all is refused");
	f.r.n_mounts = 1;
	m[0].content.len = AGENT_MAX_FILE_BYTES + 1;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a file of 64 KiB + 1 is refused");
	m[0].content.len = 10;
	m[0].options = sized;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a file with a data option is refused");
	m[0].options = ro;
	m[0].mode = 0100644;
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "a file mode with a type is refused");
	m[0].mode = 0644;
	m[0].type = "tmpfs";
	CHECK(code_of(&f) == VEIL_RPC_INVALID_ARGUMENT, "content on a tmpfs mount is refused");
}

static void test_process_security(void)
{
	Veil__Agent__V1__Process p = VEIL__AGENT__V1__PROCESS__INIT;
	char *args[1] = { "sh" };
	p.args = args;
	p.n_args = 1;
	Veil__Agent__V1__ExecProcessRequest r = VEIL__AGENT__V1__EXEC_PROCESS_REQUEST__INIT;
	r.container_id = "c1";
	r.process = &p;
	veil_err_t err = NULL;
	int code;
	p.has_oom_score_adj = true;
	p.oom_score_adj = -1000;
	CHECK(agent_validate_request(VEIL_METHOD_EXEC_PROCESS, &r.base, &code, &err) == 0, "oom_score_adj -1000 is accepted");
	p.oom_score_adj = 1001;
	CHECK(agent_validate_request(VEIL_METHOD_EXEC_PROCESS, &r.base, &code, &err) < 0 && code == VEIL_RPC_INVALID_ARGUMENT,
	      "oom_score_adj 1001 is refused");
	veil_error_free(&err);
	Veil__Agent__V1__ListProcessesRequest ps = VEIL__AGENT__V1__LIST_PROCESSES_REQUEST__INIT;
	ps.container_id = "../x";
	CHECK(agent_validate_request(VEIL_METHOD_LIST_PROCESSES, &ps.base, &code, &err) < 0,
	      "ListProcesses of a malformed id is refused");
	veil_error_free(&err);
}

/* ---- conversions ---- */

static void test_conversions(void)
{
	CHECK(agent_cpu_weight(0) == 0 && agent_cpu_weight(2) == 1 && agent_cpu_weight(1024) == 100 &&
		      agent_cpu_weight(262144) == 10000 && agent_cpu_weight(512) == 59,
	      "cpu shares 2, 1024, 262144, 512 -> weight 1, 100, 10000, %llu", (unsigned long long)agent_cpu_weight(512));
	CHECK(agent_io_weight(10) == 1 && agent_io_weight(1000) == 10000 && agent_io_weight(500) == 4950,
	      "blkio weight 10, 500, 1000 -> io.weight 1, 4950, 10000");
	int64_t swap;
	CHECK(agent_swap_max(512 << 20, 256 << 20, &swap) == 0 && swap == 256 << 20, "memory+swap 512M over 256M: 256M of swap");
	CHECK(agent_swap_max(0, -1, &swap) == 0 && swap == -1, "unlimited memory, swap unset: unlimited swap");
	CHECK(agent_swap_max(100, 200, &swap) < 0, "memory+swap below memory is refused");
	CHECK(agent_swap_max(100, 0, &swap) < 0, "swap without a memory limit is refused");
}

/* ---- device filter ---- */

/* A BPF interpreter for the instructions the emitter uses, to run its programs here. */
static bool run(const struct bpf_insn *prog, size_t len, int type, unsigned access, uint32_t major, uint32_t minor)
{
	uint64_t reg[11] = { 0 };
	uint32_t type_bits = type == AGENT_DEVICE_BLOCK ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
	const uint32_t ctx[3] = { type_bits | access << 16, major, minor };
	for (size_t pc = 0; pc < len; pc++) {
		const struct bpf_insn *i = &prog[pc];
		uint8_t cls = BPF_CLASS(i->code), op = BPF_OP(i->code);
		uint64_t src = BPF_SRC(i->code) == BPF_X ? reg[i->src_reg] : (uint64_t)(int64_t)i->imm;
		if (cls == BPF_LDX) {
			reg[i->dst_reg] = ctx[i->off / 4];
		} else if (cls == BPF_ALU) {
			uint32_t d = (uint32_t)reg[i->dst_reg], s = (uint32_t)src;
			reg[i->dst_reg] = op == BPF_AND ? d & s : op == BPF_RSH ? d >> s : s;
		} else if (cls == BPF_JMP32 && op == BPF_JNE) {
			if ((uint32_t)reg[i->dst_reg] != (uint32_t)src)
				pc += (size_t)i->off;
		} else if (cls == BPF_JMP && op == BPF_EXIT) {
			return reg[BPF_REG_0] != 0;
		}
	}
	return false;
}

static struct agent_device_rule rule(bool allow, int type, int64_t major, int64_t minor, unsigned access)
{
	return (struct agent_device_rule){ .allow = allow, .type = type, .major = major, .minor = minor, .access = access };
}

static void test_device_filter(void)
{
	static struct agent_device_filter f;
	static struct bpf_insn prog[AGENT_DEVICE_PROGRAM_MAX];
	veil_err_t err = NULL;
	const unsigned R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
	/* runc's defaults after the spec's deny-all: mknod of anything, rw of null and the pts. */
	const struct agent_device_rule rules[] = {
		rule(false, AGENT_DEVICE_ALL, -1, -1, R | W | M),	 rule(true, AGENT_DEVICE_CHAR, -1, -1, M),
		rule(true, AGENT_DEVICE_BLOCK, -1, -1, M),	 rule(true, AGENT_DEVICE_CHAR, 1, 3, R | W | M),
		rule(true, AGENT_DEVICE_CHAR, 136, -1, R | W | M), rule(true, AGENT_DEVICE_CHAR, 10, 229, R | W),
	};
	agent_device_filter_init(&f);
	bool applied = true;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		applied = applied && agent_device_filter_apply(&f, &rules[i], &err) == 0;
	size_t len = agent_device_filter_emit(&f, prog, AGENT_DEVICE_PROGRAM_MAX);
	CHECK(applied && len > 0 && !f.default_allow && f.n == 5, "runc's default rules reduce to deny-all with 5 exceptions");
	CHECK(run(prog, len, AGENT_DEVICE_CHAR, R | W, 1, 3), "c 1:3 rw (/dev/null) allowed");
	CHECK(!run(prog, len, AGENT_DEVICE_CHAR, R, 1, 5), "c 1:5 r (/dev/zero, not listed) denied");
	CHECK(run(prog, len, AGENT_DEVICE_CHAR, W, 136, 7), "c 136:7 w (a pty) allowed by the wildcard minor");
	CHECK(run(prog, len, AGENT_DEVICE_BLOCK, M, 8, 0), "b 8:0 m allowed (mknod of anything)");
	CHECK(!run(prog, len, AGENT_DEVICE_BLOCK, R, 8, 0), "b 8:0 r denied");
	CHECK(run(prog, len, AGENT_DEVICE_CHAR, R, 10, 229) && !run(prog, len, AGENT_DEVICE_CHAR, R | M, 10, 229),
	      "c 10:229 with rw: r allowed, r+m denied (all of the access must be granted)");

	struct agent_device_rule deny = rule(false, AGENT_DEVICE_CHAR, 1, 3, W);
	CHECK(agent_device_filter_apply(&f, &deny, &err) == 0, "a later deny takes w from c 1:3");
	len = agent_device_filter_emit(&f, prog, AGENT_DEVICE_PROGRAM_MAX);
	CHECK(run(prog, len, AGENT_DEVICE_CHAR, R, 1, 3) && !run(prog, len, AGENT_DEVICE_CHAR, W, 1, 3),
	      "then c 1:3 is readable, not writable");
	struct agent_device_rule hole = rule(false, AGENT_DEVICE_CHAR, 136, 2, R);
	CHECK(agent_device_filter_apply(&f, &hole, &err) < 0 && err != NULL && strstr(err->msg, "hole") != NULL,
	      "a hole in a wildcard exception is refused, as runc does: %s", err ? err->msg : "");
	veil_error_free(&err);

	struct agent_device_rule allow_all = rule(true, AGENT_DEVICE_ALL, -1, -1, R | W | M);
	agent_device_filter_apply(&f, &allow_all, &err);
	CHECK(agent_device_filter_allows_all(&f), "a final allow-all rule leaves nothing to enforce");
	struct agent_device_rule deny_one = rule(false, AGENT_DEVICE_BLOCK, 254, 0, W);
	agent_device_filter_apply(&f, &deny_one, &err);
	len = agent_device_filter_emit(&f, prog, AGENT_DEVICE_PROGRAM_MAX);
	CHECK(!run(prog, len, AGENT_DEVICE_BLOCK, W, 254, 0) && run(prog, len, AGENT_DEVICE_BLOCK, R, 254, 0) &&
		      run(prog, len, AGENT_DEVICE_CHAR, W, 1, 3),
	      "in allow-all mode a deny rule is the one exception");
	struct agent_device_rule big = rule(true, AGENT_DEVICE_CHAR, 4000000000LL, 4000000001LL, R);
	agent_device_filter_init(&f);
	agent_device_filter_apply(&f, &big, &err);
	len = agent_device_filter_emit(&f, prog, AGENT_DEVICE_PROGRAM_MAX);
	CHECK(run(prog, len, AGENT_DEVICE_CHAR, R, 4000000000u, 4000000001u) && !run(prog, len, AGENT_DEVICE_CHAR, R, 0, 1),
	      "device numbers above 2^31 compare as 32-bit unsigned");
	agent_device_filter_init(&f);
	bool filled = true;
	for (int i = 0; i < AGENT_DEVICE_EXCEPTIONS_MAX; i++) {
		struct agent_device_rule r = rule(true, AGENT_DEVICE_CHAR, i, 1, R);
		filled = filled && agent_device_filter_apply(&f, &r, &err) == 0;
	}
	struct agent_device_rule one_more = rule(true, AGENT_DEVICE_CHAR, 9999, 1, R);
	CHECK(filled && agent_device_filter_apply(&f, &one_more, &err) < 0, "exceptions are bounded at %d",
	      AGENT_DEVICE_EXCEPTIONS_MAX);
	veil_error_free(&err);
	CHECK(agent_device_filter_emit(&f, prog, AGENT_DEVICE_PROGRAM_MAX) > 0, "the largest program fits its buffer");
	CHECK(agent_device_filter_emit(&f, prog, 100) == 0, "a program that does not fit is not written");
}

/* ---- seccomp ---- */

static void test_seccomp_compile(void)
{
	Veil__Agent__V1__Seccomp s = VEIL__AGENT__V1__SECCOMP__INIT;
	Veil__Agent__V1__SeccompRule allow = VEIL__AGENT__V1__SECCOMP_RULE__INIT, deny = VEIL__AGENT__V1__SECCOMP_RULE__INIT;
	Veil__Agent__V1__SeccompRule *rules[2] = { &allow, &deny };
	Veil__Agent__V1__SeccompArg a1 = VEIL__AGENT__V1__SECCOMP_ARG__INIT, a2 = VEIL__AGENT__V1__SECCOMP_ARG__INIT;
	Veil__Agent__V1__SeccompArg *args[2] = { &a1, &a2 };
	char *allowed[3] = { "read", "write", "no_such_syscall_anywhere" }, *denied[1] = { "personality" };
	s.default_action = VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ERRNO;
	s.syscalls = rules;
	s.n_syscalls = 2;
	allow.names = allowed;
	allow.n_names = 3;
	allow.action = VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ALLOW;
	deny.names = denied;
	deny.n_names = 1;
	deny.action = VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ALLOW;
	deny.args = args;
	deny.n_args = 2;
	/* personality(0) or personality(8): the same argument twice, a rule each. */
	a1.op = a2.op = VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_EQ;
	a2.value = 8;
	veil_err_t err = NULL;
	struct agent_seccomp *f = agent_seccomp_compile(&s, 0, &err);
	CHECK(f != NULL && agent_seccomp_length(f) > 4, "a profile with an unknown syscall compiles, the unknown one skipped (%zu instructions)",
	      f ? agent_seccomp_length(f) : 0);
	agent_seccomp_free(f);
	/* A rule equal to the default changes nothing; libseccomp would refuse it. */
	allow.action = VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ERRNO;
	f = agent_seccomp_compile(&s, 0, &err);
	CHECK(f != NULL, "a rule repeating the default action is skipped, not refused");
	agent_seccomp_free(f);
	Veil__Agent__V1__SeccompArch archs[3] = { VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86_64,
						  VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86,
						  VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_AARCH64 };
	s.architectures = archs;
	s.n_architectures = 3;
	s.flag_log = true;
	f = agent_seccomp_compile(&s, 0, &err);
	CHECK(f != NULL, "x86_64 (native), x86 and aarch64 in one filter compile");
	agent_seccomp_free(f);
	veil_error_free(&err);
}

/* podman's and docker's profiles name x86_64, x86 and x32: in a kernel that
 * runs neither of the latter two, the filter is x86_64's alone. */
static void test_seccomp_absent_archs(void)
{
	Veil__Agent__V1__Seccomp s = VEIL__AGENT__V1__SECCOMP__INIT;
	Veil__Agent__V1__SeccompRule allow = VEIL__AGENT__V1__SECCOMP_RULE__INIT;
	Veil__Agent__V1__SeccompRule *rules[1] = { &allow };
	char *names[3] = { "read", "write", "socketcall" };
	seccomp_profile(&s, VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ERRNO, rules,
			VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ALLOW, names, 3);
	Veil__Agent__V1__SeccompArch archs[3] = { VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86_64,
						  VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86,
						  VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X32 };
	s.architectures = archs;
	veil_err_t err = NULL;
	s.n_architectures = 1;
	struct agent_seccomp *native = agent_seccomp_compile(&s, 0, &err);
	s.n_architectures = 3;
	struct agent_seccomp *all = agent_seccomp_compile(&s, 0, &err);
	const uint32_t compat = AGENT_SECCOMP_ARCH_BIT(VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86) |
				AGENT_SECCOMP_ARCH_BIT(VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X32);
	struct agent_seccomp *trimmed = agent_seccomp_compile(&s, compat, &err);
	CHECK(native != NULL && all != NULL && trimmed != NULL, "the profile compiles with and without x86 and x32");
	if (native != NULL && all != NULL && trimmed != NULL) {
		CHECK(agent_seccomp_length(all) > agent_seccomp_length(native),
		      "x86 and x32 kept: %zu instructions, x86_64's alone %zu", agent_seccomp_length(all),
		      agent_seccomp_length(native));
		CHECK(agent_seccomp_length(trimmed) < agent_seccomp_length(all) &&
			      agent_seccomp_length(trimmed) <= agent_seccomp_length(native) + 2,
		      "x86 and x32 left out: %zu instructions, about x86_64's alone", agent_seccomp_length(trimmed));
	}
	agent_seccomp_free(native);
	agent_seccomp_free(all);
	agent_seccomp_free(trimmed);
	veil_error_free(&err);
}

/* ---- passwd ---- */

static void test_passwd(void)
{
	const char text[] = "root:x:0:0:root:/root:/bin/sh\n"
			    "broken line\n"
			    "app:x:1000:1000::/home/app:/bin/sh\n"
			    "nohome:x:1001:1001::\n"
			    "x:x:abc:0::/bad:/bin/sh\n"
			    "last:x:2000:2000::/srv/last:/bin/false";
	char home[64] = "unchanged";
	CHECK(agent_passwd_home(text, strlen(text), 1000, home, sizeof(home)) == 0 && strcmp(home, "/home/app") == 0,
	      "uid 1000's home is /home/app");
	CHECK(agent_passwd_home(text, strlen(text), 2000, home, sizeof(home)) == 0 && strcmp(home, "/srv/last") == 0,
	      "the last line needs no newline");
	strcpy(home, "unchanged");
	CHECK(agent_passwd_home(text, strlen(text), 4242, home, sizeof(home)) < 0 && strcmp(home, "unchanged") == 0,
	      "an unknown uid leaves home alone");
	CHECK(agent_passwd_home(text, strlen(text), 1001, home, sizeof(home)) == 0 && strcmp(home, "") == 0,
	      "an empty home field is empty");
	char tiny[4];
	CHECK(agent_passwd_home(text, strlen(text), 1000, tiny, sizeof(tiny)) < 0, "a home longer than the buffer is not cut");
}

int main(void)
{
	test_seccomp_validation();
	test_sysctl_validation();
	test_device_validation();
	test_user_and_time_validation();
	test_other_linux_fields();
	test_resources_validation();
	test_file_mounts_validation();
	test_process_security();
	test_conversions();
	test_device_filter();
	test_seccomp_compile();
	test_seccomp_absent_archs();
	test_passwd();
	return tap_done();
}
