/* A sandbox is one microVM and the containers created in it: the one
 * container of a `veil create`, or every container of a pod (the containerd
 * shim's; through the CLI, podman's: runtime/join.h). It owns the VM, got with
 * veil_vm_get (pool, template clone or cold boot), its agent channel, the NIC
 * taken over from a network namespace, and each container's read-only rootfs
 * image: the first container's is given to the VM as it is got, every later
 * one is hot-plugged into a spare PCIe root port and unplugged again when its
 * container goes. The first container's files may instead come from the host
 * through virtio-fs, with its volumes, and its writable layer may be kept on
 * a disk of its own (runtime/volumes.h, docs/volumes.md). Frames from the
 * agent reach the stdio relays the front end attached, one per process it
 * started (veil_sandbox_exec). */
#ifndef VEIL_SANDBOX_H
#define VEIL_SANDBOX_H

#include <stdbool.h>

#include "attest/initdata_config.h"
#include "cache/vm.h"
#include "hv/agent_client.h"
#include "hv/hypervisor.h"
#include "lib/config.h"
#include "lib/error.h"
#include "hv/virtiofsd.h"
#include "lib/oci_spec.h"
#include "runtime/rootfs_image.h"
#include "runtime/stdio_relay.h"
#include "runtime/volumes.h"
#include "runtime/writable_layer.h"

#define VEIL_ID_MAX 64
/* The guest agent's bound on containers per VM. */
#define VEIL_SANDBOX_MAX_CONTAINERS 16
/* Processes with a relay attached at once, over all containers. */
#define VEIL_SANDBOX_MAX_RELAYS 256

struct veil_sandbox_container {
	char *id;          /* NULL: a free slot */
	char *image_path;
	bool image_cached;  /* linked from the image cache, not built */
	char serial[24];   /* the image's virtio-blk serial, by which the guest finds it */
	int root_port;     /* where the image was hot-plugged; -1: given to the VM as it was got */
};

struct veil_sandbox {
	char *id;
	char *dir;          /* <state_dir>/<id>, removed by the caller */
	char *console_log;
	struct veil_vm_shape shape; /* what the VM was got as, sized for the sandbox */
	struct veil_vm vm;
	struct veil_agent_client agent;
	int request_timeout_ms;
	/* The first container's secrets, from its annotations (a confidential VM). */
	struct veil_secret_ref secrets[VEIL_MAX_SECRETS];
	size_t n_secrets;
	/* A confidential VM's: the host files its init-data allows, for every
	 * container of the sandbox. */
	struct veil_mount_policy host_files;
	/* Containers use the guest's network: the VM took over a netns's
	 * interface, or it is a pod's, whose containers share one network. */
	bool shared_network;
	/* The first container's volumes, and their virtiofsd (shared_fs =
	 * "virtio-fs") or its writable layer kept between starts ("none"). */
	struct veil_volumes volumes;
	struct veil_virtiofsd virtiofsd;
	struct veil_writable_layer upper;
	struct veil_image_cache images; /* where the containers' images are cached */
	unsigned images_made; /* serials are never reused: an unplugged disk may linger in the guest */
	struct veil_sandbox_container containers[VEIL_SANDBOX_MAX_CONTAINERS];
	struct veil_relay *relays[VEIL_SANDBOX_MAX_RELAYS];
	/* A response no attached relay was waiting for (a request the front end
	 * sent itself, such as GetOOMEvent); NULL to drop them. */
	void (*response)(void *opaque, uint32_t request_id, const uint8_t *payload, size_t len);
	void *opaque;
};

/* What the VM is got for. */
struct veil_sandbox_opts {
	const char *id;              /* the sandbox's, also its first container's */
	const struct oci_spec *spec; /* the first container's */
	const char *rootfs;          /* its root filesystem, made into its image */
	/* More containers will join (a pod): the VM has the configuration's
	 * spare root ports for their images ([factory] pcie_root_port), and they
	 * all share one network. */
	bool pod;
	/* Containers may join later (runtime/join.h): the VM gets the spare
	 * root ports where they cost no change of machine (not on microvm). */
	bool joinable;
	/* What the VM needs beyond the configuration's default size (Kata's
	 * sizing): a lone container's linux.resources, a pod's limits. 0: none. */
	int64_t memory_limit;        /* bytes */
	int64_t cpu_quota;           /* us per cpu_period */
	uint64_t cpu_period;
	int signal_fd;               /* aborts the waits when readable; -1 for none */
};

/* runc's rule for container IDs, minus characters QEMU's options treat specially. */
int veil_validate_id(const char *id, veil_err_t *err);

/* Validates the ID and creates its state directory: the directory is the
 * claim on the ID ("container with id exists" if taken). */
int veil_claim_id(const char *state_dir, const char *id, veil_err_t *err);

/* In the state directory of an ID claimed (and so validated) by
 * veil_claim_id: builds the first container's rootfs image, takes over the
 * spec's network namespace if it names one, gets the VM, waits for the agent
 * and creates the first container in it. On failure the VM and image are
 * gone; the directory is the caller's. */
int veil_sandbox_create(struct veil_sandbox *sb, const struct veil_config *cfg, const char *state_dir,
			const struct veil_sandbox_opts *opts, veil_err_t *err);

/* A further container in the sandbox's VM: its rootfs image is built and
 * hot-plugged, and the container created in the guest, sharing the
 * namespaces named in shared (may be NULL) with that container; such a
 * container gets no host directory (refused in one line naming it). In a
 * confidential VM the guest fetches the container's own secrets (its
 * annotations) after a fresh attestation; it cannot bring init-data other
 * than the VM's. On
 * failure nothing of it is left. */
int veil_sandbox_add_container(struct veil_sandbox *sb, const char *id, const struct oci_spec *spec,
			       const char *rootfs, const struct veil_joined_namespaces *shared, veil_err_t *err);
/* Destroys a container in the guest (its processes are killed and their
 * waits answered), unplugs its image and removes it. Unknown: an error. */
int veil_sandbox_remove_container(struct veil_sandbox *sb, const char *id, veil_err_t *err);
bool veil_sandbox_has_container(const struct veil_sandbox *sb, const char *id);
size_t veil_sandbox_container_count(const struct veil_sandbox *sb);

/* Frames of the relay's streams, and the answer to its wait, go to it until
 * it is detached. -1 when VEIL_SANDBOX_MAX_RELAYS are attached already. */
int veil_sandbox_attach(struct veil_sandbox *sb, struct veil_relay *r, veil_err_t *err);
void veil_sandbox_detach(struct veil_sandbox *sb, struct veil_relay *r);
/* Starts process in container_id (exec_id "" is its init) with the relay's
 * streams, attaching the relay (initialised with veil_relay_init), and asks
 * for its exit status, which arrives in the relay. An exec inherits what its
 * process leaves out from `inherit` (the container's init process; NULL for
 * the init itself). */
int veil_sandbox_exec(struct veil_sandbox *sb, struct veil_relay *r, const struct oci_process *process,
		      const struct oci_process *inherit, veil_err_t *err);
/* Reads what the agent sent and routes it. */
int veil_sandbox_pump(struct veil_sandbox *sb, veil_err_t *err);

/* The containers are gone: with [runtime] reset = "scrub", a VM from the
 * factory goes back to it to serve another tenant; otherwise, or if the
 * factory declines, as veil_sandbox_destroy. */
void veil_sandbox_release(struct veil_sandbox *sb, const struct veil_config *cfg);

/* Kills the VM and removes the images; the state directory is the caller's.
 * Safe on a partly created sandbox, idempotent. */
void veil_sandbox_destroy(struct veil_sandbox *sb);

/* The memory the container's VM gets: default_memory plus the container's limit. */
uint32_t veil_sandbox_memory_mib(const struct veil_config *cfg, const struct oci_spec *spec);

#endif
