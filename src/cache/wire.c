#include "cache/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hv/tee.h"
#include "lib/hex.h"

static const char *const op_names[] = {
	[CACHE_OP_CLAIM] = "claim", [CACHE_OP_STATUS] = "status", [CACHE_OP_RETURN] = "return", [CACHE_OP_DUMP] = "dump",
};
static const char *const state_names[] = {
	[CACHE_VM_BOOTING] = "booting", [CACHE_VM_PAUSED] = "paused", [CACHE_VM_SCRUBBING] = "scrubbing",
	[CACHE_VM_LOANED] = "loaned",
};
static const char *const template_state_names[] = {
	[CACHE_TEMPLATE_OFF] = "off", [CACHE_TEMPLATE_BUILDING] = "building", [CACHE_TEMPLATE_READY] = "ready",
	[CACHE_TEMPLATE_FAILED] = "failed",
};

int cache_shape_of(const struct veil_vm_config *vmc, struct cache_shape *shape, veil_err_t *err)
{
	*shape = (struct cache_shape){
		.kernel = vmc->kernel,
		.initrd = vmc->initrd,
		.machine = vmc->machine,
		.kernel_params = vmc->kernel_params,
		.memory_mib = vmc->memory_mib,
		.vcpus = vmc->vcpus,
		.tee = vmc->tee != NULL ? veil_tee_name(vmc->tee->tee) : "",
		.shared_memory = vmc->memory_shared && vmc->memory_file == NULL,
	};
	if (vmc->tee != NULL && vmc->tee->init_data.text != NULL) {
		uint8_t field[48];
		size_t len = veil_tee_config_field(vmc->tee, field);
		veil_hex_encode(field, len, shape->init_data);
	}
	if (strlen(shape->kernel) > CACHE_PATH_MAX || strlen(shape->initrd) > CACHE_PATH_MAX ||
	    strlen(shape->machine) > CACHE_NAME_MAX)
		return veil_fail(err, ENAMETOOLONG, "guest kernel, initrd or machine type");
	if (strlen(shape->kernel_params) > CACHE_PARAMS_MAX)
		return veil_fail(err, E2BIG, "kernel_params is longer than %d bytes", CACHE_PARAMS_MAX);
	return 0;
}

void cache_shape_diff(const struct cache_shape *want, const struct cache_shape *have, char *out, size_t size)
{
	if (strcmp(want->kernel, have->kernel) != 0)
		snprintf(out, size, "kernel %s, cached VMs run %s", want->kernel, have->kernel);
	else if (strcmp(want->initrd, have->initrd) != 0)
		snprintf(out, size, "initrd %s, cached VMs run %s", want->initrd, have->initrd);
	else if (strcmp(want->machine, have->machine) != 0)
		snprintf(out, size, "machine %s, cached VMs are %s", want->machine, have->machine);
	else if (want->memory_mib != have->memory_mib)
		snprintf(out, size, "%" PRIu32 " MiB wanted, cached VMs have %" PRIu32 " MiB", want->memory_mib,
			 have->memory_mib);
	else if (want->vcpus != have->vcpus)
		snprintf(out, size, "%" PRIu32 " vCPUs wanted, cached VMs have %" PRIu32, want->vcpus, have->vcpus);
	else if (strcmp(want->kernel_params, have->kernel_params) != 0)
		snprintf(out, size, "kernel_params differ from the cached VMs'");
	else if (strcmp(want->tee, have->tee) != 0)
		snprintf(out, size, "%s%s wanted, cached VMs are %s%s", want->tee[0] ? "a confidential guest, tee " : "an ordinary VM",
			 want->tee, have->tee[0] ? "confidential guests, tee " : "ordinary VMs", have->tee);
	else if (strcmp(want->init_data, have->init_data) != 0)
		snprintf(out, size, "init-data %.16s%s, cached VMs were launched with %.16s%s",
			 want->init_data[0] ? want->init_data : "(none)", want->init_data[0] ? "..." : "",
			 have->init_data[0] ? have->init_data : "(none)", have->init_data[0] ? "..." : "");
	else if (want->shared_memory != have->shared_memory)
		snprintf(out, size, "%s memory wanted (shared_fs), cached VMs have %s memory",
			 want->shared_memory ? "shared" : "private", have->shared_memory ? "shared" : "private");
	else
		snprintf(out, size, "same shape");
}

bool cache_shape_equal(const struct cache_shape *a, const struct cache_shape *b)
{
	return strcmp(a->kernel, b->kernel) == 0 && strcmp(a->initrd, b->initrd) == 0 &&
	       strcmp(a->machine, b->machine) == 0 && strcmp(a->kernel_params, b->kernel_params) == 0 &&
	       a->memory_mib == b->memory_mib && a->vcpus == b->vcpus && strcmp(a->tee, b->tee) == 0 &&
	       strcmp(a->init_data, b->init_data) == 0 && a->shared_memory == b->shared_memory;
}

/* ---- field access with bounds: every decoder goes through these ---- */

static json_object *member(json_object *o, const char *key, json_type type, const char *what, veil_err_t *err)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type)) {
		veil_fail(err, EPROTO, "%s: \"%s\" missing or of the wrong type", what, key);
		return NULL;
	}
	return v;
}

static int get_u64(json_object *o, const char *key, uint64_t max, uint64_t *out, const char *what, veil_err_t *err)
{
	json_object *v = member(o, key, json_type_int, what, err);
	if (v == NULL)
		return -1;
	/* json-c saturates out-of-range numbers; anything at INT64_MAX is refused with them. */
	int64_t n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max || n == INT64_MAX)
		return veil_fail(err, EPROTO, "%s: \"%s\" out of range", what, key);
	*out = (uint64_t)n;
	return 0;
}

static int get_u32(json_object *o, const char *key, uint32_t max, uint32_t *out, const char *what, veil_err_t *err)
{
	uint64_t n;
	if (get_u64(o, key, max, &n, what, err) < 0)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int get_pid(json_object *o, const char *key, pid_t *out, const char *what, veil_err_t *err)
{
	uint32_t n;
	if (get_u32(o, key, INT32_MAX, &n, what, err) < 0)
		return -1;
	*out = (pid_t)n;
	return 0;
}

/* The string must not hide a NUL: what is compared is what was sent. */
static int get_str(json_object *o, const char *key, size_t max, const char **out, const char *what, veil_err_t *err)
{
	json_object *v = member(o, key, json_type_string, what, err);
	if (v == NULL)
		return -1;
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if (len > max || strlen(s) != len)
		return veil_fail(err, EPROTO, "%s: \"%s\" too long or not text", what, key);
	*out = s;
	return 0;
}

static int get_bool(json_object *o, const char *key, bool *out, const char *what, veil_err_t *err)
{
	json_object *v = member(o, key, json_type_boolean, what, err);
	if (v == NULL)
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

/* Unknown keys are refused, so that a peer speaking another version is told so. */
static int only_keys(json_object *o, const char *const *known, const char *what, veil_err_t *err)
{
	json_object_object_foreach(o, key, value) {
		(void)value;
		bool ok = false;
		for (const char *const *k = known; *k != NULL && !ok; k++)
			ok = strcmp(key, *k) == 0;
		if (!ok)
			return veil_fail(err, EPROTO, "%s: unknown field \"%.64s\"", what, key);
	}
	return 0;
}

static void add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

/* ---- request ---- */

json_object *cache_request_encode(const struct cache_request *req)
{
	json_object *o = json_object_new_object();
	add_str(o, "op", op_names[req->op]);
	if (req->op == CACHE_OP_CLAIM || req->op == CACHE_OP_RETURN) {
		const struct cache_shape *shape = &req->shape;
		json_object *s = json_object_new_object();
		add_str(s, "kernel", shape->kernel);
		add_str(s, "initrd", shape->initrd);
		add_str(s, "machine", shape->machine);
		add_str(s, "kernel_params", shape->kernel_params);
		add_u64(s, "memory_mib", shape->memory_mib);
		add_u64(s, "vcpus", shape->vcpus);
		add_str(s, "tee", shape->tee);
		add_str(s, "init_data", shape->init_data);
		json_object_object_add(s, "shared_memory", json_object_new_boolean(shape->shared_memory));
		json_object_object_add(o, "shape", s);
	}
	if (req->op == CACHE_OP_RETURN || req->op == CACHE_OP_DUMP)
		add_u64(o, "qemu_pid", (uint64_t)req->qemu_pid);
	return o;
}

static int decode_shape(json_object *s, struct cache_shape *shape, veil_err_t *err)
{
	static const char *const keys[] = { "kernel", "initrd", "machine", "kernel_params", "memory_mib", "vcpus",
					    "tee", "init_data", "shared_memory", NULL };
	const char *what = "claim shape";
	const char *init_data;
	if (only_keys(s, keys, what, err) < 0 || get_str(s, "kernel", CACHE_PATH_MAX, &shape->kernel, what, err) < 0 ||
	    get_str(s, "initrd", CACHE_PATH_MAX, &shape->initrd, what, err) < 0 ||
	    get_str(s, "machine", CACHE_NAME_MAX, &shape->machine, what, err) < 0 ||
	    get_str(s, "kernel_params", CACHE_PARAMS_MAX, &shape->kernel_params, what, err) < 0 ||
	    get_u32(s, "memory_mib", UINT32_MAX, &shape->memory_mib, what, err) < 0 ||
	    get_u32(s, "vcpus", UINT32_MAX, &shape->vcpus, what, err) < 0 ||
	    get_str(s, "tee", CACHE_NAME_MAX, &shape->tee, what, err) < 0 ||
	    get_str(s, "init_data", sizeof(shape->init_data) - 1, &init_data, what, err) < 0 ||
	    get_bool(s, "shared_memory", &shape->shared_memory, what, err) < 0)
		return -1;
	for (const char *c = init_data; *c != '\0'; c++)
		if (veil_hex_value((unsigned char)*c) < 0)
			return veil_fail(err, EPROTO, "%s: \"init_data\" is not hex", what);
	memcpy(shape->init_data, init_data, strlen(init_data) + 1);
	return 0;
}

/* The index of name in a NULL-free table of n names, or -1. */
static int name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

int cache_request_decode(json_object *msg, struct cache_request *req, veil_err_t *err)
{
	static const char *const claim_keys[] = { "op", "shape", NULL };
	static const char *const return_keys[] = { "op", "shape", "qemu_pid", NULL };
	static const char *const status_keys[] = { "op", NULL };
	static const char *const dump_keys[] = { "op", "qemu_pid", NULL };
	memset(req, 0, sizeof(*req));
	const char *op;
	if (!json_object_is_type(msg, json_type_object))
		return veil_fail(err, EPROTO, "request: not an object");
	if (get_str(msg, "op", CACHE_NAME_MAX, &op, "request", err) < 0)
		return -1;
	int index = name_index(op_names, sizeof(op_names) / sizeof(op_names[0]), op);
	if (index < 0)
		return veil_fail(err, EPROTO, "request: unknown op \"%.32s\"", op);
	req->op = (enum cache_op)index;
	if (req->op == CACHE_OP_STATUS)
		return only_keys(msg, status_keys, "status request", err);
	if (req->op == CACHE_OP_DUMP) {
		if (only_keys(msg, dump_keys, "dump request", err) < 0)
			return -1;
		return get_pid(msg, "qemu_pid", &req->qemu_pid, "dump request", err);
	}
	const char *what = req->op == CACHE_OP_CLAIM ? "claim request" : "return request";
	json_object *shape = member(msg, "shape", json_type_object, what, err);
	if (only_keys(msg, req->op == CACHE_OP_CLAIM ? claim_keys : return_keys, what, err) < 0 || shape == NULL ||
	    (req->op == CACHE_OP_RETURN && get_pid(msg, "qemu_pid", &req->qemu_pid, what, err) < 0))
		return -1;
	return decode_shape(shape, &req->shape, err);
}

/* ---- claim reply ---- */

json_object *cache_claim_reply_encode(const struct cache_claim_reply *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "granted", json_object_new_boolean(r->granted));
	if (r->granted)
		add_u64(o, "root_ports", r->root_ports);
	else
		add_str(o, "reason", r->reason);
	return o;
}

int cache_claim_reply_decode(json_object *msg, struct cache_claim_reply *r, veil_err_t *err)
{
	const char *what = "claim reply";
	memset(r, 0, sizeof(*r));
	if (get_bool(msg, "granted", &r->granted, what, err) < 0)
		return -1;
	if (r->granted)
		return get_u32(msg, "root_ports", 32, &r->root_ports, what, err);
	return get_str(msg, "reason", 200, &r->reason, what, err);
}

/* ---- status ---- */

const char *cache_vm_state_name(enum cache_vm_state state)
{
	return state_names[state];
}

const char *cache_template_state_name(enum cache_template_state state)
{
	return template_state_names[state];
}

json_object *cache_status_encode(const struct cache_status *s)
{
	json_object *o = json_object_new_object();
	add_u64(o, "pid", (uint64_t)s->pid);
	add_u64(o, "target", s->target);
	add_u64(o, "claimed", s->claimed);
	add_u64(o, "failures", s->failures);
	add_u64(o, "returned", s->returned);
	json_object *tmpl = json_object_new_object();
	add_str(tmpl, "state", template_state_names[s->template_state]);
	if (s->template_state == CACHE_TEMPLATE_READY) {
		add_str(tmpl, "hash", s->template_hash);
		add_u64(tmpl, "build_ms", s->template_build_ms);
	}
	json_object_object_add(o, "template", tmpl);
	json_object *vms = json_object_new_array();
	for (size_t i = 0; i < s->n_vms; i++) {
		const struct cache_vm_status *v = &s->vms[i];
		json_object *e = json_object_new_object();
		add_str(e, "state", state_names[v->state]);
		add_u64(e, "qemu_pid", (uint64_t)v->qemu_pid);
		add_u64(e, "keeper_pid", (uint64_t)v->keeper_pid);
		add_u64(e, "age_ms", v->age_ms);
		add_u64(e, "boot_ms", v->boot_ms);
		add_u64(e, "vcpus", v->vcpus);
		add_u64(e, "memory_mib", v->memory_mib);
		add_str(e, "origin", v->cloned ? "clone" : "boot");
		add_u64(e, "scrubs", v->scrubs);
		json_object_object_add(e, "warmed", json_object_new_boolean(v->warmed));
		json_object_array_add(vms, e);
	}
	json_object_object_add(o, "vms", vms);
	return o;
}

static int decode_vm_status(json_object *e, struct cache_vm_status *v, veil_err_t *err)
{
	const char *what = "status entry", *state;
	if (!json_object_is_type(e, json_type_object))
		return veil_fail(err, EPROTO, "%s: not an object", what);
	const char *origin;
	if (get_str(e, "state", CACHE_NAME_MAX, &state, what, err) < 0 ||
	    get_str(e, "origin", CACHE_NAME_MAX, &origin, what, err) < 0)
		return -1;
	int index = name_index(state_names, sizeof(state_names) / sizeof(state_names[0]), state);
	if (index < 0)
		return veil_fail(err, EPROTO, "%s: unknown state", what);
	v->state = (enum cache_vm_state)index;
	if (strcmp(origin, "clone") != 0 && strcmp(origin, "boot") != 0)
		return veil_fail(err, EPROTO, "%s: unknown origin", what);
	v->cloned = strcmp(origin, "clone") == 0;
	if (get_u32(e, "scrubs", UINT32_MAX, &v->scrubs, what, err) < 0 || get_bool(e, "warmed", &v->warmed, what, err) < 0)
		return -1;
	if (get_pid(e, "qemu_pid", &v->qemu_pid, what, err) < 0 || get_pid(e, "keeper_pid", &v->keeper_pid, what, err) < 0 ||
	    get_u64(e, "age_ms", UINT64_MAX, &v->age_ms, what, err) < 0 ||
	    get_u32(e, "boot_ms", UINT32_MAX, &v->boot_ms, what, err) < 0 ||
	    get_u32(e, "vcpus", UINT32_MAX, &v->vcpus, what, err) < 0 ||
	    get_u32(e, "memory_mib", UINT32_MAX, &v->memory_mib, what, err) < 0)
		return -1;
	return 0;
}

static int decode_template(json_object *msg, struct cache_status *s, veil_err_t *err)
{
	const char *what = "status template", *state, *hash;
	json_object *t = member(msg, "template", json_type_object, what, err);
	if (t == NULL || get_str(t, "state", CACHE_NAME_MAX, &state, what, err) < 0)
		return -1;
	int index = name_index(template_state_names, sizeof(template_state_names) / sizeof(template_state_names[0]), state);
	if (index < 0)
		return veil_fail(err, EPROTO, "%s: unknown state", what);
	s->template_state = (enum cache_template_state)index;
	if (s->template_state != CACHE_TEMPLATE_READY)
		return 0;
	if (get_str(t, "hash", sizeof(s->template_hash) - 1, &hash, what, err) < 0 ||
	    get_u32(t, "build_ms", UINT32_MAX, &s->template_build_ms, what, err) < 0)
		return -1;
	snprintf(s->template_hash, sizeof(s->template_hash), "%s", hash);
	return 0;
}

int cache_status_decode(json_object *msg, struct cache_status *s, veil_err_t *err)
{
	const char *what = "status reply";
	memset(s, 0, sizeof(*s));
	json_object *vms;
	if (get_pid(msg, "pid", &s->pid, what, err) < 0 || get_u32(msg, "target", CACHE_MAX_VMS, &s->target, what, err) < 0 ||
	    get_u32(msg, "claimed", UINT32_MAX, &s->claimed, what, err) < 0 ||
	    get_u32(msg, "failures", UINT32_MAX, &s->failures, what, err) < 0 ||
	    get_u32(msg, "returned", UINT32_MAX, &s->returned, what, err) < 0 ||
	    (vms = member(msg, "vms", json_type_array, what, err)) == NULL || decode_template(msg, s, err) < 0)
		return -1;
	size_t n = json_object_array_length(vms);
	if (n > CACHE_MAX_VMS)
		return veil_fail(err, EPROTO, "%s: %zu VMs, more than %d", what, n, CACHE_MAX_VMS);
	for (size_t i = 0; i < n; i++)
		if (decode_vm_status(json_object_array_get_idx(vms, i), &s->vms[i], err) < 0)
			return -1;
	s->n_vms = n;
	return 0;
}

/* ---- keeper ---- */

json_object *cache_ready_encode(const struct cache_ready *r)
{
	json_object *o = json_object_new_object();
	add_str(o, "name", r->name);
	add_u64(o, "qemu_pid", (uint64_t)r->qemu_pid);
	add_u64(o, "boot_ms", r->boot_ms);
	add_u64(o, "root_ports", r->root_ports);
	json_object_object_add(o, "cloned", json_object_new_boolean(r->cloned));
	add_u64(o, "scrubs", r->scrubs);
	json_object_object_add(o, "warmed", json_object_new_boolean(r->warmed));
	return o;
}

int cache_ready_decode(json_object *msg, struct cache_ready *r, veil_err_t *err)
{
	const char *what = "keeper ready";
	if (get_str(msg, "name", CACHE_NAME_MAX, &r->name, what, err) < 0 ||
	    get_pid(msg, "qemu_pid", &r->qemu_pid, what, err) < 0 ||
	    get_u32(msg, "boot_ms", UINT32_MAX, &r->boot_ms, what, err) < 0 ||
	    get_u32(msg, "root_ports", 32, &r->root_ports, what, err) < 0 ||
	    get_bool(msg, "cloned", &r->cloned, what, err) < 0 || get_u32(msg, "scrubs", UINT32_MAX, &r->scrubs, what, err) < 0 ||
	    get_bool(msg, "warmed", &r->warmed, what, err) < 0)
		return -1;
	if (r->qemu_pid <= 0)
		return veil_fail(err, EPROTO, "%s: no QEMU pid", what);
	return 0;
}
