#include "runtime/rootfs_image.h"

#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>

#include "lib/spawn.h"

int veil_rootfs_image_build(const char *rootfs_dir, const char *image_path, veil_err_t *err)
{
	struct stat st;
	if (stat(rootfs_dir, &st) < 0)
		return veil_fail(err, errno, "rootfs %s", rootfs_dir);
	if (!S_ISDIR(st.st_mode))
		return veil_fail(err, ENOTDIR, "rootfs %s", rootfs_dir);
	/* Uncompressed: under TCG the guest's decompression costs more than the
	 * extra blocks it saves. Ownership and modes are kept as in the bundle. */
	char *const argv[] = { "mkfs.erofs", "--quiet", (char *)image_path, (char *)rootfs_dir, NULL };
	if (veil_run_program(argv, err) < 0)
		return veil_fail_context(err, "building the rootfs image");
	return 0;
}
