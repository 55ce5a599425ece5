#include "runtime/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/trace.h"
#include "proto/contract.h"
#include "runtime/confidential.h"
#include "runtime/network.h"
#include "runtime/rootfs_image.h"

int veil_claim_id(const char *state_dir, const char *id, veil_err_t *err)
{
	if (veil_validate_id(id, err) < 0 || veil_mkdir_p(state_dir, 0711, err) < 0)
		return -1;
	cleanup_free char *dir = NULL;
	if (asprintf(&dir, "%s/%s", state_dir, id) < 0)
		return veil_fail(err, ENOMEM, "state directory");
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return veil_fail(err, 0, "container with id exists: %s", id);
		return veil_fail(err, errno, "creating %s", dir);
	}
	return 0;
}

int veil_validate_id(const char *id, veil_err_t *err)
{
	size_t len = strlen(id);
	if (len == 0)
		return veil_fail(err, 0, "container id cannot be empty");
	if (len > VEIL_ID_MAX)
		return veil_fail(err, 0, "invalid container id: longer than %d characters", VEIL_ID_MAX);
	for (const char *p = id; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			  ((*p == '_' || *p == '-' || *p == '.') && p != id);
		if (!ok)
			return veil_fail(err, 0, "invalid container id format: %s", id);
	}
	return 0;
}

/* As Kata sizes a sandbox: what the containers ask for on top of the VM's own baseline. */
static void vm_size(const struct veil_sandbox_opts *o, struct veil_vm_config *vmc)
{
	const int64_t mib = 1 << 20;
	if (o->memory_limit > 0 && o->memory_limit / mib < 64 * 1024)
		vmc->memory_mib += (uint32_t)((o->memory_limit + mib - 1) / mib);
	if (o->cpu_quota > 0 && o->cpu_period > 0) {
		uint64_t extra = ((uint64_t)o->cpu_quota + o->cpu_period - 1) / o->cpu_period;
		vmc->vcpus += extra < 64 ? (uint32_t)extra : 64;
	}
	if (vmc->vcpus > 64)
		vmc->vcpus = 64;
}

uint32_t veil_sandbox_memory_mib(const struct veil_config *cfg, const struct oci_spec *spec)
{
	const struct veil_sandbox_opts o = { .memory_limit = spec->resources.memory_limit,
					     .cpu_quota = spec->resources.cpu_quota,
					     .cpu_period = spec->resources.cpu_period };
	struct veil_vm_config vmc = { .memory_mib = cfg->qemu.default_memory, .vcpus = cfg->qemu.default_vcpus };
	vm_size(&o, &vmc);
	return vmc.memory_mib;
}

static void log_confidential(const struct veil_sandbox *sb)
{
	const struct veil_tee_config *tc = &sb->shape.tee;
	char digest[2 * VEIL_INITDATA_MAX_DIGEST + 1] = "none";
	if (tc->init_data.text != NULL)
		veil_hex_encode(tc->init_data.digest, tc->init_data.digest_len, digest);
	log_info("container %s: confidential guest, tee %s%s, init-data %s%s%s, KBS %s, %zu secret annotation(s)", sb->id,
		 veil_tee_name(tc->tee), tc->tee == VEIL_TEE_EMULATED ? " (emulated: it protects nothing)" : "",
		 tc->init_data.text != NULL ? tc->init_data.algorithm : "", tc->init_data.text != NULL ? ":" : "", digest,
		 tc->kbs.host[0] ? tc->kbs.authority : "none", sb->n_secrets);
}

static int start_virtiofsd(struct veil_sandbox *sb, const struct veil_config *cfg, veil_err_t *err)
{
	const struct veil_virtiofsd_opts o = {
		.daemon = cfg->qemu.virtio_fs_daemon, .cache = cfg->qemu.virtio_fs_cache, .dir = sb->dir,
		.exports = sb->volumes.exports, .n_exports = sb->volumes.n_exports, .die_with_parent = true,
	};
	return veil_virtiofsd_start(&o, &sb->virtiofsd, err);
}

struct fs_renewal {
	struct veil_sandbox *sb;
	const struct veil_config *cfg;
	struct veil_fs *fs;
};

/* A pooled VM that failed took the daemon's one connection with it. */
static int renew_virtiofsd(void *opaque, veil_err_t *err)
{
	struct fs_renewal *r = opaque;
	veil_virtiofsd_stop(&r->sb->virtiofsd);
	if (start_virtiofsd(r->sb, r->cfg, err) < 0)
		return -1;
	r->fs->vhost_fd = r->sb->virtiofsd.vhost_fd;
	return 0;
}

/* The VM's launch as the configuration and the first container's
 * annotations make it; for a confidential guest, the host files its
 * init-data allows (the guest holds the containers to the same). */
static int vm_shape(struct veil_sandbox *sb, const struct veil_config *cfg, const struct oci_spec *spec,
		    veil_err_t *err)
{
	struct veil_vm_shape *shape = &sb->shape;
	if (veil_vm_shape_from_config(cfg, sb->id, sb->console_log, shape, err) < 0 ||
	    veil_container_confidential(spec, shape->vm.tee != NULL ? &shape->tee : NULL, sb->secrets, VEIL_MAX_SECRETS,
					&sb->n_secrets, err) < 0)
		return -1;
	if (shape->vm.tee == NULL)
		return 0;
	log_confidential(sb);
	return veil_initdata_mounts(&shape->tee.init_data, &sb->host_files, err);
}

/* The sandbox's VM, sized for it, with the first container's rootfs image
 * (NULL: its rootfs is shared) and writable layer or its virtio-fs device
 * (and the NIC), from wherever veil_vm_get finds one; one log line for each
 * faster path that was tried and not taken. */
static int get_vm(struct veil_sandbox *sb, const struct veil_config *cfg, const struct veil_sandbox_opts *o,
		  const struct veil_disk *rootfs, const struct veil_nic *nic, veil_err_t *err)
{
	struct veil_vm_shape *shape = &sb->shape;
	vm_size(o, &shape->vm);
	/* A pod's later containers have their images hot-plugged. */
	if (o->pod || (o->joinable && strcmp(shape->vm.machine, "microvm") != 0))
		shape->vm.pcie_root_ports = shape->cache_root_ports;
	struct veil_disk disks[2];
	size_t n_disks = 0;
	if (rootfs != NULL)
		disks[n_disks++] = *rootfs;
	if (sb->upper.path != NULL)
		disks[n_disks++] = (struct veil_disk){ .path = sb->upper.path, .serial = VEIL_UPPER_SERIAL };
	struct veil_fs fs = { .vhost_fd = sb->virtiofsd.vhost_fd, .tag = VEIL_FS_TAG };
	struct fs_renewal renewal = { .sb = sb, .cfg = cfg, .fs = &fs };
	shape->vm.disks = disks;
	shape->vm.n_disks = n_disks;
	shape->vm.nic = nic;
	shape->vm.fs = sb->volumes.shared ? &fs : NULL;
	shape->renew_fs = renew_virtiofsd;
	shape->renew_fs_opaque = &renewal;
	shape->signal_fd = o->signal_fd;
	struct veil_vm_origin origin;
	int rc = veil_vm_get(shape, &sb->vm, &origin, err);
	/* Kept to give the VM back (reset = "scrub"); what it pointed at is gone then. */
	shape->vm.disks = NULL;
	shape->vm.n_disks = 0;
	shape->vm.nic = NULL;
	shape->vm.fs = NULL;
	shape->renew_fs = NULL;
	shape->renew_fs_opaque = NULL;
	shape->signal_fd = -1;
	/* QEMU holds the connection now: when it goes, the daemon sees the end. */
	veil_close_fd(&sb->virtiofsd.vhost_fd);
	if (origin.pool_skipped[0] != '\0')
		log_info("sandbox %s: cold boot: %s", sb->id, origin.pool_skipped);
	if (origin.template_skipped[0] != '\0')
		log_info("sandbox %s: cold boot: no clone of the template: %s", sb->id, origin.template_skipped);
	if (rc == 0 && origin.source == VEIL_VM_CLONED)
		log_info("sandbox %s: VM cloned from the template in %s", sb->id, shape->template_dir);
	static const char *const sources[] = { [VEIL_VM_POOLED] = "pooled", [VEIL_VM_CLONED] = "cloned",
					       [VEIL_VM_BOOTED] = "booted" };
	veil_trace_label(sources[origin.source]);
	return rc;
}

/* The guest NIC takes the veth's identity. */
static int configure_interface(struct veil_sandbox *sb, const struct veil_netif *netif, veil_err_t *err)
{
	const char *addresses[VEIL_NET_MAX_ADDRS];
	for (size_t i = 0; i < netif->n_addresses; i++)
		addresses[i] = netif->addresses[i];
	/* The name the container would have seen in its netns. */
	const struct veil_agent_interface ifc = {
		.mac = netif->mac, .name = netif->veth, .mtu = netif->mtu, .addresses = addresses,
		.n_addresses = netif->n_addresses, .gateway = netif->gateway,
	};
	return veil_agent_configure_interface(&sb->agent, &ifc, sb->request_timeout_ms, err);
}

static struct veil_sandbox_container *find_container(struct veil_sandbox *sb, const char *id)
{
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_CONTAINERS; i++)
		if (sb->containers[i].id != NULL && strcmp(sb->containers[i].id, id) == 0)
			return &sb->containers[i];
	return NULL;
}

bool veil_sandbox_has_container(const struct veil_sandbox *sb, const char *id)
{
	return find_container((struct veil_sandbox *)sb, id) != NULL;
}

size_t veil_sandbox_container_count(const struct veil_sandbox *sb)
{
	size_t n = 0;
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_CONTAINERS; i++)
		n += sb->containers[i].id != NULL;
	return n;
}

static void forget_container(struct veil_sandbox_container *c)
{
	if (c->image_path != NULL)
		unlink(c->image_path);
	free(c->id);
	free(c->image_path);
	*c = (struct veil_sandbox_container){ .root_port = -1 };
}

/* A slot for container id, with its image path and serial: the first
 * container's image is rootfs.erofs on the serial the guest has always
 * known, later ones rootfs-N.erofs on veil-rootfs-N. The image is built,
 * unless rootfs is NULL (a rootfs shared with virtio-fs has none). */
static struct veil_sandbox_container *new_container(struct veil_sandbox *sb, const char *id, const char *rootfs,
						     veil_err_t *err)
{
	if (find_container(sb, id) != NULL)
		return veil_fail(err, 0, "container with id exists: %s", id), NULL;
	struct veil_sandbox_container *c = NULL;
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_CONTAINERS && c == NULL; i++)
		if (sb->containers[i].id == NULL)
			c = &sb->containers[i];
	if (c == NULL)
		return veil_fail(err, 0, "at most %d containers per sandbox", VEIL_SANDBOX_MAX_CONTAINERS), NULL;
	unsigned n = sb->images_made++;
	c->root_port = -1;
	c->id = strdup(id);
	if (n == 0) {
		snprintf(c->serial, sizeof(c->serial), "%s", VEIL_ROOTFS_SERIAL);
		if (asprintf(&c->image_path, "%s/rootfs.erofs", sb->dir) < 0)
			c->image_path = NULL;
	} else {
		snprintf(c->serial, sizeof(c->serial), "%s-%u", VEIL_ROOTFS_SERIAL, n);
		if (asprintf(&c->image_path, "%s/rootfs-%u.erofs", sb->dir, n) < 0)
			c->image_path = NULL;
	}
	if (c->id == NULL || c->image_path == NULL) {
		forget_container(c);
		return veil_fail(err, ENOMEM, "container %s", id), NULL;
	}
	if (rootfs != NULL && veil_rootfs_image_get(rootfs, c->image_path, &sb->images, &c->image_cached, err) < 0) {
		forget_container(c);
		return NULL;
	}
	return c;
}

/* Frames of the agent, to the relay they belong to. */
static void route_data(void *opaque, uint32_t stream, const uint8_t *buf, size_t len, bool closed)
{
	struct veil_sandbox *sb = opaque;
	(void)closed;
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_RELAYS; i++) {
		if (sb->relays[i] != NULL && veil_relay_on_data(sb->relays[i], stream, buf, len)) {
			/* The first container's first output ends its start's trace. */
			if (len > 0 && sb->relays[i]->exec_id[0] == '\0' && strcmp(sb->relays[i]->container_id, sb->id) == 0)
				veil_trace_phase_after("first_output", "exit");
			return;
		}
	}
}

static void route_window(void *opaque, uint32_t stream, uint32_t credit)
{
	struct veil_sandbox *sb = opaque;
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_RELAYS; i++)
		if (sb->relays[i] != NULL && veil_relay_on_window(sb->relays[i], stream, credit))
			return;
}

static void route_response(void *opaque, uint32_t request_id, const uint8_t *payload, size_t len)
{
	struct veil_sandbox *sb = opaque;
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_RELAYS; i++)
		if (sb->relays[i] != NULL && veil_relay_on_response(sb->relays[i], request_id, payload, len))
			return;
	if (sb->response != NULL)
		sb->response(sb->opaque, request_id, payload, len);
}

/* What the guest gets of the first container's files: its rootfs image
 * (from the image cache when the tree is unchanged) and the writable
 * layer's disk, or the shared tree's daemon. */
static struct veil_sandbox_container *files_for_guest(struct veil_sandbox *sb, const struct veil_config *cfg,
						      const struct veil_sandbox_opts *o, veil_err_t *err)
{
	if (sb->volumes.shared) {
		veil_trace_phase("virtiofsd");
		struct veil_sandbox_container *c = new_container(sb, o->id, NULL, err);
		if (c == NULL || start_virtiofsd(sb, cfg, err) < 0)
			return NULL;
		return c;
	}
	veil_trace_phase("image");
	struct veil_sandbox_container *c = new_container(sb, o->id, o->rootfs, err);
	/* A confidential container's writes never reach the host's disk. */
	if (c == NULL || o->spec->root_readonly || cfg->qemu.confidential_guest)
		return c;
	veil_trace_phase("layer");
	return veil_writable_layer_open(o->rootfs, o->id, &sb->upper, err) < 0 ? NULL : c;
}

/* A VM whose virtiofsd has died fails for that reason, which its own words
 * say better than QEMU's or the guest's. */
static void blame_virtiofsd(struct veil_sandbox *sb, veil_err_t *err)
{
	veil_err_t died = NULL;
	if (veil_virtiofsd_check(&sb->virtiofsd, &died) < 0) {
		veil_error_free(err);
		*err = died;
	}
}

static void sandbox_init(struct veil_sandbox *sb, const struct veil_config *cfg)
{
	memset(sb, 0, sizeof(*sb));
	veil_vm_init(&sb->vm);
	veil_virtiofsd_init(&sb->virtiofsd);
	veil_writable_layer_init(&sb->upper);
	veil_agent_client_init(&sb->agent, -1, -1, -1);
	sb->request_timeout_ms = (int)cfg->agent.request_timeout * 1000;
	sb->images = (struct veil_image_cache){
		.dir = cfg->runtime.image_cache_dir, .max_bytes = (uint64_t)cfg->runtime.image_cache_size << 20,
	};
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_CONTAINERS; i++)
		sb->containers[i].root_port = -1;
}

int veil_sandbox_create(struct veil_sandbox *sb, const struct veil_config *cfg, const char *state_dir,
			const struct veil_sandbox_opts *o, veil_err_t *err)
{
	/* The tap lives as long as an fd to it: ours until QEMU holds its own. */
	cleanup_close int tap_fd = -1;
	struct veil_netif netif = { 0 };
	sandbox_init(sb, cfg);
	sb->id = strdup(o->id);
	if (asprintf(&sb->dir, "%s/%s", state_dir, o->id) < 0 ||
	    asprintf(&sb->console_log, "%s/console.log", sb->dir) < 0 || sb->id == NULL)
		abort();
	if (access(sb->dir, W_OK) < 0)
		return veil_fail(err, errno, "state directory %s", sb->dir);

	long long t0 = veil_now_ms();
	if (vm_shape(sb, cfg, o->spec, err) < 0 ||
	    veil_volumes_plan(cfg, o->spec, o->rootfs, sb->shape.vm.tee != NULL ? &sb->host_files : NULL, &sb->volumes,
			      err) < 0)
		goto fail;
	struct veil_sandbox_container *first = files_for_guest(sb, cfg, o, err);
	if (first == NULL)
		goto fail;
	long long t_files = veil_now_ms() - t0;
	if (o->spec->netns_path != NULL) {
		veil_trace_phase("network");
		if (veil_net_attach(o->spec->netns_path, &netif, &tap_fd, err) < 0)
			goto fail;
	}
	sb->shared_network = tap_fd >= 0 || o->pod;
	const struct veil_nic nic = { .tap_fd = tap_fd, .mac = netif.mac };
	const struct veil_disk rootfs = { .path = first->image_path, .serial = first->serial, .readonly = true };
	if (get_vm(sb, cfg, o, sb->volumes.shared ? NULL : &rootfs, tap_fd >= 0 ? &nic : NULL, err) < 0) {
		blame_virtiofsd(sb, err);
		goto fail;
	}
	veil_agent_client_init(&sb->agent, sb->vm.agent_fd, sb->vm.pidfd, o->signal_fd);
	sb->agent.events = (struct veil_agent_events){
		.opaque = sb, .data = route_data, .window = route_window, .response = route_response,
	};
	long long t_ready = veil_now_ms() - t0;
	if (tap_fd >= 0) {
		veil_trace_phase("network");
		if (configure_interface(sb, &netif, err) < 0)
			goto fail;
	}
	veil_trace_phase("create");
	const struct veil_container_fs fs = {
		.rootfs_serial = first->serial,
		.shared_fs_tag = sb->volumes.shared ? VEIL_FS_TAG : NULL,
		.rootfs_shared = sb->volumes.shared,
		.upper_serial = sb->upper.path != NULL ? VEIL_UPPER_SERIAL : NULL,
		.mounts = sb->volumes.mounts,
	};
	if (veil_agent_create_container(&sb->agent, o->id, o->spec, &fs, !sb->shared_network, NULL, sb->secrets,
					sb->n_secrets, sb->request_timeout_ms, err) < 0) {
		blame_virtiofsd(sb, err);
		goto fail;
	}
	log_info("sandbox %s: %s %lld ms%s, agent ready %lld ms, created %lld ms", o->id,
		 sb->volumes.shared ? "virtiofsd" : "rootfs image", t_files, first->image_cached ? " (cached)" : "",
		 t_ready, veil_now_ms() - t0);
	return 0;
fail:
	veil_writable_layer_close(&sb->upper, true);
	veil_sandbox_destroy(sb);
	return -1;
}

/* The namespaces the new container joins in the guest: a shared network is
 * the guest's own when the sandbox's containers use that one anyway. */
static void guest_joined(const struct veil_sandbox *sb, const struct veil_joined_namespaces *shared,
			 const char *types[VEIL_MAX_JOINED], struct veil_joined_namespaces *out, bool *own_netns)
{
	*out = (struct veil_joined_namespaces){ .container_id = shared != NULL ? shared->container_id : NULL,
						 .types = types };
	*own_netns = !sb->shared_network;
	for (size_t i = 0; shared != NULL && i < shared->n_types && out->n_types < VEIL_MAX_JOINED; i++) {
		if (strcmp(shared->types[i], "network") == 0) {
			*own_netns = false;
			if (sb->shared_network)
				continue;
		}
		types[out->n_types++] = shared->types[i];
	}
}

int veil_sandbox_add_container(struct veil_sandbox *sb, const char *id, const struct oci_spec *spec,
			       const char *rootfs, const struct veil_joined_namespaces *shared, veil_err_t *err)
{
	long long t0 = veil_now_ms();
	struct veil_secret_ref secrets[VEIL_MAX_SECRETS];
	size_t n_secrets;
	const struct veil_tee_config *tee = sb->shape.vm.tee != NULL ? &sb->shape.tee : NULL;
	if (veil_validate_id(id, err) < 0 ||
	    veil_container_joins_confidential(spec, tee, secrets, VEIL_MAX_SECRETS, &n_secrets, err) < 0)
		return veil_fail_context(err, "container %s", id);
	if (sb->vm.root_ports == 0)
		return veil_fail(err, 0,
				 "container %s: the VM of %s has no spare PCIe root port to hot-plug its image into: it booted "
				 "as microvm; machine_type = \"q35\", or a VM from the cache or template, has them",
				 id, sb->id);
	if (tee != NULL)
		log_info("sandbox %s: container %s: %zu secret annotation(s)", sb->id, id, n_secrets);
	/* A confidential VM's later container gets the host files its init-data
	 * allows, copied in, as the first does; any other is refused here. A
	 * container that joins by namespace path gets its host files copied in
	 * and no host directory: the VM's shared tree is its first container's. */
	const struct veil_mount_rules rules = {
		.confidential = tee != NULL ? &sb->host_files : NULL,
		.joined = shared != NULL,
	};
	cleanup_free struct veil_mount_plan *mounts = NULL;
	if ((rules.confidential != NULL || rules.joined) && (mounts = veil_mounts_route(spec, &rules, err)) == NULL)
		return veil_fail_context(err, "container %s", id);
	struct veil_sandbox_container *c = new_container(sb, id, rootfs, err);
	if (c == NULL)
		return veil_fail_context(err, "container %s", id);
	long long t_image = veil_now_ms() - t0;
	const struct veil_disk disk = { .path = c->image_path, .serial = c->serial, .readonly = true };
	c->root_port = sb->vm.hv->hotplug_disk(&sb->vm, &disk, err);
	if (c->root_port < 0) {
		c->root_port = -1;
		forget_container(c);
		return veil_fail_context(err, "container %s", id);
	}
	/* A later container of a pod: its rootfs image and a writable layer in
	 * guest memory (volumes are the first container's only, for now). The
	 * guest attests afresh for each container with secrets (its own and the
	 * init-data's). */
	const struct veil_container_fs fs = { .rootfs_serial = c->serial, .mounts = mounts };
	const char *types[VEIL_MAX_JOINED];
	struct veil_joined_namespaces joined;
	bool own_netns;
	guest_joined(sb, shared, types, &joined, &own_netns);
	if (veil_agent_create_container(&sb->agent, id, spec, &fs, own_netns, &joined, secrets, n_secrets,
					sb->request_timeout_ms, err) < 0) {
		veil_err_t unplug_err = NULL;
		if (sb->vm.hv->unplug_disk(&sb->vm, c->root_port, &unplug_err) < 0) {
			log_warn("sandbox %s: %s", sb->id, unplug_err->msg);
			veil_error_free(&unplug_err);
		}
		forget_container(c);
		return -1;
	}
	log_info("sandbox %s: container %s: rootfs image %lld ms, created %lld ms", sb->id, id, t_image,
		 veil_now_ms() - t0);
	return 0;
}

int veil_sandbox_remove_container(struct veil_sandbox *sb, const char *id, veil_err_t *err)
{
	struct veil_sandbox_container *c = find_container(sb, id);
	if (c == NULL)
		return veil_fail(err, ENOENT, "container %s is not in sandbox %s", id, sb->id);
	int rc = veil_agent_destroy_container(&sb->agent, id, sb->request_timeout_ms, err);
	/* The guest let go of the image with the container; its port serves the next one. */
	if (rc == 0 && c->root_port >= 0 && sb->vm.hv->unplug_disk(&sb->vm, c->root_port, err) < 0)
		rc = -1;
	forget_container(c);
	return rc;
}

int veil_sandbox_attach(struct veil_sandbox *sb, struct veil_relay *r, veil_err_t *err)
{
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_RELAYS; i++) {
		if (sb->relays[i] == NULL) {
			sb->relays[i] = r;
			return 0;
		}
	}
	return veil_fail(err, 0, "%d processes run in sandbox %s already", VEIL_SANDBOX_MAX_RELAYS, sb->id);
}

void veil_sandbox_detach(struct veil_sandbox *sb, struct veil_relay *r)
{
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_RELAYS; i++)
		if (sb->relays[i] == r)
			sb->relays[i] = NULL;
}

int veil_sandbox_exec(struct veil_sandbox *sb, struct veil_relay *r, const struct oci_process *process,
		      const struct oci_process *inherit, veil_err_t *err)
{
	if (veil_sandbox_attach(sb, r, err) < 0)
		return -1;
	const struct veil_agent_streams streams = veil_relay_streams(r);
	if (veil_agent_exec(&sb->agent, r->container_id, r->exec_id, process, inherit, &streams, sb->request_timeout_ms,
			    err) < 0 ||
	    veil_relay_wait(r, err) < 0) {
		veil_sandbox_detach(sb, r);
		return -1;
	}
	return 0;
}

int veil_sandbox_pump(struct veil_sandbox *sb, veil_err_t *err)
{
	return veil_agent_pump(&sb->agent, err);
}

void veil_sandbox_release(struct veil_sandbox *sb, const struct veil_config *cfg)
{
	if (cfg->runtime.reset == VEIL_RESET_SCRUB && sb->vm.hv != NULL && sb->vm.lifeline_fd >= 0) {
		char why[256];
		veil_err_t err = NULL;
		int rc = 0;
		/* The guest lets go of a virtio-fs mount only while its daemon
		 * answers, and the daemon goes with the container. */
		if (sb->volumes.shared)
			snprintf(why, sizeof(why), "its shared tree's daemon goes with the container");
		else
			rc = veil_cache_return(&sb->shape, &sb->vm, why, sizeof(why), &err);
		if (rc < 0) {
			snprintf(why, sizeof(why), "%.200s", err->msg);
			veil_error_free(&err);
		}
		if (rc == 1)
			log_info("sandbox %s: VM returned to the factory to be scrubbed", sb->id);
		else
			log_info("sandbox %s: VM not reused: %s", sb->id, why);
	}
	veil_sandbox_destroy(sb);
}

void veil_sandbox_destroy(struct veil_sandbox *sb)
{
	if (sb->vm.hv != NULL)
		sb->vm.hv->teardown(&sb->vm);
	sb->vm.hv = NULL;
	veil_agent_client_release(&sb->agent);
	/* After QEMU: the daemon serves the guest until it is gone. */
	veil_virtiofsd_stop(&sb->virtiofsd);
	veil_writable_layer_close(&sb->upper, false);
	veil_volumes_free(&sb->volumes);
	veil_vm_shape_release(&sb->shape);
	for (size_t i = 0; i < VEIL_SANDBOX_MAX_CONTAINERS; i++)
		if (sb->containers[i].id != NULL)
			forget_container(&sb->containers[i]);
	memset(sb->relays, 0, sizeof(sb->relays));
	free(sb->id);
	free(sb->dir);
	free(sb->console_log);
	sb->id = sb->dir = sb->console_log = NULL;
}
