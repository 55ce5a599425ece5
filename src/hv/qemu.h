/* The QEMU backend's command line, for its own use and its unit tests. */
#ifndef VEIL_HV_QEMU_H
#define VEIL_HV_QEMU_H

#include <stddef.h>

#include "hv/hypervisor.h"
#include "lib/error.h"
#include "lib/strv.h"

/* QEMU's fds: QMP on 3, the agent channel on 4, then the TEE port's for a
 * confidential guest, then the tap of a NIC. */
#define VEIL_QEMU_FD_QMP 3
#define VEIL_QEMU_FD_AGENT 4

/* The kernel command line, as -append gives it and as the TEE measures it. */
int veil_qemu_kernel_cmdline(const struct veil_vm_config *cfg, char *out, size_t size, veil_err_t *err);
/* QEMU's whole argv for cfg. */
int veil_qemu_build_argv(const struct veil_vm_config *cfg, struct veil_strv *argv, veil_err_t *err);

#endif
