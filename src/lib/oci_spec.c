#include "lib/oci_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/json.h"
#include "proto/limits.h"

/* Bounds keep a hostile config.json from costing more than a few MiB of
 * memory or quadratic time; real ones stay far below them. */
#define MAX_ENTRIES 4096
#define MAX_MOUNTS 1024
#define MAX_STRING (64 * 1024)

/* A JSON value together with its path in config.json ("process.env[2]"),
 * so every error names the field it is about. */
struct jfield {
	json_object *v;  /* NULL when absent or JSON null: runc treats them alike */
	char name[128];
};

/* Names are for messages only, so a path too long for the buffer is cut. */
__attribute__((format(printf, 2, 3))) static void set_name(struct jfield *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->name, sizeof(f->name), fmt, ap);
	va_end(ap);
	/* Annotation keys come from the user; keep error messages on one line. */
	for (char *c = f->name; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

/* Member KEY of F. F need not be an object: callers check that first, and a
 * non-object simply has no members. */
static struct jfield member(struct jfield f, const char *key)
{
	struct jfield m = { .v = NULL };
	if (!json_object_object_get_ex(f.v, key, &m.v))
		m.v = NULL;
	if (f.name[0] == '\0')
		set_name(&m, "%s", key);
	else
		set_name(&m, "%s.%s", f.name, key);
	return m;
}

static struct jfield element(struct jfield array, size_t i)
{
	struct jfield e = { .v = json_object_array_get_idx(array.v, i) };
	set_name(&e, "%s[%zu]", array.name, i);
	return e;
}

__attribute__((format(printf, 3, 4))) static int fail_at(veil_err_t *err, const struct jfield *f, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return veil_fail(err, 0, "config.json: %s %s", f->name, why);
}

static int check_object(struct jfield f, bool required, veil_err_t *err)
{
	if (f.v == NULL)
		return required ? fail_at(err, &f, "is required") : 0;
	if (!json_object_is_type(f.v, json_type_object))
		return fail_at(err, &f, "must be an object");
	return 0;
}

static int parse_bool(struct jfield f, bool *out, veil_err_t *err)
{
	if (f.v == NULL)
		return 0;
	if (!json_object_is_type(f.v, json_type_boolean))
		return fail_at(err, &f, "must be a boolean");
	*out = json_object_get_boolean(f.v);
	return 0;
}

static int parse_uint(struct jfield f, uint64_t min, uint64_t max, bool required, uint64_t *out, veil_err_t *err)
{
	if (f.v == NULL)
		return required ? fail_at(err, &f, "is required") : 0;
	/* json-c keeps integers above INT64_MAX as uint64; get_int64 clamps them
	 * to INT64_MAX, so a negative result means a negative number. */
	if (json_object_is_type(f.v, json_type_int) && json_object_get_int64(f.v) >= 0) {
		uint64_t u = json_object_get_uint64(f.v);
		if (u >= min && u <= max) {
			*out = u;
			return 0;
		}
	}
	if (min == 0 && max == UINT64_MAX)
		return fail_at(err, &f, "must be a non-negative integer");
	return fail_at(err, &f, "must be an integer from %" PRIu64 " to %" PRIu64, min, max);
}

static int parse_u32(struct jfield f, uint32_t *out, veil_err_t *err)
{
	uint64_t v = *out;
	if (parse_uint(f, 0, UINT32_MAX, false, &v, err) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_int(struct jfield f, int64_t *out, veil_err_t *err)
{
	if (f.v == NULL)
		return 0;
	if (!json_object_is_type(f.v, json_type_int))
		return fail_at(err, &f, "must be an integer");
	int64_t i = json_object_get_int64(f.v);
	if (i == INT64_MAX && json_object_get_uint64(f.v) > INT64_MAX)
		return fail_at(err, &f, "must be at most %" PRId64, INT64_MAX);
	*out = i;
	return 0;
}

/* Returns why S is unacceptable, or NULL if it is fine. */
typedef const char *(*string_check)(const char *s);

/* The string F holds (borrowed from the JSON tree), or NULL with *err set. */
static const char *string_value(struct jfield f, string_check check, veil_err_t *err)
{
	if (!json_object_is_type(f.v, json_type_string)) {
		fail_at(err, &f, "must be a string");
		return NULL;
	}
	const char *s = json_object_get_string(f.v);
	size_t len = (size_t)json_object_get_string_len(f.v);
	const char *why = NULL;
	if (len > MAX_STRING)
		why = "is longer than 64 KiB";
	else if (strlen(s) != len)
		why = "must not contain NUL characters";  /* it would cut the string short */
	else if (check != NULL)
		why = check(s);
	if (why != NULL) {
		fail_at(err, &f, "%s", why);
		return NULL;
	}
	return s;
}

static int parse_string(struct jfield f, bool required, string_check check, char **out, veil_err_t *err)
{
	if (f.v == NULL)
		return required ? fail_at(err, &f, "is required") : 0;
	const char *s = string_value(f, check, err);
	if (s == NULL)
		return -1;
	*out = strdup(s);
	if (*out == NULL)
		return veil_fail(err, ENOMEM, "config.json: %s", f.name);
	return 0;
}

typedef int (*element_parser)(struct jfield e, void *out, const void *ctx, veil_err_t *err);

/* Parses array F into a calloc'd array of SIZE-byte elements. *n counts every
 * element that may own memory even when this fails midway, so the caller's
 * usual free releases a partial result. */
static int parse_array_of(struct jfield f, size_t max, size_t size, element_parser parse, const void *ctx,
			  void **items, size_t *n, veil_err_t *err)
{
	*items = NULL;
	*n = 0;
	if (f.v == NULL)
		return 0;
	if (!json_object_is_type(f.v, json_type_array))
		return fail_at(err, &f, "must be an array");
	size_t len = json_object_array_length(f.v);
	if (len > max)
		return fail_at(err, &f, "has more than %zu entries", max);
	if (len == 0)
		return 0;
	/* One zeroed element past the end, so that arrays of strings (hook args
	 * and env) are NULL-terminated as execve(2) requires. */
	*items = calloc(len + 1, size);
	if (*items == NULL)
		return veil_fail(err, ENOMEM, "config.json: %s", f.name);
	for (size_t i = 0; i < len; i++) {
		struct jfield e = element(f, i);
		*n = i + 1;
		if (e.v == NULL)
			return fail_at(err, &e, "must not be null");
		if (parse(e, (char *)*items + i * size, ctx, err) < 0)
			return -1;
	}
	return 0;
}

/* Typed front end to parse_array_of(): ITEMS is a pointer to the array. */
#define PARSE_ARRAY(f, max, parse, ctx, items, n, err)                                                   \
	({                                                                                               \
		void *parsed_items_;                                                                     \
		int parse_rc_ = parse_array_of(f, max, sizeof(**(items)), parse, ctx, &parsed_items_, n, err); \
		*(items) = parsed_items_;                                                                \
		parse_rc_;                                                                               \
	})

static int parse_string_element(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	const string_check *check = ctx;
	return parse_string(e, true, *check, out, err);
}

static int parse_strings(struct jfield f, string_check check, char ***out, size_t *n, veil_err_t *err)
{
	return PARSE_ARRAY(f, MAX_ENTRIES, parse_string_element, &check, out, n, err);
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* The resources of getrlimit(2) on Linux. */
static const char *const rlimit_types[] = {
	"RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",      "RLIMIT_DATA",   "RLIMIT_FSIZE",  "RLIMIT_LOCKS",
	"RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_NOFILE", "RLIMIT_NPROC",  "RLIMIT_RSS",
	"RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK", NULL,
};

static const char *check_absolute(const char *s)
{
	return s[0] == '/' ? NULL : "must be an absolute path";
}

static const char *check_nonempty(const char *s)
{
	return s[0] != '\0' ? NULL : "must not be empty";
}

static const char *check_env(const char *s)
{
	const char *eq = strchr(s, '=');
	return eq != NULL && eq != s ? NULL : "must have the form NAME=VALUE";
}

static const char *check_rlimit_type(const char *s)
{
	if (strncmp(s, "RLIMIT_", strlen("RLIMIT_")) != 0)
		return "must start with RLIMIT_";
	return in_list(s, rlimit_types) ? NULL : "names an unknown resource limit";
}

static const char *check_namespace_type(const char *s)
{
	return in_list(s, oci_namespace_types) ? NULL : "must be one of pid, network, mount, ipc, uts, user, cgroup, time";
}

/* The string member at OFFSET in element I of an array of STRIDE-byte items. */
static const char *type_at(const void *items, size_t stride, size_t offset, size_t i)
{
	return *(char *const *)((const char *)items + i * stride + offset);
}

/* The spec requires an error for a type given twice (rlimits, namespaces).
 * Every type was checked against a small known set, so a repeat turns up
 * within the first few entries and the quadratic scan stays cheap. */
static int check_unique_types(struct jfield array, const void *items, size_t n, size_t stride, size_t offset,
			      veil_err_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *type = type_at(items, stride, offset, i);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(type, type_at(items, stride, offset, j)) == 0) {
				struct jfield f = member(element(array, i), "type");
				return fail_at(err, &f, "repeats %s", type);
			}
		}
	}
	return 0;
}

static int parse_mount(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_mount *m = out;
	(void)ctx;
	if (check_object(e, true, err) < 0 ||
	    parse_string(member(e, "destination"), true, check_absolute, &m->destination, err) < 0 ||
	    parse_string(member(e, "type"), false, NULL, &m->type, err) < 0 ||
	    parse_string(member(e, "source"), false, NULL, &m->source, err) < 0)
		return -1;
	return parse_strings(member(e, "options"), NULL, &m->options, &m->n_options, err);
}

static int parse_rlimit(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_rlimit *r = out;
	(void)ctx;
	if (check_object(e, true, err) < 0 ||
	    parse_string(member(e, "type"), true, check_rlimit_type, &r->type, err) < 0 ||
	    parse_uint(member(e, "hard"), 0, UINT64_MAX, true, &r->hard, err) < 0 ||
	    parse_uint(member(e, "soft"), 0, UINT64_MAX, true, &r->soft, err) < 0)
		return -1;
	/* setrlimit(2) would refuse it, but only inside the guest. */
	if (r->soft > r->hard)
		return fail_at(err, &e, "has soft above hard");
	return 0;
}

static int parse_hook(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_hook *h = out;
	uint64_t timeout = 0;
	(void)ctx;
	if (check_object(e, true, err) < 0 ||
	    parse_string(member(e, "path"), true, check_absolute, &h->path, err) < 0 ||
	    parse_strings(member(e, "args"), NULL, &h->args, &h->n_args, err) < 0 ||
	    parse_strings(member(e, "env"), check_env, &h->env, &h->n_env, err) < 0 ||
	    parse_uint(member(e, "timeout"), 1, INT_MAX, false, &timeout, err) < 0)
		return -1;
	h->timeout = (int)timeout;
	return 0;
}

static int parse_namespace(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	(void)ctx;
	if (check_object(e, true, err) < 0)
		return -1;
	return parse_string(member(e, "type"), true, check_namespace_type, out, err);
}

/* Each entry's path, if any. A network namespace's is the host netns whose
 * interface the VM takes over; what other paths mean is the runtime's to
 * decide (veil_check_namespace_paths). */
static int parse_namespace_paths(struct jfield namespaces, struct oci_spec *s, veil_err_t *err)
{
	if (s->n_namespaces == 0)
		return 0;
	s->namespace_paths = calloc(s->n_namespaces, sizeof(*s->namespace_paths));
	if (s->namespace_paths == NULL)
		return veil_fail(err, ENOMEM, "config.json: linux.namespaces");
	for (size_t i = 0; i < s->n_namespaces; i++) {
		if (parse_string(member(element(namespaces, i), "path"), false, check_absolute, &s->namespace_paths[i],
				 err) < 0)
			return -1;
		if (s->namespace_paths[i] != NULL && s->namespace_paths[i][0] == '\0')
			return fail_at(err, &namespaces, "has an empty path");
		if (strcmp(s->namespaces[i], "network") == 0 && s->namespace_paths[i] != NULL &&
		    (s->netns_path = strdup(s->namespace_paths[i])) == NULL)
			return veil_fail(err, ENOMEM, "config.json: linux.namespaces");
	}
	return 0;
}

static int parse_gid(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	(void)ctx;
	return parse_u32(e, out, err);
}

static int parse_int_in(struct jfield f, int64_t min, int64_t max, int64_t *out, veil_err_t *err)
{
	int64_t v = 0;
	if (f.v == NULL)
		return 0;
	if (parse_int(f, &v, err) < 0)
		return -1;
	if (v < min || v > max)
		return fail_at(err, &f, "must be an integer from %" PRId64 " to %" PRId64, min, max);
	*out = v;
	return 0;
}

/* Names no kernel of the guest's knows are ignored with a warning, as runc
 * does; each is remembered once. */
static int note_unknown_capability(struct oci_process *p, const char *name, veil_err_t *err)
{
	for (size_t i = 0; i < p->n_unknown_capabilities; i++)
		if (strcmp(p->unknown_capabilities[i], name) == 0)
			return 0;
	char **grown = realloc(p->unknown_capabilities, (p->n_unknown_capabilities + 2) * sizeof(*grown));
	if (grown == NULL)
		return veil_fail(err, ENOMEM, "config.json: process.capabilities");
	p->unknown_capabilities = grown;
	grown[p->n_unknown_capabilities] = strdup(name);
	grown[p->n_unknown_capabilities + 1] = NULL;
	if (grown[p->n_unknown_capabilities] == NULL)
		return veil_fail(err, ENOMEM, "config.json: process.capabilities");
	p->n_unknown_capabilities++;
	return 0;
}

static int parse_capability_set(struct jfield set, struct oci_process *p, uint64_t *mask, veil_err_t *err)
{
	if (set.v == NULL)
		return 0;
	if (!json_object_is_type(set.v, json_type_array))
		return fail_at(err, &set, "must be an array");
	size_t n = json_object_array_length(set.v);
	if (n > MAX_ENTRIES)
		return fail_at(err, &set, "has more than %d entries", MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		const char *name = string_value(element(set, i), NULL, err);
		if (name == NULL)
			return -1;
		int cap = oci_capability_number(name);
		if (cap >= 0)
			*mask |= UINT64_C(1) << cap;
		else if (note_unknown_capability(p, name, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_capabilities(struct jfield f, struct oci_process *p, veil_err_t *err)
{
	if (check_object(f, false, err) < 0 || f.v == NULL)
		return f.v == NULL ? 0 : -1;
	struct oci_capabilities *c = &p->capabilities;
	p->has_capabilities = true;
	if (parse_capability_set(member(f, "bounding"), p, &c->bounding, err) < 0 ||
	    parse_capability_set(member(f, "effective"), p, &c->effective, err) < 0 ||
	    parse_capability_set(member(f, "inheritable"), p, &c->inheritable, err) < 0 ||
	    parse_capability_set(member(f, "permitted"), p, &c->permitted, err) < 0)
		return -1;
	return parse_capability_set(member(f, "ambient"), p, &c->ambient, err);
}

/* The guest kernel has neither LSM; runc refuses a label or profile it
 * cannot apply on such a host. AppArmor's "unconfined" asks for nothing. */
static int refuse_lsm(struct jfield process, veil_err_t *err)
{
	struct jfield apparmor = member(process, "apparmorProfile"), selinux = member(process, "selinuxLabel");
	const char *profile = apparmor.v != NULL ? string_value(apparmor, NULL, err) : "";
	const char *label = selinux.v != NULL ? string_value(selinux, NULL, err) : "";
	if (profile == NULL || label == NULL)
		return -1;
	if (profile[0] != '\0' && strcmp(profile, "unconfined") != 0)
		return fail_at(err, &apparmor, "\"%.64s\" cannot be applied: the guest kernel has no AppArmor", profile);
	if (label[0] != '\0')
		return fail_at(err, &selinux, "is specified, but the guest kernel has no SELinux");
	return 0;
}

static int parse_process(struct jfield f, struct oci_process *p, veil_err_t *err)
{
	struct jfield console = member(f, "consoleSize");
	struct jfield user = member(f, "user");
	struct jfield umask = member(user, "umask");
	struct jfield args = member(f, "args");
	struct jfield rlimits = member(f, "rlimits");
	if (check_object(f, true, err) < 0 || parse_bool(member(f, "terminal"), &p->terminal, err) < 0 ||
	    check_object(console, false, err) < 0 ||
	    parse_u32(member(console, "height"), &p->console_height, err) < 0 ||
	    parse_u32(member(console, "width"), &p->console_width, err) < 0 || check_object(user, false, err) < 0 ||
	    parse_u32(member(user, "uid"), &p->uid, err) < 0 || parse_u32(member(user, "gid"), &p->gid, err) < 0 ||
	    parse_u32(umask, &p->umask, err) < 0 ||
	    PARSE_ARRAY(member(user, "additionalGids"), MAX_ENTRIES, parse_gid, NULL, &p->additional_gids,
			&p->n_additional_gids, err) < 0)
		return -1;
	p->has_umask = umask.v != NULL;
	if (!json_object_is_type(args.v, json_type_array) || json_object_array_length(args.v) == 0)
		return fail_at(err, &args, "must be a non-empty array of strings");
	if (parse_strings(args, NULL, &p->args, &p->n_args, err) < 0 ||
	    parse_strings(member(f, "env"), check_env, &p->env, &p->n_env, err) < 0 ||
	    parse_string(member(f, "cwd"), true, check_absolute, &p->cwd, err) < 0 ||
	    PARSE_ARRAY(rlimits, MAX_ENTRIES, parse_rlimit, NULL, &p->rlimits, &p->n_rlimits, err) < 0 ||
	    check_unique_types(rlimits, p->rlimits, p->n_rlimits, sizeof(*p->rlimits), offsetof(struct oci_rlimit, type),
			       err) < 0 ||
	    parse_capabilities(member(f, "capabilities"), p, err) < 0 || refuse_lsm(f, err) < 0)
		return -1;
	struct jfield oom = member(f, "oomScoreAdj");
	int64_t adj = 0;
	if (parse_int_in(oom, -1000, 1000, &adj, err) < 0)
		return -1;
	p->has_oom_score_adj = oom.v != NULL;
	p->oom_score_adj = (int)adj;
	return parse_bool(member(f, "noNewPrivileges"), &p->no_new_privileges, err);
}

static int parse_hook_list(struct jfield hooks, const char *key, struct oci_hook **out, size_t *n, veil_err_t *err)
{
	return PARSE_ARRAY(member(hooks, key), MAX_ENTRIES, parse_hook, NULL, out, n, err);
}

static int parse_hooks(struct jfield f, struct oci_spec *s, veil_err_t *err)
{
	if (check_object(f, false, err) < 0 ||
	    parse_hook_list(f, "prestart", &s->hooks_prestart, &s->n_prestart, err) < 0 ||
	    parse_hook_list(f, "createRuntime", &s->hooks_create_runtime, &s->n_create_runtime, err) < 0 ||
	    parse_hook_list(f, "createContainer", &s->hooks_create_container, &s->n_create_container, err) < 0 ||
	    parse_hook_list(f, "startContainer", &s->hooks_start_container, &s->n_start_container, err) < 0 ||
	    parse_hook_list(f, "poststart", &s->hooks_poststart, &s->n_poststart, err) < 0)
		return -1;
	return parse_hook_list(f, "poststop", &s->hooks_poststop, &s->n_poststop, err);
}

static int parse_annotations(struct jfield f, json_object **out, veil_err_t *err)
{
	if (check_object(f, false, err) < 0)
		return -1;
	if (f.v == NULL)
		return 0;
	json_object_object_foreach(f.v, key, val) {
		if (key[0] == '\0')
			return fail_at(err, &f, "keys must not be empty");
		struct jfield value = member(f, key);
		value.v = val;
		if (string_value(value, NULL, err) == NULL)
			return -1;
	}
	*out = json_object_get(f.v);
	return 0;
}

/* ---- linux.seccomp ---- */

static int parse_u16(struct jfield f, bool *has, uint32_t *out, veil_err_t *err)
{
	uint64_t v = 0;
	*has = f.v != NULL;
	if (parse_uint(f, 0, UINT16_MAX, false, &v, err) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_seccomp_action(struct jfield f, int *out, veil_err_t *err)
{
	const char *name = f.v != NULL ? string_value(f, NULL, err) : NULL;
	if (f.v == NULL)
		return fail_at(err, &f, "is required");
	if (name == NULL)
		return -1;
	*out = oci_seccomp_action_number(name);
	if (*out == -2)
		return fail_at(err, &f, "SCMP_ACT_NOTIFY needs a seccomp agent on the host, which a process in a VM cannot reach");
	if (*out < 0)
		return fail_at(err, &f, "\"%.64s\" is not a seccomp action", name);
	return 0;
}

static int parse_seccomp_arg(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_seccomp_arg *a = out;
	uint64_t index = 0;
	(void)ctx;
	struct jfield op = member(e, "op");
	const char *name;
	if (check_object(e, true, err) < 0 || parse_uint(member(e, "index"), 0, 5, true, &index, err) < 0 ||
	    parse_uint(member(e, "value"), 0, UINT64_MAX, true, &a->value, err) < 0 ||
	    parse_uint(member(e, "valueTwo"), 0, UINT64_MAX, false, &a->value_two, err) < 0)
		return -1;
	a->index = (uint32_t)index;
	if (op.v == NULL)
		return fail_at(err, &op, "is required");
	if ((name = string_value(op, NULL, err)) == NULL)
		return -1;
	if ((a->op = oci_name_number(oci_seccomp_operators, name)) < 0)
		return fail_at(err, &op, "\"%.64s\" is not a seccomp operator", name);
	return 0;
}

/* As the agent takes them: libseccomp's names are all of these characters. */
static const char *check_syscall_name(const char *s)
{
	if (s[0] == '\0')
		return "must not be empty";
	if (strlen(s) > VEIL_MAX_SYSCALL_NAME)
		return "is too long for a syscall name";
	return s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_")] != '\0' ? "is not a syscall name ([a-z0-9_])" : NULL;
}

static int parse_seccomp_rule(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_seccomp_rule *r = out;
	size_t *names = (size_t *)ctx;
	struct jfield list = member(e, "names");
	if (check_object(e, true, err) < 0 || parse_strings(list, check_syscall_name, &r->names, &r->n_names, err) < 0 ||
	    parse_seccomp_action(member(e, "action"), &r->action, err) < 0 ||
	    parse_u16(member(e, "errnoRet"), &r->has_errno_ret, &r->errno_ret, err) < 0 ||
	    PARSE_ARRAY(member(e, "args"), VEIL_MAX_SECCOMP_ARGS, parse_seccomp_arg, NULL, &r->args, &r->n_args, err) < 0)
		return -1;
	if (r->n_names == 0)
		return fail_at(err, &list, "must name at least one syscall");
	*names += r->n_names;
	if (*names > VEIL_MAX_SECCOMP_NAMES)
		return fail_at(err, &list, "takes the syscalls named past %d", VEIL_MAX_SECCOMP_NAMES);
	return 0;
}

static int parse_seccomp_arch(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	(void)ctx;
	const char *name = string_value(e, NULL, err);
	if (name == NULL)
		return -1;
	if ((*(int *)out = oci_name_number(oci_seccomp_archs, name)) < 0)
		return fail_at(err, &e, "\"%.64s\" is not a seccomp architecture", name);
	return 0;
}

static int parse_seccomp_flags(struct jfield f, struct oci_seccomp *sc, veil_err_t *err)
{
	/* Absent, runc asks for SPEC_ALLOW; given, exactly those. */
	if (f.v == NULL) {
		sc->flag_spec_allow = true;
		return 0;
	}
	if (!json_object_is_type(f.v, json_type_array))
		return fail_at(err, &f, "must be an array");
	size_t n = json_object_array_length(f.v);
	for (size_t i = 0; i < n; i++) {
		struct jfield e = element(f, i);
		const char *name = string_value(e, NULL, err);
		if (name == NULL)
			return -1;
		if (strcmp(name, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
			return fail_at(err, &e, "applies to SCMP_ACT_NOTIFY only, which a VM cannot honour");
		int flag = oci_name_number(oci_seccomp_flags, name);
		if (flag < 0)
			return fail_at(err, &e, "\"%.64s\" is not a known seccomp flag", name);
		sc->flag_log = sc->flag_log || strcmp(name, "SECCOMP_FILTER_FLAG_LOG") == 0;
		sc->flag_spec_allow = sc->flag_spec_allow || strcmp(name, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0;
	}
	return 0;
}

static int parse_seccomp(struct jfield f, struct oci_spec *s, veil_err_t *err)
{
	struct jfield def = member(f, "defaultAction"), syscalls = member(f, "syscalls"), listener = member(f, "listenerPath");
	if (check_object(f, false, err) < 0)
		return -1;
	/* As runc: neither a default action nor rules is no filter at all. */
	if (f.v == NULL || (def.v == NULL && (syscalls.v == NULL || (json_object_is_type(syscalls.v, json_type_array) &&
								     json_object_array_length(syscalls.v) == 0))))
		return 0;
	if (listener.v != NULL)
		return fail_at(err, &listener, "names a seccomp agent on the host, which a process in a VM cannot reach");
	struct oci_seccomp *sc = s->seccomp = calloc(1, sizeof(*s->seccomp));
	if (sc == NULL)
		return veil_fail(err, ENOMEM, "config.json: linux.seccomp");
	size_t names = 0;
	if (parse_seccomp_action(def, &sc->default_action, err) < 0 ||
	    parse_u16(member(f, "defaultErrnoRet"), &sc->has_default_errno_ret, &sc->default_errno_ret, err) < 0 ||
	    PARSE_ARRAY(member(f, "architectures"), VEIL_MAX_SECCOMP_ARCHS, parse_seccomp_arch, NULL, &sc->archs,
			&sc->n_archs, err) < 0 ||
	    parse_seccomp_flags(member(f, "flags"), sc, err) < 0)
		return -1;
	return PARSE_ARRAY(syscalls, VEIL_MAX_SECCOMP_RULES, parse_seccomp_rule, &names, &sc->rules, &sc->n_rules, err);
}

/* ---- sysctls, devices, id mappings, time offsets ---- */

/* sysctl(8) accepts "/" as the separator too, and then a "." inside a
 * component ("net/ipv4/conf/eth0.100/rp_filter"); runc turns that into the
 * dotted form, "net.ipv4.conf.eth0/100.rp_filter", which the agent takes. */
static void sysctl_dotted(char *key)
{
	size_t first = strcspn(key, "./");
	if (key[first] != '/')
		return;
	for (char *c = key; *c != '\0'; c++)
		*c = *c == '.' ? '/' : *c == '/' ? '.' : *c;
}

/* An object of strings (linux.sysctl, linux.resources.unified) into *out,
 * at most max entries; each key checked by check_key (may be NULL). */
static int parse_string_map(struct jfield f, size_t max, string_check check_key, struct oci_kv **out, size_t *n,
			    veil_err_t *err)
{
	if (check_object(f, false, err) < 0 || f.v == NULL)
		return f.v == NULL ? 0 : -1;
	size_t len = (size_t)json_object_object_length(f.v);
	if (len > max)
		return fail_at(err, &f, "has more than %zu entries", max);
	*out = calloc(len + 1, sizeof(**out));
	if (*out == NULL)
		return veil_fail(err, ENOMEM, "config.json: %s", f.name);
	json_object_object_foreach(f.v, key, val) {
		struct jfield value = member(f, key);
		value.v = val;
		struct oci_kv *kv = &(*out)[(*n)++];
		const char *why = check_key != NULL ? check_key(key) : NULL;
		if (why != NULL)
			return fail_at(err, &value, "%s", why);
		if ((kv->key = strdup(key)) == NULL)
			return veil_fail(err, ENOMEM, "config.json: %s", f.name);
		if (parse_string(value, true, NULL, &kv->value, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_sysctls(struct jfield f, struct oci_spec *s, veil_err_t *err)
{
	if (parse_string_map(f, VEIL_MAX_SYSCTLS, NULL, &s->sysctls, &s->n_sysctls, err) < 0)
		return -1;
	for (size_t i = 0; i < s->n_sysctls; i++)
		sysctl_dotted(s->sysctls[i].key);
	return 0;
}

/* any: -1 stands for every number, as runc reads a device rule. */
static int parse_device_number(struct jfield f, bool required, bool any, int64_t *out, veil_err_t *err)
{
	*out = -1;
	if (f.v == NULL)
		return required ? fail_at(err, &f, "is required") : 0;
	if (any && json_object_is_type(f.v, json_type_int) && json_object_get_int64(f.v) == -1)
		return 0;
	uint64_t v;
	if (parse_uint(f, 0, UINT32_MAX, true, &v, err) < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int parse_device(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_device *d = out;
	(void)ctx;
	struct jfield type = member(e, "type");
	uint64_t mode = 0666, uid = 0, gid = 0;
	cleanup_free char *t = NULL;
	if (check_object(e, true, err) < 0 || parse_string(member(e, "path"), true, check_absolute, &d->path, err) < 0 ||
	    parse_string(type, true, NULL, &t, err) < 0)
		return -1;
	if (strcmp(t, "c") != 0 && strcmp(t, "u") != 0 && strcmp(t, "b") != 0 && strcmp(t, "p") != 0)
		return fail_at(err, &type, "must be c, u, b or p");
	d->type = t[0] == 'u' ? 'c' : t[0];
	bool numbered = d->type != 'p';
	if (parse_device_number(member(e, "major"), numbered, false, &d->major, err) < 0 ||
	    parse_device_number(member(e, "minor"), numbered, false, &d->minor, err) < 0 ||
	    parse_uint(member(e, "fileMode"), 0, UINT32_MAX, false, &mode, err) < 0 ||
	    parse_uint(member(e, "uid"), 0, UINT32_MAX - 1, false, &uid, err) < 0 ||
	    parse_uint(member(e, "gid"), 0, UINT32_MAX - 1, false, &gid, err) < 0)
		return -1;
	/* runc keeps the permission bits: the type comes from "type". */
	d->file_mode = (uint32_t)mode & 07777;
	d->uid = (uint32_t)uid;
	d->gid = (uint32_t)gid;
	return 0;
}

static const char *check_device_access(const char *s)
{
	return s[0] != '\0' && strlen(s) <= 3 && strspn(s, "rwm") == strlen(s) ? NULL : "must be a non-empty subset of rwm";
}

static int parse_device_rule(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_device_rule *r = out;
	(void)ctx;
	struct jfield allow = member(e, "allow"), type = member(e, "type");
	cleanup_free char *t = NULL;
	if (check_object(e, true, err) < 0)
		return -1;
	if (allow.v == NULL)
		return fail_at(err, &allow, "is required");
	if (parse_bool(allow, &r->allow, err) < 0 || parse_string(type, false, NULL, &t, err) < 0 ||
	    parse_device_number(member(e, "major"), false, true, &r->major, err) < 0 ||
	    parse_device_number(member(e, "minor"), false, true, &r->minor, err) < 0 ||
	    parse_string(member(e, "access"), true, check_device_access, &r->access, err) < 0)
		return -1;
	r->type = t != NULL ? t[0] : 'a';
	if (t != NULL && strcmp(t, "a") != 0 && strcmp(t, "c") != 0 && strcmp(t, "b") != 0)
		return fail_at(err, &type, "must be a, c or b");
	return 0;
}

static int parse_id_mapping(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_id_mapping *m = out;
	(void)ctx;
	uint64_t in = 0, host = 0, size = 0;
	if (check_object(e, true, err) < 0 || parse_uint(member(e, "containerID"), 0, UINT32_MAX, true, &in, err) < 0 ||
	    parse_uint(member(e, "hostID"), 0, UINT32_MAX, true, &host, err) < 0 ||
	    parse_uint(member(e, "size"), 1, UINT32_MAX, true, &size, err) < 0)
		return -1;
	*m = (struct oci_id_mapping){ .container_id = (uint32_t)in, .host_id = (uint32_t)host, .size = (uint32_t)size };
	return 0;
}

static int parse_time_offset(struct jfield f, int64_t *secs, uint32_t *nanosecs, veil_err_t *err)
{
	uint64_t ns = 0;
	if (check_object(f, false, err) < 0 || parse_int(member(f, "secs"), secs, err) < 0 ||
	    parse_uint(member(f, "nanosecs"), 0, 999999999, false, &ns, err) < 0)
		return -1;
	*nanosecs = (uint32_t)ns;
	return 0;
}

static int parse_time_offsets(struct jfield f, struct oci_spec *s, veil_err_t *err)
{
	struct oci_time_offsets *t = &s->time_offsets;
	if (check_object(f, false, err) < 0 || f.v == NULL)
		return f.v == NULL ? 0 : -1;
	s->has_time_offsets = true;
	if (parse_time_offset(member(f, "monotonic"), &t->monotonic_secs, &t->monotonic_nanosecs, err) < 0)
		return -1;
	return parse_time_offset(member(f, "boottime"), &t->boottime_secs, &t->boottime_nanosecs, err);
}

/* ---- linux.resources ---- */

static const char *check_cpuset(const char *s)
{
	return strspn(s, "0123456789,-") == strlen(s) ? NULL : "must be a list such as 0-2,4";
}

static const char *check_page_size(const char *s)
{
	size_t digits = strspn(s, "0123456789");
	return digits > 0 && strlen(s) == digits + 2 && strchr("KMG", s[digits]) != NULL && s[digits + 1] == 'B'
		       ? NULL
		       : "must be a size such as 2MB or 1GB";
}

static int parse_hugepage_limit(struct jfield e, void *out, const void *ctx, veil_err_t *err)
{
	struct oci_hugepage_limit *h = out;
	(void)ctx;
	if (check_object(e, true, err) < 0 || parse_string(member(e, "pageSize"), true, check_page_size, &h->page_size, err) < 0)
		return -1;
	return parse_uint(member(e, "limit"), 0, UINT64_MAX, true, &h->limit, err);
}

static const char *check_cgroup_file(const char *key)
{
	return strchr(key, '/') == NULL ? NULL : "must name a file of the cgroup (no slashes)";
}

/* Entries that name host block devices: the guest's disks are its own. */
static int count_blkio_devices(struct jfield blkio, size_t *n, veil_err_t *err)
{
	static const char *const lists[] = { "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
					     "throttleReadIOPSDevice", "throttleWriteIOPSDevice" };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct jfield l = member(blkio, lists[i]);
		if (l.v == NULL)
			continue;
		if (!json_object_is_type(l.v, json_type_array))
			return fail_at(err, &l, "must be an array");
		*n += json_object_array_length(l.v);
	}
	return 0;
}

static int parse_resources(struct jfield f, struct oci_resources *r, veil_err_t *err)
{
	struct jfield memory = member(f, "memory"), cpu = member(f, "cpu"), pids = member(f, "pids");
	struct jfield blkio = member(f, "blockIO"), idle = member(cpu, "idle"), burst = member(cpu, "burst");
	uint64_t weight = 0;
	if (check_object(f, false, err) < 0 || check_object(memory, false, err) < 0 || check_object(cpu, false, err) < 0 ||
	    check_object(pids, false, err) < 0 || check_object(blkio, false, err) < 0 ||
	    parse_int(member(memory, "limit"), &r->memory_limit, err) < 0 ||
	    parse_int(member(memory, "reservation"), &r->memory_reservation, err) < 0 ||
	    parse_int(member(memory, "swap"), &r->memory_swap, err) < 0 ||
	    parse_uint(member(cpu, "shares"), 0, UINT64_MAX, false, &r->cpu_shares, err) < 0 ||
	    parse_int(member(cpu, "quota"), &r->cpu_quota, err) < 0 ||
	    parse_uint(member(cpu, "period"), 0, UINT64_MAX, false, &r->cpu_period, err) < 0 ||
	    parse_int_in(idle, 0, 1, &r->cpu_idle, err) < 0 ||
	    parse_uint(burst, 0, UINT32_MAX, false, &r->cpu_burst, err) < 0 ||
	    parse_string(member(cpu, "cpus"), false, check_cpuset, &r->cpuset_cpus, err) < 0 ||
	    parse_string(member(cpu, "mems"), false, check_cpuset, &r->cpuset_mems, err) < 0 ||
	    parse_int(member(pids, "limit"), &r->pids_limit, err) < 0 ||
	    parse_uint(member(blkio, "weight"), 0, 1000, false, &weight, err) < 0 ||
	    count_blkio_devices(blkio, &r->n_blkio_devices, err) < 0 ||
	    PARSE_ARRAY(member(f, "hugepageLimits"), VEIL_MAX_HUGEPAGE_LIMITS, parse_hugepage_limit, NULL,
			&r->hugepage_limits, &r->n_hugepage_limits, err) < 0 ||
	    parse_string_map(member(f, "unified"), VEIL_MAX_UNIFIED, check_cgroup_file, &r->unified, &r->n_unified, err) < 0 ||
	    PARSE_ARRAY(member(f, "devices"), VEIL_MAX_DEVICE_RULES, parse_device_rule, NULL, &r->devices, &r->n_devices,
			err) < 0)
		return -1;
	r->has_cpu_idle = idle.v != NULL;
	r->has_cpu_burst = burst.v != NULL;
	r->blkio_weight = (uint16_t)weight;
	if (weight != 0 && weight < 10) {
		struct jfield w = member(blkio, "weight");
		return fail_at(err, &w, "must be 10..1000");
	}
	return 0;
}

static const char *check_propagation(const char *s)
{
	return s[0] == '\0' || oci_name_number(oci_propagations, s) > 0
		       ? NULL
		       : "must be one of private, shared, slave, unbindable or their r* forms";
}

static int parse_linux(struct jfield f, struct oci_spec *s, veil_err_t *err)
{
	struct jfield namespaces = member(f, "namespaces"), rdt = member(f, "intelRdt");
	if (check_object(f, false, err) < 0 ||
	    PARSE_ARRAY(namespaces, MAX_ENTRIES, parse_namespace, NULL, &s->namespaces, &s->n_namespaces, err) < 0 ||
	    check_unique_types(namespaces, s->namespaces, s->n_namespaces, sizeof(*s->namespaces), 0, err) < 0 ||
	    parse_namespace_paths(namespaces, s, err) < 0 ||
	    parse_strings(member(f, "maskedPaths"), check_absolute, &s->masked_paths, &s->n_masked_paths, err) < 0 ||
	    parse_strings(member(f, "readonlyPaths"), check_absolute, &s->readonly_paths, &s->n_readonly_paths,
			  err) < 0 ||
	    parse_resources(member(f, "resources"), &s->resources, err) < 0 ||
	    parse_seccomp(member(f, "seccomp"), s, err) < 0 || parse_sysctls(member(f, "sysctl"), s, err) < 0 ||
	    PARSE_ARRAY(member(f, "devices"), VEIL_MAX_DEVICES, parse_device, NULL, &s->devices, &s->n_devices, err) < 0 ||
	    PARSE_ARRAY(member(f, "uidMappings"), VEIL_MAX_ID_MAP_LINES, parse_id_mapping, NULL, &s->uid_mappings,
			&s->n_uid_mappings, err) < 0 ||
	    PARSE_ARRAY(member(f, "gidMappings"), VEIL_MAX_ID_MAP_LINES, parse_id_mapping, NULL, &s->gid_mappings,
			&s->n_gid_mappings, err) < 0 ||
	    parse_time_offsets(member(f, "timeOffsets"), s, err) < 0 ||
	    parse_string(member(f, "rootfsPropagation"), false, check_propagation, &s->rootfs_propagation, err) < 0 ||
	    parse_string(member(f, "cgroupsPath"), false, NULL, &s->cgroups_path, err) < 0)
		return -1;
	/* Cache allocation of the host's CPUs: resctrl is the host's, not the guest's. */
	if (rdt.v != NULL)
		return fail_at(err, &rdt, "is not supported: resctrl is the host's, and a VM's vCPUs have none");
	return 0;
}

static int parse_document(json_object *doc, struct oci_spec *s, veil_err_t *err)
{
	if (!json_object_is_type(doc, json_type_object))
		return veil_fail(err, 0, "config.json: must be a JSON object");
	struct jfield top = { .v = doc, .name = "" };
	struct jfield root = member(top, "root");
	struct jfield process = member(top, "process");
	if (parse_string(member(top, "ociVersion"), true, NULL, &s->oci_version, err) < 0 ||
	    check_object(root, true, err) < 0 ||
	    parse_string(member(root, "path"), true, check_nonempty, &s->root_path, err) < 0 ||
	    parse_bool(member(root, "readonly"), &s->root_readonly, err) < 0 ||
	    parse_string(member(top, "hostname"), false, NULL, &s->hostname, err) < 0 ||
	    parse_string(member(top, "domainname"), false, NULL, &s->domainname, err) < 0 ||
	    PARSE_ARRAY(member(top, "mounts"), MAX_MOUNTS, parse_mount, NULL, &s->mounts, &s->n_mounts, err) < 0 ||
	    parse_hooks(member(top, "hooks"), s, err) < 0 ||
	    parse_annotations(member(top, "annotations"), &s->annotations, err) < 0 ||
	    parse_linux(member(top, "linux"), s, err) < 0)
		return -1;
	if (process.v == NULL)
		return 0;
	s->process = calloc(1, sizeof(*s->process));
	if (s->process == NULL)
		return veil_fail(err, ENOMEM, "config.json: process");
	return parse_process(process, s->process, err);
}

int oci_spec_parse(const char *json_text, size_t len, struct oci_spec *spec, veil_err_t *err)
{
	memset(spec, 0, sizeof(*spec));
	if (len > OCI_SPEC_MAX_SIZE)
		return veil_fail(err, 0, "config.json: larger than %zu MiB", OCI_SPEC_MAX_SIZE >> 20);
	cleanup_json json_object *doc = NULL;
	if (veil_json_parse(json_text, len, "config.json", &doc, err) < 0)
		return -1;
	if (parse_document(doc, spec, err) < 0) {
		oci_spec_free(spec);
		return -1;
	}
	return 0;
}

int oci_process_parse(const char *json_text, size_t len, struct oci_process **out, veil_err_t *err)
{
	*out = NULL;
	if (len > OCI_SPEC_MAX_SIZE)
		return veil_fail(err, 0, "config.json: process larger than %zu MiB", OCI_SPEC_MAX_SIZE >> 20);
	cleanup_json json_object *doc = NULL;
	if (veil_json_parse(json_text, len, "config.json", &doc, err) < 0)
		return -1;
	return oci_process_from_json(doc, out, err);
}

int oci_process_from_json(json_object *doc, struct oci_process **out, veil_err_t *err)
{
	*out = NULL;
	struct jfield top = { .v = doc, .name = "process" };
	struct oci_process *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return veil_fail(err, ENOMEM, "process");
	if (parse_process(top, p, err) < 0) {
		oci_process_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static void free_kvs(struct oci_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void free_seccomp(struct oci_seccomp *sc)
{
	if (sc == NULL)
		return;
	for (size_t i = 0; i < sc->n_rules; i++) {
		free_strings(sc->rules[i].names, sc->rules[i].n_names);
		free(sc->rules[i].args);
	}
	free(sc->rules);
	free(sc->archs);
	free(sc);
}

static void free_resources(struct oci_resources *r)
{
	free(r->cpuset_cpus);
	free(r->cpuset_mems);
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		free(r->hugepage_limits[i].page_size);
	free(r->hugepage_limits);
	free_kvs(r->unified, r->n_unified);
	for (size_t i = 0; i < r->n_devices; i++)
		free(r->devices[i].access);
	free(r->devices);
}

static void free_hooks(struct oci_hook *hooks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(hooks[i].path);
		free_strings(hooks[i].args, hooks[i].n_args);
		free_strings(hooks[i].env, hooks[i].n_env);
	}
	free(hooks);
}

void oci_process_free(struct oci_process *p)
{
	if (p == NULL)
		return;
	free(p->additional_gids);
	free_strings(p->args, p->n_args);
	free_strings(p->env, p->n_env);
	free(p->cwd);
	for (size_t i = 0; i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free_strings(p->unknown_capabilities, p->n_unknown_capabilities);
	free(p);
}

void oci_spec_free(struct oci_spec *spec)
{
	free(spec->oci_version);
	free(spec->root_path);
	free(spec->hostname);
	oci_process_free(spec->process);
	for (size_t i = 0; i < spec->n_mounts; i++) {
		struct oci_mount *m = &spec->mounts[i];
		free(m->destination);
		free(m->type);
		free(m->source);
		free_strings(m->options, m->n_options);
	}
	free(spec->mounts);
	free_strings(spec->namespaces, spec->n_namespaces);
	free_strings(spec->namespace_paths, spec->n_namespaces);
	free(spec->netns_path);
	free_resources(&spec->resources);
	free_seccomp(spec->seccomp);
	free_kvs(spec->sysctls, spec->n_sysctls);
	for (size_t i = 0; i < spec->n_devices; i++)
		free(spec->devices[i].path);
	free(spec->devices);
	free(spec->uid_mappings);
	free(spec->gid_mappings);
	free(spec->rootfs_propagation);
	free(spec->domainname);
	free(spec->cgroups_path);
	free_strings(spec->masked_paths, spec->n_masked_paths);
	free_strings(spec->readonly_paths, spec->n_readonly_paths);
	free_hooks(spec->hooks_prestart, spec->n_prestart);
	free_hooks(spec->hooks_create_runtime, spec->n_create_runtime);
	free_hooks(spec->hooks_create_container, spec->n_create_container);
	free_hooks(spec->hooks_start_container, spec->n_start_container);
	free_hooks(spec->hooks_poststart, spec->n_poststart);
	free_hooks(spec->hooks_poststop, spec->n_poststop);
	json_object_put(spec->annotations);
	memset(spec, 0, sizeof(*spec));
}

static char *join_path(const char *dir, const char *name)
{
	size_t len = strlen(dir);
	char *path;
	if (asprintf(&path, "%s%s%s", dir, len > 0 && dir[len - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return path;
}

/* Reads a whole regular file of at most OCI_SPEC_MAX_SIZE bytes. */
static int read_config(const char *path, char **text, size_t *len, veil_err_t *err)
{
	/* O_NONBLOCK: opening a FIFO planted as config.json must not hang. */
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? veil_fail(err, 0, "%s: no such file", path) : veil_fail(err, errno, "%s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return veil_fail(err, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return veil_fail(err, 0, "%s: not a regular file", path);
	/* The size is a hint only: the file may change while it is read. */
	size_t cap = (size_t)st.st_size < OCI_SPEC_MAX_SIZE ? (size_t)st.st_size + 1 : OCI_SPEC_MAX_SIZE + 1;
	cleanup_free char *buf = malloc(cap);
	if (buf == NULL)
		return veil_fail(err, ENOMEM, "%s", path);
	size_t used = 0;
	for (;;) {
		if (used == cap) {
			if (cap > OCI_SPEC_MAX_SIZE)
				return veil_fail(err, 0, "%s: larger than %zu MiB", path, OCI_SPEC_MAX_SIZE >> 20);
			size_t grown = cap * 2 < OCI_SPEC_MAX_SIZE + 1 ? cap * 2 : OCI_SPEC_MAX_SIZE + 1;
			char *p = realloc(buf, grown);
			if (p == NULL)
				return veil_fail(err, ENOMEM, "%s", path);
			buf = p;
			cap = grown;
		}
		ssize_t r = read(fd, buf + used, cap - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return veil_fail(err, errno, "%s", path);
		if (r == 0)
			break;
		used += (size_t)r;
	}
	*text = veil_steal_ptr(buf);
	*len = used;
	return 0;
}

static int check_directory(const char *what, const char *path, veil_err_t *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? veil_fail(err, 0, "%s %s: no such directory", what, path)
				       : veil_fail(err, errno, "%s %s", what, path);
	if (!S_ISDIR(st.st_mode))
		return veil_fail(err, 0, "%s %s: not a directory", what, path);
	return 0;
}

int oci_spec_load_bundle(const char *bundle_dir, struct oci_spec *spec, veil_err_t *err)
{
	memset(spec, 0, sizeof(*spec));
	if (check_directory("bundle", bundle_dir, err) < 0)
		return -1;
	cleanup_free char *config = join_path(bundle_dir, "config.json");
	if (config == NULL)
		return veil_fail(err, ENOMEM, "bundle %s", bundle_dir);
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (read_config(config, &text, &len, err) < 0 || oci_spec_parse(text, len, spec, err) < 0)
		return -1;
	cleanup_free char *rootfs = oci_spec_rootfs_path(spec, bundle_dir);
	int rc = rootfs != NULL ? check_directory("rootfs", rootfs, err)
				: veil_fail(err, errno, "bundle %s: rootfs path", bundle_dir);
	if (rc < 0)
		oci_spec_free(spec);
	return rc;
}

/* Lexically normalises absolute PATH in place, as runc's filepath.Join does:
 * no empty or "." components, ".." drops the one before it (never above /). */
static void clean_path(char *path)
{
	size_t r = 0, w = 1;
	while (path[r] != '\0') {
		while (path[r] == '/')
			r++;
		size_t len = strcspn(path + r, "/");
		if (len == 0)
			break;
		if (len == 2 && path[r] == '.' && path[r + 1] == '.') {
			while (w > 1 && path[w - 1] != '/')
				w--;
			if (w > 1)
				w--;
		} else if (len != 1 || path[r] != '.') {
			if (w > 1)
				path[w++] = '/';
			memmove(path + w, path + r, len);
			w += len;
		}
		r += len;
	}
	path[w] = '\0';
}

char *oci_spec_rootfs_path(const struct oci_spec *spec, const char *bundle_dir)
{
	if (spec->root_path == NULL)
		return NULL;
	char *path = NULL;
	if (spec->root_path[0] == '/') {
		path = strdup(spec->root_path);
	} else if (bundle_dir[0] == '/') {
		path = join_path(bundle_dir, spec->root_path);
	} else {
		cleanup_free char *cwd = getcwd(NULL, 0);
		cleanup_free char *bundle = cwd != NULL ? join_path(cwd, bundle_dir) : NULL;
		path = bundle != NULL ? join_path(bundle, spec->root_path) : NULL;
	}
	if (path != NULL)
		clean_path(path);
	return path;
}

#define DEFAULT_CAPS "\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\""

/* runc's `runc spec` output, field for field, except the hostname. */
static const char default_spec[] =
	"{"
	"\"ociVersion\": \"" OCI_SPEC_VERSION "\","
	"\"process\": {"
	"  \"terminal\": true,"
	"  \"user\": {\"uid\": 0, \"gid\": 0},"
	"  \"args\": [\"sh\"],"
	"  \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\"],"
	"  \"cwd\": \"/\","
	"  \"capabilities\": {"
	"    \"bounding\": [" DEFAULT_CAPS "],"
	"    \"effective\": [" DEFAULT_CAPS "],"
	"    \"permitted\": [" DEFAULT_CAPS "]"
	"  },"
	"  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],"
	"  \"noNewPrivileges\": true"
	"},"
	"\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
	"\"hostname\": \"veil\","
	"\"mounts\": ["
	"  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
	"  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
	"   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
	"  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
	"   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},"
	"  {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
	"  {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
	"  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},"
	"  {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}"
	"],"
	"\"linux\": {"
	"  \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},"
	"  \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"},"
	"                 {\"type\": \"mount\"}],"
	"  \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\", \"/proc/latency_stats\","
	"                  \"/proc/timer_list\", \"/proc/timer_stats\", \"/proc/sched_debug\", \"/sys/firmware\","
	"                  \"/proc/scsi\", \"/sys/devices/virtual/tpm\"],"
	"  \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"]"
	"}"
	"}";

char *oci_spec_default_json(void)
{
	/* Kept compact above and re-serialised so the output is indented like
	 * runc's, one value per line. */
	cleanup_json json_object *doc = json_tokener_parse(default_spec);
	if (doc == NULL)
		return NULL;
	const char *pretty = json_object_to_json_string_ext(
		doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB | JSON_C_TO_STRING_SPACED |
			     JSON_C_TO_STRING_NOSLASHESCAPE);
	return pretty != NULL ? strdup(pretty) : NULL;
}
