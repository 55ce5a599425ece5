/* The writable layer of a non-confidential container with shared_fs =
 * "none", kept on the host so that it outlives the VM: a sparse ext4 image
 * beside the container's rootfs, VEIL_UPPER_SERIAL in the guest, where the
 * agent puts the overlay's upper and work directories. So a file written
 * before `podman restart` (a delete and a create of the same container) is
 * there after it (docs/volumes.md).
 *
 * Beside the rootfs, it goes with what holds the rootfs: podman's layer
 * directory (podman rm), containerd's bundle, a bundle of one's own (as the
 * changes runc makes to a rootfs directory stay in it). The image is locked
 * while a container uses it. */
#ifndef VEIL_RUNTIME_WRITABLE_LAYER_H
#define VEIL_RUNTIME_WRITABLE_LAYER_H

#include <stdbool.h>

#include "lib/error.h"

/* Its size as the guest sees it; the file holds only what is written. */
#define VEIL_WRITABLE_LAYER_BYTES ((long long)8 << 30)

struct veil_writable_layer {
	char *path;   /* NULL: none (the layer is in guest memory) */
	int lock_fd;  /* holds the image's lock */
	bool created; /* made for this create: removed if the create fails */
};

void veil_writable_layer_init(struct veil_writable_layer *w);
/* The layer of container id whose rootfs is rootfs: opened and locked,
 * made (mkfs.ext4) if it does not exist yet. 0 on success; 0 with w->path
 * NULL and a logged reason when the directory cannot hold one (a read-only
 * bundle: the layer stays in guest memory); -1 with *err when it exists and
 * another container holds it, or cannot be made. */
int veil_writable_layer_open(const char *rootfs, const char *id, struct veil_writable_layer *w, veil_err_t *err);
/* Unlocks it; removes it if discard and it was made by this create. */
void veil_writable_layer_close(struct veil_writable_layer *w, bool discard);

#endif
