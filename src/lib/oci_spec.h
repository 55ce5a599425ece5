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
	char *netns_path;   /* the network entry's path (an existing netns to use); NULL if none */
	char **masked_paths;
	size_t n_masked_paths;
	char **readonly_paths;
	size_t n_readonly_paths;
	/* linux.resources; 0 = unset */
	int64_t memory_limit;
	int64_t cpu_quota;
	uint64_t cpu_period;
	int64_t pids_limit;
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
