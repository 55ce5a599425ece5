/* The filesystem view of a container's init, built inside its new mount
 * namespace by the child process before it execs. */
#ifndef VEIL_AGENT_MOUNTNS_H
#define VEIL_AGENT_MOUNTNS_H

#include "lib/error.h"
#include "proto/rpc.h"

/* Makes rootfs the root (pivot_root), then mounts spec->mounts inside it and
 * applies the readonly and masked paths. Runs in the child, after unshare(CLONE_NEWNS). */
int agent_mountns_setup(const Veil__Agent__V1__CreateContainerRequest *spec, const char *rootfs, veil_err_t *err);

#endif
