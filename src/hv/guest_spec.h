/* config.json as the guest agent takes it: the CreateContainerRequest and
 * the Process of ExecProcess, built from a parsed spec as runc's specconv
 * builds its configuration (runc's default device rules appended, bind
 * mounts of small host files copied in, an exec taking the init's
 * capabilities when its process.json has none). */
#ifndef VEIL_GUEST_SPEC_H
#define VEIL_GUEST_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"
#include "lib/oci_spec.h"
#include "proto/rpc.h"

/* The request, and every block built for it; the spec's strings are borrowed. */
struct veil_guest_request {
	Veil__Agent__V1__CreateContainerRequest req;
	void **blocks;
	size_t n_blocks, cap_blocks;
};

/* own_netns: whether the init gets a network namespace of its own (not when
 * the host handed the VM a netns: the guest's interface then lives in the
 * guest's root namespace, and the VM is the boundary around it). Warns (log)
 * about what the guest cannot have and skips it: bind mounts other than
 * small files, the host's block devices, unknown capabilities. */
int veil_guest_request_build(struct veil_guest_request *g, const char *id, const char *rootfs_serial,
			     const struct oci_spec *spec, bool own_netns, veil_err_t *err);
void veil_guest_request_release(struct veil_guest_request *g);

/* The Process of an ExecProcessRequest. container_init: the container's
 * process (config.json's), whose capabilities, no_new_privileges and
 * oomScoreAdj an exec's process.json inherits where it sets none, as with
 * runc; NULL for the init itself. Release with veil_guest_process_release. */
int veil_guest_process(Veil__Agent__V1__Process *msg, const struct oci_process *p, const struct oci_process *container_init,
		       veil_err_t *err);
void veil_guest_process_release(Veil__Agent__V1__Process *msg);

#endif
