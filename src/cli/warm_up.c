/* The rootfs of the factory's warm-up container: an erofs image holding one
 * static program of veil's own build (guest/warm-up), which veil carries in
 * its binary, so that no file of the host's or of a user's is run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/factory.h"
#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "runtime/rootfs_image.h"

/* The program's bytes, put here by the assembler from the build's binary. */
__asm__(".pushsection .rodata\n"
	".balign 16\n"
	"warm_up_program:\n"
	".incbin \"" VEIL_WARM_UP_PROGRAM "\"\n"
	"warm_up_program_end:\n"
	".popsection\n");
extern const unsigned char warm_up_program[], warm_up_program_end[];

/* The mount points of runc's default spec that a read-only root must have;
 * what /dev and /sys hold below them is made by their own mounts. */
static const char *const mount_points[] = { "proc", "dev", "sys" };
#define N_MOUNT_POINTS (sizeof(mount_points) / sizeof(mount_points[0]))

static int fill_rootfs(const char *rootfs, veil_err_t *err)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < N_MOUNT_POINTS; i++) {
		snprintf(path, sizeof(path), "%s/%s", rootfs, mount_points[i]);
		if (mkdir(path, 0755) < 0)
			return veil_fail(err, errno, "warm-up rootfs %s", path);
	}
	snprintf(path, sizeof(path), "%s%s", rootfs, CACHE_WARM_UP_PROGRAM);
	if (veil_write_file_atomic(path, warm_up_program, (size_t)(warm_up_program_end - warm_up_program), err) < 0)
		return -1;
	if (chmod(path, 0755) < 0)
		return veil_fail(err, errno, "warm-up program %s", path);
	return 0;
}

int veil_cli_build_warm_up_image(const char *image_path, veil_err_t *err)
{
	/* Short enough that every path in it fits PATH_MAX. */
	char rootfs[PATH_MAX / 2], tmp[PATH_MAX];
	if ((size_t)snprintf(rootfs, sizeof(rootfs), "%s.rootfs.XXXXXX", image_path) >= sizeof(rootfs) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.new", image_path) >= sizeof(tmp))
		return veil_fail(err, ENAMETOOLONG, "warm-up image %s", image_path);
	if (mkdtemp(rootfs) == NULL)
		return veil_fail(err, errno, "warm-up rootfs %s", rootfs);
	/* No image cache: the factory's own file, built once per factory start. */
	const struct veil_image_cache no_cache = { 0 };
	bool hit;
	unlink(tmp);
	int rc = fill_rootfs(rootfs, err);
	if (rc == 0)
		rc = veil_rootfs_image_get(rootfs, tmp, &no_cache, &hit, err);
	if (rc == 0 && rename(tmp, image_path) < 0)
		rc = veil_fail(err, errno, "warm-up image %s", image_path);
	if (rc < 0)
		unlink(tmp);
	veil_remove_tree(rootfs);
	return rc < 0 ? veil_fail_context(err, "building the warm-up image") : 0;
}
