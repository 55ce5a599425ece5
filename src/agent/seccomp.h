/* linux.seccomp: compiled once per container with libseccomp, when the
 * container is created, into the classic BPF program that each of its
 * processes loads just before it execs. */
#ifndef VEIL_AGENT_SECCOMP_H
#define VEIL_AGENT_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "agent/validate.h"
#include "lib/error.h"

struct agent_seccomp;

/* The bit of a Veil__Agent__V1__SeccompArch in a set of architectures. */
#define AGENT_SECCOMP_ARCH_BIT(arch) (UINT32_C(1) << (arch))

/* The architectures whose syscalls this kernel cannot take at all: on
 * x86_64, x86 without IA32 emulation and x32 without the x32 ABI (veil's
 * guest kernel has neither). Probed once. */
uint32_t agent_seccomp_absent_archs(void);
/* Compiles a validated Seccomp message as runc does (unknown syscalls are
 * skipped, a rule equal to the default action too), leaving out the
 * architectures in absent (a set of AGENT_SECCOMP_ARCH_BITs): a filter for
 * syscalls that cannot be made, which libseccomp builds for each
 * architecture anew, only costs time. NULL with *err if libseccomp refuses it. */
struct agent_seccomp *agent_seccomp_compile(const Veil__Agent__V1__Seccomp *s, uint32_t absent, veil_err_t *err);
/* Instructions in the program. */
size_t agent_seccomp_length(const struct agent_seccomp *f);
/* seccomp(SECCOMP_SET_MODE_FILTER) with the spec's flags: needs no_new_privs
 * or CAP_SYS_ADMIN. */
int agent_seccomp_load(const struct agent_seccomp *f, veil_err_t *err);
void agent_seccomp_free(struct agent_seccomp *f);

#endif
