/* The container rootfs reaches the guest as a read-only erofs block image:
 * no host filesystem is ever shared with a confidential guest. */
#ifndef VEIL_ROOTFS_IMAGE_H
#define VEIL_ROOTFS_IMAGE_H

#include "lib/error.h"

int veil_rootfs_image_build(const char *rootfs_dir, const char *image_path, veil_err_t *err);

#endif
