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

/* As Kata sizes a sandbox: the container's limits on top of the VM's own baseline. */
static void vm_size(const struct oci_spec *spec, struct veil_vm_config *vmc)
{
	const int64_t mib = 1 << 20;
	if (spec->resources.memory_limit > 0 && spec->resources.memory_limit / mib < 64 * 1024)
		vmc->memory_mib += (uint32_t)((spec->resources.memory_limit + mib - 1) / mib);
	if (spec->resources.cpu_quota > 0 && spec->resources.cpu_period > 0) {
		uint64_t extra = ((uint64_t)spec->resources.cpu_quota + spec->resources.cpu_period - 1) / spec->resources.cpu_period;
		vmc->vcpus += extra < 64 ? (uint32_t)extra : 64;
	}
	if (vmc->vcpus > 64)
		vmc->vcpus = 64;
}

uint32_t veil_sandbox_memory_mib(const struct veil_config *cfg, const struct oci_spec *spec)
{
	struct veil_vm_config vmc = { .memory_mib = cfg->qemu.default_memory, .vcpus = cfg->qemu.default_vcpus };
	vm_size(spec, &vmc);
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

/* The container's VM, sized for it, with its rootfs image and writable
 * layer or its virtio-fs device (and NIC), from wherever veil_vm_get finds
 * one; one log line for each faster path that was tried and not taken. */
static int get_vm(struct veil_sandbox *sb, const struct veil_config *cfg, const struct oci_spec *spec,
		  const struct veil_nic *nic, int signal_fd, veil_err_t *err)
{
	struct veil_vm_shape *shape = &sb->shape;
	if (veil_vm_shape_from_config(cfg, sb->id, sb->console_log, shape, err) < 0 ||
	    veil_container_confidential(spec, shape->vm.tee != NULL ? &shape->tee : NULL, sb->secrets, VEIL_MAX_SECRETS,
					&sb->n_secrets, err) < 0)
		return -1;
	if (shape->vm.tee != NULL)
		log_confidential(sb);
	vm_size(spec, &shape->vm);
	struct veil_disk disks[2];
	size_t n_disks = 0;
	if (!sb->volumes.shared)
		disks[n_disks++] = (struct veil_disk){ .path = sb->image_path, .serial = VEIL_ROOTFS_SERIAL, .readonly = true };
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
	shape->signal_fd = signal_fd;
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
		log_info("container %s: cold boot: %s", sb->id, origin.pool_skipped);
	if (origin.template_skipped[0] != '\0')
		log_info("container %s: cold boot: no clone of the template: %s", sb->id, origin.template_skipped);
	if (rc == 0 && origin.source == VEIL_VM_CLONED)
		log_info("container %s: VM cloned from the template in %s", sb->id, shape->template_dir);
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

/* What the guest gets of the container's files: the rootfs image (from the
 * image cache when the tree is unchanged: *image_cached) and the writable
 * layer's disk, or the shared tree's daemon. */
static int files_for_guest(struct veil_sandbox *sb, const struct veil_config *cfg, const struct oci_spec *spec,
			   const char *rootfs, bool *image_cached, veil_err_t *err)
{
	*image_cached = false;
	if (sb->volumes.shared) {
		veil_trace_phase("virtiofsd");
		return start_virtiofsd(sb, cfg, err);
	}
	veil_trace_phase("image");
	const struct veil_image_cache images = {
		.dir = cfg->runtime.image_cache_dir, .max_bytes = (uint64_t)cfg->runtime.image_cache_size << 20,
	};
	if (veil_rootfs_image_get(rootfs, sb->image_path, &images, image_cached, err) < 0)
		return -1;
	/* A confidential container's writes never reach the host's disk. */
	if (spec->root_readonly || cfg->qemu.confidential_guest)
		return 0;
	veil_trace_phase("layer");
	return veil_writable_layer_open(rootfs, sb->id, &sb->upper, err);
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

int veil_sandbox_create(struct veil_sandbox *sb, const struct veil_config *cfg, const char *state_dir,
			const char *id, const struct oci_spec *spec, const char *rootfs, int signal_fd,
			veil_err_t *err)
{
	/* The tap lives as long as an fd to it: ours until QEMU holds its own. */
	cleanup_close int tap_fd = -1;
	struct veil_netif netif = { 0 };
	memset(sb, 0, sizeof(*sb));
	veil_vm_init(&sb->vm);
	veil_virtiofsd_init(&sb->virtiofsd);
	veil_writable_layer_init(&sb->upper);
	veil_agent_client_init(&sb->agent, -1, -1, -1);
	sb->request_timeout_ms = (int)cfg->agent.request_timeout * 1000;
	sb->id = strdup(id);
	if (asprintf(&sb->dir, "%s/%s", state_dir, id) < 0 || asprintf(&sb->image_path, "%s/rootfs.erofs", sb->dir) < 0 ||
	    asprintf(&sb->console_log, "%s/console.log", sb->dir) < 0 || sb->id == NULL)
		abort();
	if (access(sb->dir, W_OK) < 0)
		return veil_fail(err, errno, "state directory %s", sb->dir);

	long long t0 = veil_now_ms();
	bool image_cached;
	if (veil_volumes_plan(cfg, spec, rootfs, &sb->volumes, err) < 0 ||
	    files_for_guest(sb, cfg, spec, rootfs, &image_cached, err) < 0)
		goto fail;
	long long t_files = veil_now_ms() - t0;
	if (spec->netns_path != NULL) {
		veil_trace_phase("network");
		if (veil_net_attach(spec->netns_path, &netif, &tap_fd, err) < 0)
			goto fail;
	}
	const struct veil_nic nic = { .tap_fd = tap_fd, .mac = netif.mac };
	if (get_vm(sb, cfg, spec, tap_fd >= 0 ? &nic : NULL, signal_fd, err) < 0) {
		blame_virtiofsd(sb, err);
		goto fail;
	}
	veil_agent_client_init(&sb->agent, sb->vm.agent_fd, sb->vm.pidfd, signal_fd);
	long long t_ready = veil_now_ms() - t0;
	if (tap_fd >= 0) {
		veil_trace_phase("network");
		if (configure_interface(sb, &netif, err) < 0)
			goto fail;
	}
	veil_trace_phase("create");
	const struct veil_container_fs fs = {
		.rootfs_serial = VEIL_ROOTFS_SERIAL,
		.shared_fs_tag = sb->volumes.shared ? VEIL_FS_TAG : NULL,
		.rootfs_shared = sb->volumes.shared,
		.upper_serial = sb->upper.path != NULL ? VEIL_UPPER_SERIAL : NULL,
		.mounts = sb->volumes.mounts,
	};
	if (veil_agent_create_container(&sb->agent, sb->id, spec, &fs, tap_fd < 0, sb->secrets, sb->n_secrets,
					sb->request_timeout_ms, err) < 0) {
		blame_virtiofsd(sb, err);
		goto fail;
	}
	log_info("container %s: %s %lld ms%s, agent ready %lld ms, created %lld ms", id,
		 sb->volumes.shared ? "virtiofsd" : "rootfs image", t_files, image_cached ? " (cached)" : "", t_ready,
		 veil_now_ms() - t0);
	return 0;
fail:
	veil_writable_layer_close(&sb->upper, true);
	veil_sandbox_destroy(sb);
	return -1;
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
			log_info("container %s: VM returned to the factory to be scrubbed", sb->id);
		else
			log_info("container %s: VM not reused: %s", sb->id, why);
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
	if (sb->image_path != NULL)
		unlink(sb->image_path);
	free(sb->id);
	free(sb->dir);
	free(sb->image_path);
	free(sb->console_log);
	sb->id = sb->dir = sb->image_path = sb->console_log = NULL;
}
