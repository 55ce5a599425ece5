/* The messages of the VM cache, carried as records of lib/control.h (one JSON
 * object each, fds by SCM_RIGHTS): a client's request to the factory and the
 * factory's reply, and the records between the factory and each keeper.
 * Encoders build them; decoders check every field of what arrives, since a
 * request may come from any process of a permitted uid. */
#ifndef VEIL_CACHE_WIRE_H
#define VEIL_CACHE_WIRE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hv/hypervisor.h"
#include "lib/error.h"

#define CACHE_PATH_MAX 4095
/* x86 truncates the kernel command line at 2048 bytes, so nothing longer can describe a booted VM. */
#define CACHE_PARAMS_MAX 2047
#define CACHE_NAME_MAX 63
/* [factory] vm_cache_number's upper bound. */
#define CACHE_MAX_VMS 64

/* What a cached VM must match for a client to take it instead of booting its own. */
struct cache_shape {
	const char *kernel;
	const char *initrd;
	const char *machine;
	const char *kernel_params;
	uint32_t memory_mib;
	uint32_t vcpus;
	/* A confidential guest's TEE ("" for none) and init-data digest as the
	 * TEE holds it, in hex ("" for none): launch-time facts no claim can change. */
	const char *tee;
	char init_data[2 * 48 + 1];
	bool shared_memory; /* RAM a vhost-user daemon can map (virtio-fs) */
};

/* The shape of VM vmc; borrows its strings. Fails when they are too long to send. */
int cache_shape_of(const struct veil_vm_config *vmc, struct cache_shape *shape, veil_err_t *err);
bool cache_shape_equal(const struct cache_shape *a, const struct cache_shape *b);
/* One line naming the first difference, for the client's "cold-boot instead" reason. */
void cache_shape_diff(const struct cache_shape *want, const struct cache_shape *have, char *out, size_t size);

/* CLAIM: a VM for a container. STATUS. RETURN: a container's VM, with its
 * lifeline, control and agent channels, to be scrubbed and pooled again ([runtime]
 * reset = "scrub"). DUMP: write a pooled VM's memory to the fd sent along. */
enum cache_op { CACHE_OP_CLAIM, CACHE_OP_STATUS, CACHE_OP_RETURN, CACHE_OP_DUMP };

struct cache_request {
	enum cache_op op;
	struct cache_shape shape; /* CLAIM and RETURN; strings borrowed from the decoded message */
	pid_t qemu_pid;           /* RETURN: the VM's QEMU; DUMP: that VM's, 0 for any pooled VM */
};

json_object *cache_request_encode(const struct cache_request *req);
int cache_request_decode(json_object *msg, struct cache_request *req, veil_err_t *err);

/* Reply to CLAIM and RETURN (granted: the factory took the VM). Granted, it carries the VM's lifeline, control and agent
 * channel; a second record carries its pidfd (a record holds at most
 * VEIL_CTL_MAX_FDS fds). */
struct cache_claim_reply {
	bool granted;
	const char *reason; /* refused: why, borrowed */
	uint32_t root_ports;
};

json_object *cache_claim_reply_encode(const struct cache_claim_reply *r);
int cache_claim_reply_decode(json_object *msg, struct cache_claim_reply *r, veil_err_t *err);

/* SCRUBBING: a returned VM being reset for its next tenant. LOANED: claimed,
 * its slot kept for its return (reset = "scrub"). */
enum cache_vm_state { CACHE_VM_BOOTING, CACHE_VM_PAUSED, CACHE_VM_SCRUBBING, CACHE_VM_LOANED };

struct cache_vm_status {
	enum cache_vm_state state;
	bool cloned;          /* a clone of the template, not a boot */
	uint32_t scrubs;      /* tenants it served and was scrubbed after */
	bool warmed;          /* ran the factory's warm-up container, and was scrubbed after it */
	pid_t qemu_pid;       /* 0 while booting */
	pid_t keeper_pid;
	uint64_t age_ms;      /* since its boot started */
	uint32_t boot_ms;     /* start to agent-ready; 0 while booting */
	uint32_t vcpus;
	uint32_t memory_mib;
};

enum cache_template_state { CACHE_TEMPLATE_OFF, CACHE_TEMPLATE_BUILDING, CACHE_TEMPLATE_READY, CACHE_TEMPLATE_FAILED };

struct cache_status {
	pid_t pid;
	enum cache_template_state template_state;
	char template_hash[65]; /* READY: its configuration hash */
	uint32_t template_build_ms;
	uint32_t returned;    /* VMs taken back, scrubbed and pooled again */
	uint32_t target;      /* vm_cache_number */
	uint32_t claimed;     /* VMs handed out since the daemon started */
	uint32_t failures;    /* boots that failed and VMs lost while pooled */
	size_t n_vms;
	struct cache_vm_status vms[CACHE_MAX_VMS];
};

json_object *cache_status_encode(const struct cache_status *s);
int cache_status_decode(json_object *msg, struct cache_status *s, veil_err_t *err);
const char *cache_vm_state_name(enum cache_vm_state state);
const char *cache_template_state_name(enum cache_template_state state);

/* Keeper -> factory, with the VM's pidfd, control and agent channels: booted (or
 * cloned, or scrubbed after a tenant), agent ready, paused. */
struct cache_ready {
	const char *name;     /* the keeper's VM name, borrowed */
	pid_t qemu_pid;
	uint32_t boot_ms;     /* for a scrub: how long it took */
	uint32_t root_ports;
	bool cloned;
	uint32_t scrubs;
	bool warmed;
};

json_object *cache_ready_encode(const struct cache_ready *r);
int cache_ready_decode(json_object *msg, struct cache_ready *r, veil_err_t *err);

#endif
