/* The factory: a daemon that keeps [factory] vm_cache_number VMs booted and
 * paused, hands them out on its endpoint, and the commands around it. */
#ifndef VEIL_CACHE_FACTORY_H
#define VEIL_CACHE_FACTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/wire.h"
#include "lib/config.h"
#include "lib/error.h"

/* The keeper's end of its control socket. */
#define CACHE_KEEPER_FD 3

struct veil_factory_opts {
	const struct veil_config *cfg;
	/* veil itself and its global options (configuration file, logging):
	 * keepers run it with "factory keeper ..." appended. NULL-terminated. */
	char *const *veil_argv;
	bool detach;
	const char *pid_file; /* NULL: none */
	/* Builds the warm-up container's rootfs image at image_path: an erofs
	 * image holding CACHE_WARM_UP_PROGRAM, a static program that exits 0.
	 * Called once per daemon start when [factory] warm_up is on. */
	int (*build_warm_up_image)(const char *image_path, veil_err_t *err);
};

/* Where the warm-up container's program is in its rootfs. */
#define CACHE_WARM_UP_PROGRAM "/warm-up"

/* Runs the daemon until SIGTERM, SIGINT or SIGHUP. With detach, the call
 * returns 0 in the parent once the daemon serves its endpoint, and the
 * daemon returns from it when it stops; *is_daemon tells which is which.
 * With vm_cache_number = 0 and a template, no daemon: it checks the
 * template, builds it if need be, and returns. */
int veil_factory_run(const struct veil_factory_opts *o, bool *is_daemon, veil_err_t *err);

/* A keeper: boots cached VM `name` (or clones the template) with its console
 * in `console`, warms it up with a throwaway container on the rootfs image
 * warm_up_image (NULL: no warm-up) and scrubs it, hands it over on
 * CACHE_KEEPER_FD and stays QEMU's parent until the VM is gone, scrubbing it
 * whenever it is returned. */
int veil_factory_keeper(const struct veil_config *cfg, const char *name, const char *console, bool clone,
			const char *warm_up_image, veil_err_t *err);

/* Builds the template; the factory runs it as a child, CACHE_KEEPER_FD
 * aborting the build when the factory goes away. */
int veil_factory_build_template(const struct veil_config *cfg, const char *console, veil_err_t *err);

/* 1 with *st filled; 0 if no factory serves the endpoint. */
int veil_factory_status(const struct veil_config *cfg, struct cache_status *st, veil_err_t *err);

/* Has the factory write the memory of pooled VM qemu_pid (0: any pooled VM)
 * to out_fd as an ELF core (the backend's dump_memory); *dumped names the VM. */
int veil_factory_dump(const struct veil_config *cfg, pid_t qemu_pid, int out_fd, pid_t *dumped, veil_err_t *err);

/* Stops the daemon (SIGTERM, SIGKILL after a grace period), kills every
 * pooled VM and removes the instance's files and the template. Claimed VMs
 * are left to their containers (clones keep their own copy of the template's
 * memory file open). *was_running tells whether a daemon was stopped. */
int veil_factory_destroy(const struct veil_config *cfg, bool *was_running, veil_err_t *err);

#endif
