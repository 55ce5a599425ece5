#include "agent/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/wipe.h"
#include "lib/cleanup.h"

/* Above this many rules libseccomp's binary tree beats its linear list (runc's choice). */
#define OPTIMIZE_ABOVE_RULES 32

struct agent_seccomp {
	unsigned flags; /* SECCOMP_FILTER_FLAG_* to load with */
	unsigned short len;
	struct sock_filter insns[];
};

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx != NULL)
		seccomp_release(*ctx);
}
#define cleanup_seccomp __attribute__((cleanup(release_ctx)))

/* runc's mapping: SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE return EPERM
 * unless errno_ret says otherwise. */
static uint32_t action_of(int action, bool has_errno, uint32_t errno_ret)
{
	uint16_t code = has_errno ? (uint16_t)errno_ret : EPERM;
	switch (action) {
	case VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_KILL_THREAD:
		return SCMP_ACT_KILL_THREAD;
	case VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_TRAP:
		return SCMP_ACT_TRAP;
	case VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_ERRNO:
		return SCMP_ACT_ERRNO(code);
	case VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_TRACE:
		return SCMP_ACT_TRACE(code);
	case VEIL__AGENT__V1__SECCOMP_ACTION__SECCOMP_ACTION_LOG:
		return SCMP_ACT_LOG;
	default:
		return SCMP_ACT_ALLOW;
	}
}

static uint32_t arch_of(int arch)
{
	static const uint32_t table[] = {
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86] = SCMP_ARCH_X86,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86_64] = SCMP_ARCH_X86_64,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X32] = SCMP_ARCH_X32,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_ARM] = SCMP_ARCH_ARM,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_AARCH64] = SCMP_ARCH_AARCH64,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_MIPS] = SCMP_ARCH_MIPS,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_MIPS64] = SCMP_ARCH_MIPS64,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_MIPS64N32] = SCMP_ARCH_MIPS64N32,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_MIPSEL] = SCMP_ARCH_MIPSEL,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_MIPSEL64] = SCMP_ARCH_MIPSEL64,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_MIPSEL64N32] = SCMP_ARCH_MIPSEL64N32,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_PPC] = SCMP_ARCH_PPC,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_PPC64] = SCMP_ARCH_PPC64,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_PPC64LE] = SCMP_ARCH_PPC64LE,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_S390] = SCMP_ARCH_S390,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_S390X] = SCMP_ARCH_S390X,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_PARISC] = SCMP_ARCH_PARISC,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_PARISC64] = SCMP_ARCH_PARISC64,
		[VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_RISCV64] = SCMP_ARCH_RISCV64,
	};
	return arch > 0 && (size_t)arch < sizeof(table) / sizeof(table[0]) ? table[arch] : 0;
}

static enum scmp_compare op_of(int op)
{
	switch (op) {
	case VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_NE:
		return SCMP_CMP_NE;
	case VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_LT:
		return SCMP_CMP_LT;
	case VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_LE:
		return SCMP_CMP_LE;
	case VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_EQ:
		return SCMP_CMP_EQ;
	case VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_GE:
		return SCMP_CMP_GE;
	case VEIL__AGENT__V1__SECCOMP_OPERATOR__SECCOMP_OP_GT:
		return SCMP_CMP_GT;
	default:
		return SCMP_CMP_MASKED_EQ;
	}
}

/* One rule for one syscall, as runc adds it: conditions on distinct arguments
 * go into one rule (all must hold); two on the same argument, which
 * libseccomp cannot combine, become a rule each (either may hold). */
static int add_rule(scmp_filter_ctx ctx, const char *name, int nr, uint32_t action,
		    const Veil__Agent__V1__SeccompRule *rule, veil_err_t *err)
{
	struct scmp_arg_cmp conds[AGENT_MAX_SECCOMP_ARGS];
	unsigned per_arg[6] = { 0 };
	bool repeated = false;
	for (size_t i = 0; i < rule->n_args; i++) {
		const Veil__Agent__V1__SeccompArg *a = rule->args[i];
		conds[i] = (struct scmp_arg_cmp){ .arg = a->index, .op = op_of(a->op), .datum_a = a->value,
						  .datum_b = a->value_two };
		repeated = repeated || ++per_arg[a->index] > 1;
	}
	int rc = 0;
	if (rule->n_args == 0 || !repeated)
		rc = seccomp_rule_add_array(ctx, action, nr, (unsigned)rule->n_args, conds);
	for (size_t i = 0; repeated && rc == 0 && i < rule->n_args; i++)
		rc = seccomp_rule_add_array(ctx, action, nr, 1, &conds[i]);
	if (rc < 0)
		return veil_fail(err, -rc, "seccomp rule for syscall %s", name);
	return 0;
}

/* The filter libseccomp generated, read back from a memfd. */
static struct agent_seccomp *export_program(scmp_filter_ctx ctx, veil_err_t *err)
{
	cleanup_close int fd = memfd_create("seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "memfd_create"), NULL;
	int rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return veil_fail(err, -rc, "exporting the seccomp filter"), NULL;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return veil_fail(err, 0, "the seccomp filter has %lld bytes, not 1..%d instructions", (long long)size,
				 BPF_MAXINSNS),
		       NULL;
	struct agent_seccomp *f = malloc(sizeof(*f) + (size_t)size);
	if (f == NULL)
		return veil_fail(err, ENOMEM, "seccomp filter"), NULL;
	f->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	if (pread(fd, f->insns, (size_t)size, 0) != size) {
		agent_wipe_free(f);
		return veil_fail(err, errno, "reading the seccomp filter"), NULL;
	}
	return f;
}

uint32_t agent_seccomp_absent_archs(void)
{
	static bool probed;
	static uint32_t absent;
	if (probed)
		return absent;
	probed = true;
#if defined(__x86_64__)
	/* The sysctl abi.vsyscall32 is registered only with IA32 emulation; without
	 * /proc to ask, x86 stays in. */
	if (access("/proc/self", F_OK) == 0 && access("/proc/sys/abi/vsyscall32", F_OK) < 0 && errno == ENOENT)
		absent |= AGENT_SECCOMP_ARCH_BIT(VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X86);
	if (syscall(__X32_SYSCALL_BIT | SYS_getpid) < 0 && errno == ENOSYS)
		absent |= AGENT_SECCOMP_ARCH_BIT(VEIL__AGENT__V1__SECCOMP_ARCH__SECCOMP_ARCH_X32);
#endif
	return absent;
}

struct agent_seccomp *agent_seccomp_compile(const Veil__Agent__V1__Seccomp *s, uint32_t absent, veil_err_t *err)
{
	uint32_t default_action = action_of(s->default_action, s->has_default_errno_ret, s->default_errno_ret);
	cleanup_seccomp scmp_filter_ctx ctx = seccomp_init(default_action);
	if (ctx == NULL)
		return veil_fail(err, 0, "seccomp: cannot create a filter with that default action"), NULL;
	/* The agent loads the filter itself; no_new_privs is the process's own setting. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc == 0 && s->n_syscalls > OPTIMIZE_ABOVE_RULES)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc < 0)
		return veil_fail(err, -rc, "seccomp filter attributes"), NULL;
	bool left_out = false;
	for (size_t i = 0; rc == 0 && i < s->n_architectures; i++) {
		if (absent & AGENT_SECCOMP_ARCH_BIT(s->architectures[i])) {
			left_out = true;
			continue;
		}
		rc = seccomp_arch_add(ctx, arch_of(s->architectures[i]));
		if (rc < 0 && rc != -EEXIST)
			return veil_fail(err, -rc, "seccomp architecture %d", s->architectures[i]), NULL;
		rc = 0;
	}
	/* A syscall of a left-out architecture (an x32 one: it reaches the filter
	 * as x86_64's) gets what the kernel would answer it, not libseccomp's kill. */
	if (left_out && seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS)) < 0)
		return veil_fail(err, 0, "seccomp filter attributes"), NULL;
	for (size_t i = 0; i < s->n_syscalls; i++) {
		const Veil__Agent__V1__SeccompRule *rule = s->syscalls[i];
		uint32_t action = action_of(rule->action, rule->has_errno_ret, rule->errno_ret);
		/* libseccomp refuses a rule that repeats the default: it changes nothing. */
		if (action == default_action)
			continue;
		for (size_t k = 0; k < rule->n_names; k++) {
			int nr = seccomp_syscall_resolve_name(rule->names[k]);
			/* As runc: a syscall this libseccomp does not know cannot be
			 * made in this guest either, so its rule is skipped. */
			if (nr == __NR_SCMP_ERROR)
				continue;
			if (add_rule(ctx, rule->names[k], nr, action, rule, err) < 0)
				return NULL;
		}
	}
	struct agent_seccomp *f = export_program(ctx, err);
	if (f != NULL)
		f->flags = (s->flag_log ? SECCOMP_FILTER_FLAG_LOG : 0) | (s->flag_spec_allow ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0);
	return f;
}

size_t agent_seccomp_length(const struct agent_seccomp *f)
{
	return f->len;
}

int agent_seccomp_load(const struct agent_seccomp *f, veil_err_t *err)
{
	struct sock_fprog prog = { .len = f->len, .filter = (struct sock_filter *)f->insns };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog) < 0)
		return veil_fail(err, errno, "loading the seccomp filter");
	return 0;
}

void agent_seccomp_free(struct agent_seccomp *f)
{
	agent_wipe_free(f);
}
