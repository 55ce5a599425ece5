/* The container rootfs reaches the guest as a read-only erofs block image:
 * no host filesystem is ever shared with a confidential guest. Images are
 * cached by a fingerprint of the rootfs tree, so that starting an unchanged
 * rootfs builds nothing. */
#ifndef VEIL_ROOTFS_IMAGE_H
#define VEIL_ROOTFS_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"

/* Where images are kept, and how much of them: max_bytes 0 turns it off. */
struct veil_image_cache {
	const char *dir;
	uint64_t max_bytes;
};

/* The image of rootfs_dir at image_path, padded (sparse) to
 * VEIL_DISK_SLOT_BYTES so that it fits a VM's rootfs slot: a link to the
 * cached one when the tree is as it was (*hit), else built, and cached. A cache that cannot be
 * used (not private to us, on another filesystem) is bypassed with a
 * warning: the image is built all the same. */
int veil_rootfs_image_get(const char *rootfs_dir, const char *image_path, const struct veil_image_cache *cache,
			  bool *hit, veil_err_t *err);

/* The cache key of a rootfs tree: SHA-256 (hex) of every entry's path, type,
 * mode, owner, size, inode, modification and change times, device and link
 * target, in name order. Any write to a file, or another file in its place,
 * changes it; reading a file's contents is what it saves. */
int veil_rootfs_fingerprint(const char *rootfs_dir, char out[65], veil_err_t *err);

#endif
