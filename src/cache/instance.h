/* One factory instance: its files and processes all derive from its
 * endpoint, so factories on different endpoints (tests next to a real one)
 * never touch each other's.
 *
 *   <endpoint>            the claim socket (0600)
 *   <endpoint>.d/lock     flock'ed by the running daemon, holds its pid
 *   <endpoint>.d/NAME.console   serial console of cached VM NAME, while it lives
 *   <endpoint>.d/warm-up.erofs  the warm-up container's rootfs ([factory] warm_up)
 *
 * A cached VM NAME is "cache-<tag>-<daemon pid>-<n>"; its keeper runs
 * `veil ... factory keeper --name NAME` and its QEMU `-name veil-NAME`. */
#ifndef VEIL_CACHE_INSTANCE_H
#define VEIL_CACHE_INSTANCE_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/error.h"

/* Process names (comm) of keepers: a pooled VM's keeper may be killed by a
 * new daemon cleaning up; a claimed one serves a container and is left alone. */
#define CACHE_KEEPER_POOLED "veil-pooled"
#define CACHE_KEEPER_CLAIMED "veil-claimed"

struct cache_instance {
	char endpoint[108]; /* sizeof(sockaddr_un.sun_path) */
	char dir[112];
	char lock_path[120];
	char warm_up_image[128];
	char tag[16]; /* hex hash of the endpoint */
};

int cache_instance_init(struct cache_instance *in, const char *endpoint, veil_err_t *err);
/* "cache-<tag>-<pid>-<n>" and its console file. */
void cache_vm_name(const struct cache_instance *in, pid_t daemon, unsigned n, char *out, size_t size);
void cache_console_path(const struct cache_instance *in, const char *name, char *out, size_t size);

/* Takes the instance lock. Returns its fd, or -1: if a daemon holds it, the
 * error reads "factory is already running (pid N)" and *holder is N. */
int cache_lock(const struct cache_instance *in, pid_t *holder, veil_err_t *err);
int cache_lock_set_pid(int lock_fd, pid_t pid, veil_err_t *err);
/* The pid of the daemon holding the lock; 0 if none does (or it has not
 * written its pid yet). */
pid_t cache_lock_holder(const struct cache_instance *in);

/* With the lock held: kills what a dead daemon left (keepers of pooled VMs,
 * QEMUs without a keeper), waits for them to go, and removes the socket and
 * every console file no claimed VM uses. Returns how many processes it killed. */
int cache_cleanup_leftovers(const struct cache_instance *in);
/* With the lock held, last thing before releasing it: removes the socket,
 * the warm-up image, the lock file and, if empty, the directory. */
void cache_remove_files(const struct cache_instance *in);

#endif
