/* Bounds of the runtime spec's linux section that host and guest share: the
 * agent refuses a request past them, so the host refuses config.json past
 * them first, with the field's name in its error. */
#ifndef VEIL_PROTO_LIMITS_H
#define VEIL_PROTO_LIMITS_H

/* linux.seccomp: Docker's default profile has 30-odd rules naming about 400
 * syscalls, with at most 3 conditions a rule. */
#define VEIL_MAX_SECCOMP_RULES 1024
#define VEIL_MAX_SECCOMP_NAMES 4096
#define VEIL_MAX_SECCOMP_ARGS 16
#define VEIL_MAX_SECCOMP_ARCHS 20
#define VEIL_MAX_SYSCALL_NAME 64
#define VEIL_MAX_SYSCTLS 128
#define VEIL_MAX_DEVICES 128
#define VEIL_MAX_DEVICE_RULES 256
#define VEIL_MAX_HUGEPAGE_LIMITS 8
#define VEIL_MAX_UNIFIED 64
/* What the kernel takes in a uid_map since Linux 4.15. */
#define VEIL_MAX_ID_MAP_LINES 340
/* Host files copied in (/etc/hosts, /etc/resolv.conf, ...): each, and all of a container's. */
#define VEIL_MAX_FILE_BYTES (64u << 10)
#define VEIL_MAX_FILES_BYTES (256u << 10)

#endif
