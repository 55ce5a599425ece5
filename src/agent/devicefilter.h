/* Device rules (linux.resources.devices) for cgroup v2, which enforces them
 * with a BPF_PROG_TYPE_CGROUP_DEVICE program rather than devices.allow: the
 * rules are first reduced with cgroup v1's semantics (later rules override,
 * "a" resets to allow-all or deny-all), as runc's emulator does, then each
 * remaining exception becomes one block of the program, as runc's
 * devicefilter emits it. Pure: no syscalls. */
#ifndef VEIL_AGENT_DEVICEFILTER_H
#define VEIL_AGENT_DEVICEFILTER_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

/* Device types, as Veil__Agent__V1__DeviceType numbers them. */
enum { AGENT_DEVICE_ALL = 0, AGENT_DEVICE_CHAR = 1, AGENT_DEVICE_BLOCK = 2 };
#define AGENT_DEVICE_RWM (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)
#define AGENT_DEVICE_EXCEPTIONS_MAX 256
/* Room for the program of the most exceptions: 6 to load the context, at
 * most 9 a block, 2 for the default. */
#define AGENT_DEVICE_PROGRAM_MAX (6 + 9 * AGENT_DEVICE_EXCEPTIONS_MAX + 2)

struct agent_device_rule {
	bool allow;
	int type;
	int64_t major, minor; /* -1: any */
	unsigned access;      /* BPF_DEVCG_ACC_* */
};

/* The emulated devices cgroup: a default, and the exceptions to it. */
struct agent_device_exception {
	int type;
	int64_t major, minor;
	unsigned access;
};

struct agent_device_filter {
	bool default_allow;
	size_t n;
	struct agent_device_exception exceptions[AGENT_DEVICE_EXCEPTIONS_MAX];
};

/* Deny everything: where runc's emulator starts. */
void agent_device_filter_init(struct agent_device_filter *f);
/* Applies one rule as cgroup v1 would; -1 for a rule v1 would silently
 * ignore (taking part of a wildcard exception), or too many exceptions. */
int agent_device_filter_apply(struct agent_device_filter *f, const struct agent_device_rule *r, veil_err_t *err);
/* Nothing to enforce: no program is needed. */
bool agent_device_filter_allows_all(const struct agent_device_filter *f);
/* Writes the program into out (cap instructions); its length, or 0 if it does not fit. */
size_t agent_device_filter_emit(const struct agent_device_filter *f, struct bpf_insn *out, size_t cap);

#endif
