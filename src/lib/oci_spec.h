/* An OCI bundle's config.json, parsed and validated into plain C data.
 * Only what veil acts on is kept; unknown fields are ignored as runc does, so
 * newer specs still load. Validation errors are one line naming the field. */
#ifndef VEIL_OCI_SPEC_H
#define VEIL_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/error.h"
#include "lib/oci_names.h"

/* The runtime-spec version that oci_spec_default_json() declares. */
#define OCI_SPEC_VERSION "1.2.0"
/* config.json is read whole into memory, so an absurd one must not be. */
#define OCI_SPEC_MAX_SIZE ((size_t)4 << 20)

struct oci_rlimit {
	char *type;    /* "RLIMIT_NOFILE" etc., one of getrlimit(2)'s */
	uint64_t hard;
	uint64_t soft;
};

struct oci_mount {
	char *destination;  /* absolute, inside the container */
	char *type;         /* NULL if absent */
	char *source;       /* NULL if absent */
	char **options;
	size_t n_options;
};

struct oci_hook {
	char *path;    /* absolute, on the host */
	char **args;
	size_t n_args;
	char **env;
	size_t n_env;
	int timeout;   /* seconds; 0 = none */
};

/* The five sets as bit masks (bit N: capability N, see oci_names.h). */
struct oci_capabilities {
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct oci_process {
	bool terminal;
	uint32_t console_height, console_width;
	uint32_t uid, gid;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	bool has_umask;
	uint32_t umask;
	char **args;   /* at least one */
	size_t n_args;
	char **env;    /* each "NAME=VALUE" */
	size_t n_env;
	char *cwd;     /* absolute */
	struct oci_rlimit *rlimits;  /* no type twice */
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_capabilities;       /* absent: the process keeps every capability, as with runc */
	struct oci_capabilities capabilities;
	char **unknown_capabilities; /* names no set could take, which runc ignores with a warning */
	size_t n_unknown_capabilities;
	bool has_oom_score_adj;
	int oom_score_adj;           /* -1000..1000 */
};

/* linux.seccomp. Actions, operators and architectures are numbered as in
 * oci_names.h's tables (from 1), which are the agent protocol's numbers. */
struct oci_seccomp_arg {
	uint32_t index;  /* 0..5 */
	uint64_t value, value_two;
	int op;
};

struct oci_seccomp_rule {
	char **names;
	size_t n_names;
	int action;
	bool has_errno_ret;
	uint32_t errno_ret;
	struct oci_seccomp_arg *args;
	size_t n_args;
};

struct oci_seccomp {
	int default_action;
	bool has_default_errno_ret;
	uint32_t default_errno_ret;
	int *archs;
	size_t n_archs;
	bool flag_log;
	bool flag_spec_allow;  /* also when flags are absent, as runc defaults */
	struct oci_seccomp_rule *rules;
	size_t n_rules;
};

struct oci_kv {
	char *key;
	char *value;
};

/* linux.devices: a node to make. */
struct oci_device {
	char *path;
	char type;  /* 'c' ('u' is read as 'c'), 'b' or 'p' */
	int64_t major, minor;
	uint32_t file_mode;  /* permission bits; 0666 if absent, as runc */
	uint32_t uid, gid;
};

/* linux.resources.devices: one rule of the device cgroup. */
struct oci_device_rule {
	bool allow;
	char type;  /* 'a' (absent), 'c' or 'b' */
	int64_t major, minor;  /* -1: absent, any */
	char *access;  /* non-empty subset of "rwm" */
};

struct oci_id_mapping {
	uint32_t container_id, host_id, size;
};

struct oci_hugepage_limit {
	char *page_size;  /* "2MB" */
	uint64_t limit;
};

/* linux.resources: 0 is unset; -1 unlimited where the spec allows it. */
struct oci_resources {
	int64_t memory_limit, memory_reservation, memory_swap;
	uint64_t cpu_shares;
	int64_t cpu_quota;
	uint64_t cpu_period;
	bool has_cpu_idle;
	int64_t cpu_idle;
	bool has_cpu_burst;
	uint64_t cpu_burst;
	char *cpuset_cpus, *cpuset_mems;  /* NULL if absent */
	int64_t pids_limit;
	uint16_t blkio_weight;
	/* blockIO's per-device entries: they name host devices, which the guest
	 * does not have; counted, so that the caller can warn. */
	size_t n_blkio_devices;
	struct oci_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;
	struct oci_kv *unified;
	size_t n_unified;
	struct oci_device_rule *devices;
	size_t n_devices;
};

struct oci_time_offsets {
	int64_t monotonic_secs;
	uint32_t monotonic_nanosecs;
	int64_t boottime_secs;
	uint32_t boottime_nanosecs;
};

struct oci_spec {
	char *oci_version;
	char *root_path;   /* root.path as written (relative to the bundle or absolute) */
	bool root_readonly;
	char *hostname;    /* NULL if absent */
	struct oci_process *process;  /* NULL if absent */
	struct oci_mount *mounts;
	size_t n_mounts;
	char **namespaces;  /* linux.namespaces[].type, e.g. "pid"; no type twice */
	size_t n_namespaces;
	char **namespace_paths;  /* [i]: namespaces[i]'s path (absolute), or NULL */
	char *netns_path;   /* the network entry's path (an existing netns to use); NULL if none */
	char **masked_paths;
	size_t n_masked_paths;
	char **readonly_paths;
	size_t n_readonly_paths;
	struct oci_resources resources;
	struct oci_seccomp *seccomp;  /* NULL: no filter (absent, or neither default action nor syscalls) */
	struct oci_kv *sysctls;  /* keys in the dotted form */
	size_t n_sysctls;
	struct oci_device *devices;
	size_t n_devices;
	struct oci_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	bool has_time_offsets;
	struct oci_time_offsets time_offsets;
	char *rootfs_propagation;  /* NULL if absent */
	char *domainname;          /* NULL if absent */
	char *cgroups_path;        /* linux.cgroupsPath; NULL if absent */
	struct oci_hook *hooks_prestart, *hooks_create_runtime, *hooks_create_container, *hooks_start_container,
		*hooks_poststart, *hooks_poststop;
	size_t n_prestart, n_create_runtime, n_create_container, n_start_container, n_poststart, n_poststop;
	json_object *annotations;   /* string values only; may be NULL; owned */
};

/* Parses LEN bytes of JSON (no terminating NUL needed). On failure *spec is
 * left empty, so oci_spec_free() on it is harmless either way. */
int oci_spec_parse(const char *json_text, size_t len, struct oci_spec *spec, veil_err_t *err);
/* Reads BUNDLE/config.json (bounded to OCI_SPEC_MAX_SIZE), parses it and
 * checks that the rootfs directory exists (resolved against the bundle if
 * relative). */
int oci_spec_load_bundle(const char *bundle_dir, struct oci_spec *spec, veil_err_t *err);
/* Absolute, lexically cleaned rootfs path for a bundle, malloc'd; NULL if
 * out of memory, the working directory is unknown or spec has no root. */
char *oci_spec_rootfs_path(const struct oci_spec *spec, const char *bundle_dir);
void oci_spec_free(struct oci_spec *spec);
/* Parses a standalone process object (runc exec --process FILE); error
 * messages name fields as "process.args" etc. */
int oci_process_parse(const char *json_text, size_t len, struct oci_process **out, veil_err_t *err);
/* The same from a JSON value already parsed (doc is borrowed). */
int oci_process_from_json(json_object *doc, struct oci_process **out, veil_err_t *err);
void oci_process_free(struct oci_process *p);
/* What `veil spec` writes: runc's default config.json with hostname "veil".
 * A malloc'd, tab-indented JSON string without a final newline; NULL if
 * out of memory. */
char *oci_spec_default_json(void);

#endif
