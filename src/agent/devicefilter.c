#include "agent/devicefilter.h"

#include <stdio.h>
#include <string.h>

/* ---- the cgroup v1 semantics, emulated as runc does ---- */

static bool same_node(const struct agent_device_exception *e, const struct agent_device_rule *r)
{
	return e->type == r->type && e->major == r->major && e->minor == r->minor;
}

static struct agent_device_exception *find(struct agent_device_filter *f, int type, int64_t major, int64_t minor)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->exceptions[i].type == type && f->exceptions[i].major == major && f->exceptions[i].minor == minor)
			return &f->exceptions[i];
	return NULL;
}

static int add_exception(struct agent_device_filter *f, const struct agent_device_rule *r, veil_err_t *err)
{
	for (size_t i = 0; i < f->n; i++) {
		if (same_node(&f->exceptions[i], r)) {
			f->exceptions[i].access |= r->access;
			return 0;
		}
	}
	if (f->n == AGENT_DEVICE_EXCEPTIONS_MAX)
		return veil_fail(err, 0, "more than %d device rules", AGENT_DEVICE_EXCEPTIONS_MAX);
	f->exceptions[f->n++] = (struct agent_device_exception){ .type = r->type, .major = r->major, .minor = r->minor,
								 .access = r->access };
	return 0;
}

/* "c 1:*", as devices.list writes a rule. */
static void describe(char *out, size_t size, int type, int64_t major, int64_t minor)
{
	char ma[24] = "*", mi[24] = "*";
	if (major >= 0)
		snprintf(ma, sizeof(ma), "%lld", (long long)major);
	if (minor >= 0)
		snprintf(mi, sizeof(mi), "%lld", (long long)minor);
	snprintf(out, size, "%c %s:%s", type == AGENT_DEVICE_BLOCK ? 'b' : 'c', ma, mi);
}

/* cgroup v1 would silently ignore a rule that takes part of what a wildcard
 * exception grants (a hole in "c 1:* rw"); runc refuses it rather than let
 * the container believe it holds, and so does this. */
static int remove_exception(struct agent_device_filter *f, const struct agent_device_rule *r, veil_err_t *err)
{
	const int64_t partial[3][2] = { { -1, r->minor }, { r->major, -1 }, { -1, -1 } };
	for (int i = 0; i < 3; i++) {
		if (partial[i][0] == r->major && partial[i][1] == r->minor)
			continue;
		const struct agent_device_exception *w = find(f, r->type, partial[i][0], partial[i][1]);
		if (w != NULL && (w->access & r->access) != 0) {
			char rule[64], wildcard[64];
			describe(rule, sizeof(rule), r->type, r->major, r->minor);
			describe(wildcard, sizeof(wildcard), w->type, w->major, w->minor);
			return veil_fail(err, 0, "device rule %s cannot punch a hole in the wildcard rule %s", rule, wildcard);
		}
	}
	struct agent_device_exception *e = find(f, r->type, r->major, r->minor);
	if (e == NULL)
		return 0;
	e->access &= ~r->access;
	if (e->access == 0)
		*e = f->exceptions[--f->n];
	return 0;
}

void agent_device_filter_init(struct agent_device_filter *f)
{
	/* A fresh emulator denies everything, as runc's does. */
	f->default_allow = false;
	f->n = 0;
}

int agent_device_filter_apply(struct agent_device_filter *f, const struct agent_device_rule *r, veil_err_t *err)
{
	/* "a" resets the list: allow-all or deny-all. */
	if (r->type == AGENT_DEVICE_ALL) {
		f->default_allow = r->allow;
		f->n = 0;
		return 0;
	}
	return r->allow == f->default_allow ? remove_exception(f, r, err) : add_exception(f, r, err);
}

bool agent_device_filter_allows_all(const struct agent_device_filter *f)
{
	return f->default_allow && f->n == 0;
}

/* ---- the BPF_PROG_TYPE_CGROUP_DEVICE program ---- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

/* Instructions one exception takes: the type check, optionally three for
 * the access, one each for a major and a minor, and the verdict. */
static size_t block_length(const struct agent_device_exception *e)
{
	return 1 + (e->access != AGENT_DEVICE_RWM ? 3 : 0) + (e->major >= 0) + (e->minor >= 0) + 2;
}

size_t agent_device_filter_emit(const struct agent_device_filter *f, struct bpf_insn *out, size_t cap)
{
	size_t need = 4 + 2;
	for (size_t i = 0; i < f->n; i++)
		need += block_length(&f->exceptions[i]);
	if (need > cap)
		return 0;
	size_t n = 0;
	/* struct bpf_cgroup_dev_ctx: u32 access_type (type in the low 16 bits,
	 * access in the high 16), u32 major, u32 minor. R1 points at it. */
	out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
	out[n++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
	out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
	out[n++] = insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
	out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
	out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
	/* Every exception has the verdict the default does not. Each block jumps
	 * to the next on a mismatch; the jump offset counts the instructions left
	 * in the block after the jump. */
	for (size_t i = 0; i < f->n; i++) {
		const struct agent_device_exception *e = &f->exceptions[i];
		size_t end = n + block_length(e);
#define SKIP_TO_END() ((int16_t)(end - n - 1))
		int32_t type = e->type == AGENT_DEVICE_BLOCK ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
		out[n] = insn(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, SKIP_TO_END(), type), n++;
		if (e->access != AGENT_DEVICE_RWM) {
			/* Every access asked for must be among the exception's. */
			out[n++] = insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
			out[n++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)e->access);
			out[n] = insn(BPF_JMP32 | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, SKIP_TO_END(), 0), n++;
		}
		if (e->major >= 0)
			out[n] = insn(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, SKIP_TO_END(), (int32_t)(uint32_t)e->major), n++;
		if (e->minor >= 0)
			out[n] = insn(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, SKIP_TO_END(), (int32_t)(uint32_t)e->minor), n++;
#undef SKIP_TO_END
		out[n++] = insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, !f->default_allow);
		out[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	out[n++] = insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, f->default_allow);
	out[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}
