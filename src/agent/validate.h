/* Pure checks of every field the host sends, and the pure translations of
 * request fields (mount options, namespace and rlimit names) that the rest of
 * the agent uses, so that nothing reaches a syscall unchecked. */
#ifndef VEIL_AGENT_VALIDATE_H
#define VEIL_AGENT_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "proto/limits.h"
#include "proto/rpc.h"

#define AGENT_ID_MAX 64
#define AGENT_SERIAL_MAX 20
#define AGENT_HOSTNAME_MAX 64
#define AGENT_MAX_CONTAINERS 16
#define AGENT_MAX_PROCESSES 64
#define AGENT_MAX_ARGS 4096
#define AGENT_MAX_ENV 4096
#define AGENT_MAX_STRING (64u << 10)
#define AGENT_MAX_ARGV_BYTES (1u << 20)
#define AGENT_MAX_MOUNTS 64
#define AGENT_MAX_MOUNT_OPTIONS 64
#define AGENT_MAX_PATHS 128
#define AGENT_MAX_RLIMITS 32
#define AGENT_MAX_GIDS 64
#define AGENT_ENTROPY_MIN 32
#define AGENT_ENTROPY_MAX 512
#define AGENT_MAX_ADDRESSES 16
#define AGENT_MAX_SECRETS 64
/* Scrub's padding: twice the 1 MiB that overwrites the receive buffers of a virtio-pci port. */
#define AGENT_SCRUB_PADDING_MAX (2u << 20)
/* mount(2) reads at most one page of data options. */
#define AGENT_MOUNT_DATA_MAX 4096
/* The linux section's bounds, which the host shares. */
#define AGENT_MAX_SECCOMP_RULES VEIL_MAX_SECCOMP_RULES
#define AGENT_MAX_SECCOMP_NAMES VEIL_MAX_SECCOMP_NAMES
#define AGENT_MAX_SECCOMP_ARGS VEIL_MAX_SECCOMP_ARGS
#define AGENT_MAX_SECCOMP_ARCHS VEIL_MAX_SECCOMP_ARCHS
#define AGENT_MAX_SYSCALL_NAME VEIL_MAX_SYSCALL_NAME
#define AGENT_MAX_SYSCTLS VEIL_MAX_SYSCTLS
#define AGENT_MAX_DEVICES VEIL_MAX_DEVICES
#define AGENT_MAX_DEVICE_RULES VEIL_MAX_DEVICE_RULES
#define AGENT_MAX_HUGEPAGE_LIMITS VEIL_MAX_HUGEPAGE_LIMITS
#define AGENT_MAX_UNIFIED VEIL_MAX_UNIFIED
#define AGENT_MAX_FILE_BYTES VEIL_MAX_FILE_BYTES
#define AGENT_MAX_FILES_BYTES VEIL_MAX_FILES_BYTES
#define AGENT_MAX_JOINED 8

/* Checks the decoded request of method m. Returns 0, or -1 with *code set to
 * the gRPC code to answer with and *err to a one-line reason. */
int agent_validate_request(int method, const ProtobufCMessage *msg, int *code, veil_err_t *err);

/* what = "container_id", "exec_id": [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
int agent_validate_id(const char *what, const char *id, veil_err_t *err);

/* Mount.options -> mount(2) flags and a comma-separated data string (data_size
 * >= AGENT_MOUNT_DATA_MAX). Rejects options outside the allow-list. */
int agent_mount_options(const Veil__Agent__V1__Mount *m, unsigned long *flags, char *data, size_t data_size,
			veil_err_t *err);

/* An absolute path without ".." components, shorter than PATH_MAX; what names it in messages. */
int agent_validate_path(const char *what, const char *path, veil_err_t *err);

/* A host or domain name: at most 64 printable characters, no spaces. */
int agent_validate_hostname(const char *what, const char *name, veil_err_t *err);

/* CreateContainerRequest.namespaces -> CLONE_NEW* flags. */
int agent_namespace_flags(char *const *names, size_t n, int *flags, int *code, veil_err_t *err);

/* "aa:bb:cc:dd:ee:ff" (either case) -> 6 bytes; unicast only. 0 or -1. */
int agent_parse_mac(const char *s, uint8_t mac[6]);

/* Strict dotted quad "a.b.c.d" (no leading zeros, no spaces) -> address in
 * network byte order. 0 or -1. */
int agent_parse_ipv4(const char *s, uint32_t *addr);

/* "a.b.c.d/len" with len 1..32 -> address (network order) and prefix length. */
int agent_parse_ipv4_cidr(const char *s, uint32_t *addr, unsigned *prefix);

/* A Linux interface name: 1..15 bytes of [A-Za-z0-9_.-], not "." or "..". */
int agent_validate_ifname(const char *name, veil_err_t *err);

/* "RLIMIT_NOFILE" -> RLIMIT_NOFILE, or -1 if the name is unknown. */
int agent_rlimit_resource(const char *name);

/* ---- validate_linux.c: the runtime spec's linux section and process security ---- */

/* Everything CreateContainerRequest carries beyond mounts and namespaces;
 * ns: its CLONE_NEW* flags. */
int agent_validate_linux(const Veil__Agent__V1__CreateContainerRequest *r, int ns, veil_err_t *err);
int agent_validate_resources(const Veil__Agent__V1__Resources *r, veil_err_t *err);
/* The "file" mounts among mounts: content, mode and owner within bounds. */
int agent_validate_file_mounts(Veil__Agent__V1__Mount *const *mounts, size_t n, veil_err_t *err);
int agent_validate_process_security(const Veil__Agent__V1__Process *p, veil_err_t *err);
int agent_validate_syscall_name(const char *name, veil_err_t *err);
/* "net.ipv4.ip_forward" -> "net/ipv4/ip_forward" below /proc/sys (a slash in
 * the name stands for a dot in a component); -1 if the name is not one. */
int agent_sysctl_path(const char *key, char *path, size_t size);
/* "rwm" -> BPF_DEVCG_ACC_* bits; -1 unless a non-empty subset of "rwm". */
int agent_device_access(const char *access, unsigned *mask);
/* "rshared" -> MS_SHARED | MS_REC; "" -> 0; -1 if unknown. */
int agent_propagation_flags(const char *name, unsigned long *flags);
/* A cgroup v2 file the host may set through linux.resources.unified. */
int agent_validate_unified_key(const char *key, veil_err_t *err);

#endif
