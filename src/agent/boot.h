/* What the agent does as PID 1 before it can serve the host. */
#ifndef VEIL_AGENT_BOOT_H
#define VEIL_AGENT_BOOT_H

#include "lib/error.h"

/* Moves off the initramfs root, mounts the kernel filesystems and the cgroup
 * tree, and reads the agent's options from the kernel command line. */
int agent_boot(veil_err_t *err);

#endif
