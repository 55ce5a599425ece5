/* The filesystem view of a container's init, built inside its new mount
 * namespace by the child process before it execs. */
#ifndef VEIL_AGENT_MOUNTNS_H
#define VEIL_AGENT_MOUNTNS_H

#include "agent/container.h"
#include "lib/error.h"

/* Mounts c's spec->mounts (host files bound, a tmpfs /dev given the default
 * devices), the container's secrets (the directory secrets, or NULL for
 * none) read-only at /run/secrets, and makes spec->devices inside c's rootfs,
 * makes it the root (pivot_root), sets its propagation, writes the sysctls
 * and applies the readonly and masked paths. Runs in the child, after
 * unshare(CLONE_NEWNS). */
int agent_mountns_setup(const struct agent_container *c, const char *secrets, veil_err_t *err);

#endif
