#include "hv/guest_spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/host_files.h"
#include "lib/log.h"
#include "proto/limits.h"

/* ---- the request's blocks ---- */

/* The request takes p (malloc'd) over; p, or NULL (p freed) if out of memory. */
static void *keep(struct veil_guest_request *g, void *p)
{
	if (p != NULL && g->n_blocks == g->cap_blocks) {
		size_t cap = g->cap_blocks ? 2 * g->cap_blocks : 32;
		void **grown = realloc(g->blocks, cap * sizeof(*grown));
		if (grown == NULL) {
			free(p);
			return NULL;
		}
		g->blocks = grown;
		g->cap_blocks = cap;
	}
	if (p != NULL)
		g->blocks[g->n_blocks++] = p;
	return p;
}

static void *hold(struct veil_guest_request *g, size_t count, size_t size)
{
	return keep(g, calloc(count ? count : 1, size));
}

#define HOLD(g, n, type) ((type *)hold((g), (n), sizeof(type)))

void veil_guest_request_release(struct veil_guest_request *g)
{
	for (size_t i = 0; i < g->n_blocks; i++)
		free(g->blocks[i]);
	free(g->blocks);
	memset(g, 0, sizeof(*g));
}

/* ---- mounts ---- */

/* Propagation relative to the host, and crun's copy-up hints, have no meaning
 * in a guest that shares no mount with the host: dropped rather than refused. */
static bool option_meaningful_in_guest(const char *opt)
{
	static const char *const host_only[] = { "private", "rprivate", "shared", "rshared", "slave", "rslave",
						 "unbindable", "runbindable", "tmpcopyup", "notmpcopyup",
						 "copy-symlink", "bind", "rbind" };
	for (size_t i = 0; i < sizeof(host_only) / sizeof(host_only[0]); i++)
		if (strcmp(opt, host_only[i]) == 0)
			return false;
	return true;
}

/* A bound file keeps the flags a bind mount can have, nothing else. */
static bool file_option(const char *opt)
{
	static const char *const flags[] = { "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec" };
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strcmp(opt, flags[i]) == 0)
			return strcmp(opt, "suid") != 0 && strcmp(opt, "dev") != 0 && strcmp(opt, "exec") != 0;
	return false;
}

/* A bind mount: a small host file copied in, or nothing (with a warning). */
static int file_mount(struct veil_guest_request *g, const struct oci_mount *m, size_t *budget,
		      Veil__Agent__V1__Mount *out, bool *skipped, veil_err_t *err)
{
	struct veil_host_file file;
	char why[256];
	*skipped = veil_host_file_read(m, budget, &file, why, sizeof(why)) == 0;
	if (*skipped) {
		log_warn("bind mount of %s on %s skipped: %s", m->source ? m->source : "?", m->destination, why);
		return 0;
	}
	/* The request owns the bytes from here. */
	if (keep(g, file.content) == NULL)
		return veil_fail(err, ENOMEM, "create container");
	out->type = (char *)"file";
	out->source = (char *)"";
	out->content.data = file.content;
	out->content.len = file.len;
	out->mode = file.mode;
	out->uid = file.uid;
	out->gid = file.gid;
	for (size_t o = 0; o < m->n_options; o++)
		if (file_option(m->options[o]))
			out->options[out->n_options++] = m->options[o];
	return 0;
}

/* What a bind mount from the shared tree keeps of its options: those a bind
 * mount's own flags are made of (:z and :Z, propagation and the rest have no
 * meaning in the guest). */
static bool bind_option(const char *opt)
{
	static const char *const kept[] = { "bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec" };
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcmp(opt, kept[i]) == 0)
			return true;
	return false;
}

/* A guest tmpfs for a host bind mount (podman's /dev/shm), of the size asked for. */
static int shm_mount(struct veil_guest_request *g, uint64_t bytes, Veil__Agent__V1__Mount *out, veil_err_t *err)
{
	static const char *const shm_options[] = { "nosuid", "noexec", "nodev", "mode=1777" };
	char *size = NULL;
	if (asprintf(&size, "size=%" PRIu64, bytes) < 0 || keep(g, size) == NULL)
		return veil_fail(err, ENOMEM, "create container");
	out->options = HOLD(g, 5, char *);
	if (out->options == NULL)
		return veil_fail(err, ENOMEM, "create container");
	out->type = (char *)"tmpfs";
	out->source = (char *)"shm";
	for (size_t o = 0; o < sizeof(shm_options) / sizeof(shm_options[0]); o++)
		out->options[out->n_options++] = (char *)shm_options[o];
	out->options[out->n_options++] = size;
	return 0;
}

static int build_mounts(struct veil_guest_request *g, const struct veil_container_fs *fs, const struct oci_spec *spec,
			veil_err_t *err)
{
	Veil__Agent__V1__CreateContainerRequest *req = &g->req;
	Veil__Agent__V1__Mount *mounts = HOLD(g, spec->n_mounts, Veil__Agent__V1__Mount);
	req->mounts = HOLD(g, spec->n_mounts, Veil__Agent__V1__Mount *);
	if (mounts == NULL || req->mounts == NULL)
		return veil_fail(err, ENOMEM, "create container");
	size_t budget = VEIL_MAX_FILES_BYTES;
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		Veil__Agent__V1__Mount *out = &mounts[req->n_mounts];
		veil__agent__v1__mount__init(out);
		out->destination = m->destination;
		out->options = HOLD(g, m->n_options, char *);
		if (out->options == NULL)
			return veil_fail(err, ENOMEM, "create container");
		enum veil_mount_route route = fs->mounts != NULL	   ? fs->mounts[i].route
					      : veil_is_bind_mount(m) ? VEIL_MOUNT_COPY
								      : VEIL_MOUNT_AS_IS;
		if (route == VEIL_MOUNT_SKIP)
			continue;
		if (route == VEIL_MOUNT_COPY) {
			bool skipped;
			if (file_mount(g, m, &budget, out, &skipped, err) < 0)
				return -1;
			if (!skipped)
				req->mounts[req->n_mounts++] = out;
			continue;
		}
		if (route == VEIL_MOUNT_TMPFS) {
			if (shm_mount(g, fs->mounts[i].tmpfs_bytes, out, err) < 0)
				return -1;
			req->mounts[req->n_mounts++] = out;
			continue;
		}
		if (route == VEIL_MOUNT_SHARED) {
			out->type = (char *)"bind";
			out->source = (char *)fs->mounts[i].shared_name;
			for (size_t o = 0; o < m->n_options; o++)
				if (bind_option(m->options[o]))
					out->options[out->n_options++] = m->options[o];
			req->mounts[req->n_mounts++] = out;
			continue;
		}
		/* cgroup v1 does not exist in the guest; the container sees its v2 subtree. */
		out->type = m->type == NULL ? (char *)"" : strcmp(m->type, "cgroup") == 0 ? (char *)"cgroup2" : m->type;
		out->source = m->source ? m->source : out->type;
		for (size_t o = 0; o < m->n_options; o++)
			if (option_meaningful_in_guest(m->options[o]))
				out->options[out->n_options++] = m->options[o];
		req->mounts[req->n_mounts++] = out;
	}
	return 0;
}

/* ---- namespaces and sysctls ---- */

/* A namespace the init makes in the guest: every type, but a network one the
 * host handed over, and those with paths (checked by veil_check_namespace_paths:
 * only a network path gets this far). */
static bool is_joined(const struct veil_joined_namespaces *joined, const char *type)
{
	for (size_t i = 0; joined != NULL && i < joined->n_types; i++)
		if (strcmp(joined->types[i], type) == 0)
			return true;
	return false;
}

static int build_namespaces(struct veil_guest_request *g, const struct oci_spec *spec, bool own_netns,
			    const struct veil_joined_namespaces *joined, veil_err_t *err)
{
	Veil__Agent__V1__CreateContainerRequest *req = &g->req;
	req->namespaces = HOLD(g, spec->n_namespaces, char *);
	size_t n_joined = joined != NULL ? joined->n_types : 0;
	req->joined_namespaces = HOLD(g, n_joined + 1, Veil__Agent__V1__JoinedNamespace *);
	if (req->namespaces == NULL || req->joined_namespaces == NULL)
		return veil_fail(err, ENOMEM, "create container");
	for (size_t i = 0; i < spec->n_namespaces; i++) {
		bool has_path = spec->namespace_paths != NULL && spec->namespace_paths[i] != NULL;
		if (!has_path && !is_joined(joined, spec->namespaces[i]) &&
		    (own_netns || strcmp(spec->namespaces[i], "network") != 0))
			req->namespaces[req->n_namespaces++] = spec->namespaces[i];
	}
	for (size_t i = 0; i < n_joined; i++) {
		Veil__Agent__V1__JoinedNamespace *j = HOLD(g, 1, Veil__Agent__V1__JoinedNamespace);
		if (j == NULL)
			return veil_fail(err, ENOMEM, "create container");
		veil__agent__v1__joined_namespace__init(j);
		j->type = (char *)joined->types[i];
		j->container_id = (char *)joined->container_id;
		req->joined_namespaces[req->n_joined_namespaces++] = j;
	}
	return 0;
}

static bool has_namespace(const struct oci_spec *spec, const char *type)
{
	for (size_t i = 0; i < spec->n_namespaces; i++)
		if (strcmp(spec->namespaces[i], type) == 0)
			return true;
	return false;
}

/* runc refuses net.* sysctls in the host's network namespace; the agent
 * judges the rest against the guest's namespaces. */
static int build_sysctls(struct veil_guest_request *g, const struct oci_spec *spec, veil_err_t *err)
{
	Veil__Agent__V1__CreateContainerRequest *req = &g->req;
	Veil__Agent__V1__KeyValue *kv = HOLD(g, spec->n_sysctls, Veil__Agent__V1__KeyValue);
	req->sysctls = HOLD(g, spec->n_sysctls, Veil__Agent__V1__KeyValue *);
	if (kv == NULL || req->sysctls == NULL)
		return veil_fail(err, ENOMEM, "create container");
	for (size_t i = 0; i < spec->n_sysctls; i++) {
		if (strncmp(spec->sysctls[i].key, "net.", 4) == 0 && !has_namespace(spec, "network"))
			return veil_fail(err, 0, "sysctl \"%s\" not allowed in host network namespace", spec->sysctls[i].key);
		veil__agent__v1__key_value__init(&kv[i]);
		kv[i].key = spec->sysctls[i].key;
		kv[i].value = spec->sysctls[i].value;
		req->sysctls[req->n_sysctls++] = &kv[i];
	}
	return 0;
}

/* ---- devices ---- */

static Veil__Agent__V1__DeviceType device_type(char t)
{
	return t == 'b'	  ? VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_BLOCK
	       : t == 'c' ? VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_CHAR
	       : t == 'p' ? VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_FIFO
			  : VEIL__AGENT__V1__DEVICE_TYPE__DEVICE_TYPE_ALL;
}

/* runc appends these to every container's rules (specconv's AllowedDevices):
 * mknod of anything, the default devices, ptys and /dev/net/tun. */
static const struct oci_device_rule runc_allowed_devices[] = {
	{ true, 'c', -1, -1, "m" },   { true, 'b', -1, -1, "m" },    { true, 'c', 1, 3, "rwm" },   { true, 'c', 1, 8, "rwm" },
	{ true, 'c', 1, 7, "rwm" },   { true, 'c', 5, 0, "rwm" },    { true, 'c', 1, 5, "rwm" },   { true, 'c', 1, 9, "rwm" },
	{ true, 'c', 136, -1, "rwm" }, { true, 'c', 5, 2, "rwm" },   { true, 'c', 10, 200, "rwm" },
};

static int build_devices(struct veil_guest_request *g, const struct oci_spec *spec, veil_err_t *err)
{
	Veil__Agent__V1__CreateContainerRequest *req = &g->req;
	const struct oci_resources *r = &spec->resources;
	size_t n_defaults = sizeof(runc_allowed_devices) / sizeof(runc_allowed_devices[0]);
	size_t n_rules = r->n_devices + n_defaults;
	Veil__Agent__V1__DeviceRule *rules = HOLD(g, n_rules, Veil__Agent__V1__DeviceRule);
	Veil__Agent__V1__Device *devices = HOLD(g, spec->n_devices, Veil__Agent__V1__Device);
	req->device_rules = HOLD(g, n_rules, Veil__Agent__V1__DeviceRule *);
	req->devices = HOLD(g, spec->n_devices, Veil__Agent__V1__Device *);
	if (rules == NULL || devices == NULL || req->device_rules == NULL || req->devices == NULL)
		return veil_fail(err, ENOMEM, "create container");
	for (size_t i = 0; i < n_rules; i++) {
		const struct oci_device_rule *d = i < r->n_devices ? &r->devices[i] : &runc_allowed_devices[i - r->n_devices];
		veil__agent__v1__device_rule__init(&rules[i]);
		rules[i].allow = d->allow;
		rules[i].type = device_type(d->type);
		rules[i].major = d->major;
		rules[i].minor = d->minor;
		rules[i].access = d->access;
		req->device_rules[req->n_device_rules++] = &rules[i];
	}
	for (size_t i = 0; i < spec->n_devices; i++) {
		const struct oci_device *d = &spec->devices[i];
		veil__agent__v1__device__init(&devices[i]);
		devices[i].path = d->path;
		devices[i].type = device_type(d->type);
		devices[i].major = d->type == 'p' ? 0 : d->major;
		devices[i].minor = d->type == 'p' ? 0 : d->minor;
		devices[i].file_mode = d->file_mode;
		devices[i].uid = d->uid;
		devices[i].gid = d->gid;
		req->devices[req->n_devices++] = &devices[i];
	}
	return 0;
}

/* ---- resources ---- */

static int build_resources(struct veil_guest_request *g, const struct oci_spec *spec, veil_err_t *err)
{
	const struct oci_resources *r = &spec->resources;
	Veil__Agent__V1__Resources *res = HOLD(g, 1, Veil__Agent__V1__Resources);
	Veil__Agent__V1__HugepageLimit *huge = HOLD(g, r->n_hugepage_limits, Veil__Agent__V1__HugepageLimit);
	Veil__Agent__V1__KeyValue *unified = HOLD(g, r->n_unified, Veil__Agent__V1__KeyValue);
	if (res == NULL || huge == NULL || unified == NULL)
		return veil_fail(err, ENOMEM, "create container");
	veil__agent__v1__resources__init(res);
	res->hugepage_limits = HOLD(g, r->n_hugepage_limits, Veil__Agent__V1__HugepageLimit *);
	res->unified = HOLD(g, r->n_unified, Veil__Agent__V1__KeyValue *);
	if (res->hugepage_limits == NULL || res->unified == NULL)
		return veil_fail(err, ENOMEM, "create container");
	res->memory_limit = r->memory_limit;
	res->memory_reservation = r->memory_reservation;
	res->memory_swap = r->memory_swap;
	res->cpu_shares = r->cpu_shares;
	res->cpu_quota = r->cpu_quota;
	res->cpu_period = r->cpu_period;
	res->has_cpu_idle = r->has_cpu_idle;
	res->cpu_idle = r->cpu_idle;
	res->has_cpu_burst = r->has_cpu_burst;
	res->cpu_burst = r->cpu_burst;
	res->cpuset_cpus = r->cpuset_cpus ? r->cpuset_cpus : (char *)"";
	res->cpuset_mems = r->cpuset_mems ? r->cpuset_mems : (char *)"";
	res->pids_limit = r->pids_limit;
	res->blkio_weight = r->blkio_weight;
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		veil__agent__v1__hugepage_limit__init(&huge[i]);
		huge[i].page_size = r->hugepage_limits[i].page_size;
		huge[i].limit = r->hugepage_limits[i].limit;
		res->hugepage_limits[res->n_hugepage_limits++] = &huge[i];
	}
	for (size_t i = 0; i < r->n_unified; i++) {
		veil__agent__v1__key_value__init(&unified[i]);
		unified[i].key = r->unified[i].key;
		unified[i].value = r->unified[i].value;
		res->unified[res->n_unified++] = &unified[i];
	}
	if (r->n_blkio_devices > 0)
		log_warn("linux.resources.blockIO: %zu per-device settings ignored: they name the host's block devices, and "
			 "the guest has only its own",
			 r->n_blkio_devices);
	g->req.resources = res;
	return 0;
}

/* ---- seccomp ---- */

static int build_seccomp(struct veil_guest_request *g, const struct oci_seccomp *sc, veil_err_t *err)
{
	if (sc == NULL)
		return 0;
	Veil__Agent__V1__Seccomp *s = HOLD(g, 1, Veil__Agent__V1__Seccomp);
	Veil__Agent__V1__SeccompRule *rules = HOLD(g, sc->n_rules, Veil__Agent__V1__SeccompRule);
	if (s == NULL || rules == NULL)
		return veil_fail(err, ENOMEM, "create container");
	veil__agent__v1__seccomp__init(s);
	s->default_action = (Veil__Agent__V1__SeccompAction)sc->default_action;
	s->has_default_errno_ret = sc->has_default_errno_ret;
	s->default_errno_ret = sc->default_errno_ret;
	s->flag_log = sc->flag_log;
	s->flag_spec_allow = sc->flag_spec_allow;
	s->architectures = HOLD(g, sc->n_archs, Veil__Agent__V1__SeccompArch);
	s->syscalls = HOLD(g, sc->n_rules, Veil__Agent__V1__SeccompRule *);
	if (s->architectures == NULL || s->syscalls == NULL)
		return veil_fail(err, ENOMEM, "create container");
	for (size_t i = 0; i < sc->n_archs; i++)
		s->architectures[s->n_architectures++] = (Veil__Agent__V1__SeccompArch)sc->archs[i];
	for (size_t i = 0; i < sc->n_rules; i++) {
		const struct oci_seccomp_rule *in = &sc->rules[i];
		Veil__Agent__V1__SeccompRule *out = &rules[i];
		veil__agent__v1__seccomp_rule__init(out);
		out->names = in->names;
		out->n_names = in->n_names;
		out->action = (Veil__Agent__V1__SeccompAction)in->action;
		out->has_errno_ret = in->has_errno_ret;
		out->errno_ret = in->errno_ret;
		Veil__Agent__V1__SeccompArg *args = HOLD(g, in->n_args, Veil__Agent__V1__SeccompArg);
		out->args = HOLD(g, in->n_args, Veil__Agent__V1__SeccompArg *);
		if (args == NULL || out->args == NULL)
			return veil_fail(err, ENOMEM, "create container");
		for (size_t k = 0; k < in->n_args; k++) {
			veil__agent__v1__seccomp_arg__init(&args[k]);
			args[k].index = in->args[k].index;
			args[k].value = in->args[k].value;
			args[k].value_two = in->args[k].value_two;
			args[k].op = (Veil__Agent__V1__SeccompOperator)in->args[k].op;
			out->args[out->n_args++] = &args[k];
		}
		s->syscalls[s->n_syscalls++] = out;
	}
	g->req.seccomp = s;
	return 0;
}

/* ---- user and time namespaces, the init's program ---- */

static Veil__Agent__V1__IdMapping **build_id_map(struct veil_guest_request *g, const struct oci_id_mapping *in, size_t n)
{
	Veil__Agent__V1__IdMapping *maps = HOLD(g, n, Veil__Agent__V1__IdMapping);
	Veil__Agent__V1__IdMapping **ptrs = HOLD(g, n, Veil__Agent__V1__IdMapping *);
	if (maps == NULL || ptrs == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		veil__agent__v1__id_mapping__init(&maps[i]);
		maps[i].container_id = in[i].container_id;
		maps[i].host_id = in[i].host_id;
		maps[i].size = in[i].size;
		ptrs[i] = &maps[i];
	}
	return ptrs;
}

static int build_user_and_time(struct veil_guest_request *g, const struct oci_spec *spec, veil_err_t *err)
{
	Veil__Agent__V1__CreateContainerRequest *req = &g->req;
	if ((req->uid_mappings = build_id_map(g, spec->uid_mappings, spec->n_uid_mappings)) == NULL ||
	    (req->gid_mappings = build_id_map(g, spec->gid_mappings, spec->n_gid_mappings)) == NULL)
		return veil_fail(err, ENOMEM, "create container");
	req->n_uid_mappings = spec->n_uid_mappings;
	req->n_gid_mappings = spec->n_gid_mappings;
	if (!spec->has_time_offsets)
		return 0;
	Veil__Agent__V1__TimeOffsets *t = HOLD(g, 1, Veil__Agent__V1__TimeOffsets);
	if (t == NULL)
		return veil_fail(err, ENOMEM, "create container");
	veil__agent__v1__time_offsets__init(t);
	t->monotonic_secs = spec->time_offsets.monotonic_secs;
	t->monotonic_nanosecs = spec->time_offsets.monotonic_nanosecs;
	t->boottime_secs = spec->time_offsets.boottime_secs;
	t->boottime_nanosecs = spec->time_offsets.boottime_nanosecs;
	req->time_offsets = t;
	return 0;
}

/* runc looks the init's program up at create; the agent does it in the guest. */
static int build_executable(struct veil_guest_request *g, const struct oci_process *p, veil_err_t *err)
{
	if (p == NULL)
		return 0;
	Veil__Agent__V1__ExecutableLookup *e = HOLD(g, 1, Veil__Agent__V1__ExecutableLookup);
	if (e == NULL)
		return veil_fail(err, ENOMEM, "create container");
	veil__agent__v1__executable_lookup__init(e);
	e->file = p->args[0];
	e->cwd = p->cwd ? p->cwd : (char *)"";
	for (size_t i = 0; i < p->n_env; i++)
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			e->search_path = p->env[i] + 5;
	g->req.executable = e;
	return 0;
}

int veil_guest_request_build(struct veil_guest_request *g, const char *id, const struct veil_container_fs *fs,
			     const struct oci_spec *spec, bool own_netns, const struct veil_joined_namespaces *joined,
			     veil_err_t *err)
{
	memset(g, 0, sizeof(*g));
	Veil__Agent__V1__CreateContainerRequest *req = &g->req;
	veil__agent__v1__create_container_request__init(req);
	req->container_id = (char *)id;
	req->rootfs_serial = fs->rootfs_shared || fs->rootfs_serial == NULL ? (char *)"" : (char *)fs->rootfs_serial;
	req->shared_fs_tag = fs->shared_fs_tag ? (char *)fs->shared_fs_tag : (char *)"";
	req->rootfs_shared = fs->rootfs_shared;
	req->upper_serial = fs->upper_serial ? (char *)fs->upper_serial : (char *)"";
	req->rootfs_readonly = spec->root_readonly;
	req->hostname = spec->hostname ? spec->hostname : (char *)"";
	req->domainname = spec->domainname ? spec->domainname : (char *)"";
	req->rootfs_propagation = spec->rootfs_propagation ? spec->rootfs_propagation : (char *)"";
	req->masked_paths = spec->masked_paths;
	req->n_masked_paths = spec->n_masked_paths;
	req->readonly_paths = spec->readonly_paths;
	req->n_readonly_paths = spec->n_readonly_paths;
	if (build_mounts(g, fs, spec, err) < 0 || build_namespaces(g, spec, own_netns, joined, err) < 0 ||
	    build_sysctls(g, spec, err) < 0 || build_devices(g, spec, err) < 0 || build_resources(g, spec, err) < 0 ||
	    build_seccomp(g, spec->seccomp, err) < 0 || build_user_and_time(g, spec, err) < 0 ||
	    build_executable(g, spec->process, err) < 0) {
		veil_guest_request_release(g);
		return -1;
	}
	return 0;
}

/* ---- processes ---- */

int veil_guest_process(Veil__Agent__V1__Process *msg, const struct oci_process *p, const struct oci_process *container_init,
		       veil_err_t *err)
{
	veil__agent__v1__process__init(msg);
	msg->args = p->args;
	msg->n_args = p->n_args;
	msg->env = p->env;
	msg->n_env = p->n_env;
	msg->cwd = p->cwd ? p->cwd : (char *)"/";
	msg->uid = p->uid;
	msg->gid = p->gid;
	msg->additional_gids = p->additional_gids;
	msg->n_additional_gids = p->n_additional_gids;
	msg->terminal = p->terminal;
	msg->has_umask = p->has_umask;
	msg->umask = p->umask;
	msg->console_rows = p->console_height;
	msg->console_cols = p->console_width;
	/* An exec's process.json can only add no_new_privileges to the container's. */
	const struct oci_process *from = container_init != NULL ? container_init : p;
	msg->no_new_privileges = p->no_new_privileges || from->no_new_privileges;
	const struct oci_process *oom = p->has_oom_score_adj ? p : from;
	msg->has_oom_score_adj = oom->has_oom_score_adj;
	msg->oom_score_adj = oom->oom_score_adj;
	const struct oci_process *caps = p->has_capabilities ? p : from;
	/* One block: the pointers to the Rlimit structs, then the structs. */
	msg->rlimits = calloc(1, (p->n_rlimits + 1) * (sizeof(Veil__Agent__V1__Rlimit *) + sizeof(Veil__Agent__V1__Rlimit)));
	if (msg->rlimits == NULL)
		return veil_fail(err, ENOMEM, "process");
	Veil__Agent__V1__Rlimit *limits = (Veil__Agent__V1__Rlimit *)(msg->rlimits + p->n_rlimits + 1);
	for (size_t i = 0; i < p->n_rlimits; i++) {
		veil__agent__v1__rlimit__init(&limits[i]);
		limits[i].type = p->rlimits[i].type;
		limits[i].hard = p->rlimits[i].hard;
		limits[i].soft = p->rlimits[i].soft;
		msg->rlimits[i] = &limits[i];
	}
	msg->n_rlimits = p->n_rlimits;
	if (caps->has_capabilities) {
		Veil__Agent__V1__Capabilities *c = msg->capabilities = malloc(sizeof(*c));
		if (c == NULL) {
			veil_guest_process_release(msg);
			return veil_fail(err, ENOMEM, "process");
		}
		veil__agent__v1__capabilities__init(c);
		c->bounding = caps->capabilities.bounding;
		c->effective = caps->capabilities.effective;
		c->inheritable = caps->capabilities.inheritable;
		c->permitted = caps->capabilities.permitted;
		c->ambient = caps->capabilities.ambient;
	}
	if (p->n_unknown_capabilities > 0) {
		char names[512] = "";
		for (size_t i = 0; i < p->n_unknown_capabilities; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? " " : "",
				 p->unknown_capabilities[i]);
		log_warn("ignoring unknown or unavailable capabilities: [%s]", names);
	}
	return 0;
}

void veil_guest_process_release(Veil__Agent__V1__Process *msg)
{
	free(msg->rlimits);
	free(msg->capabilities);
	msg->rlimits = NULL;
	msg->capabilities = NULL;
}
