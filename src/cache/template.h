/* VM templates (docs/templates-and-reset.md): one VM booted to agent-ready
 * with its RAM in a file, paused and its device state saved; clones map that
 * file copy-on-write and load the state instead of booting.
 *
 *   <template_path>/memory         guest RAM, written by the template VM only
 *   <template_path>/state          QEMU's device state (migration stream)
 *   <template_path>/template.json  what they were built for, written last
 *
 * A rebuild writes new files and renames them into place, so clones running
 * from the old memory file keep their (now unlinked) inode untouched. */
#ifndef VEIL_CACHE_TEMPLATE_H
#define VEIL_CACHE_TEMPLATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/hypervisor.h"
#include "lib/config.h"
#include "lib/error.h"

#define TEMPLATE_HASH_HEX 65

struct veil_template {
	char dir[PATH_MAX];
	char memory[PATH_MAX];
	char state[PATH_MAX];
	char meta[PATH_MAX];
	/* SHA-256 of what a clone must share with its template: the kernel,
	 * initrd and QEMU binary (path and file identity), machine, sizes,
	 * command line, accelerator. */
	char config_hash[TEMPLATE_HASH_HEX];
	uint32_t memory_mib;
};

/* What template.json records. */
struct veil_template_info {
	char config_hash[TEMPLATE_HASH_HEX];
	uint64_t memory_bytes;
	char memory_sha256[TEMPLATE_HASH_HEX];
	char state_sha256[TEMPLATE_HASH_HEX];
	uint32_t build_ms;
	int64_t created; /* seconds since the epoch */
};

/* The paths under dir only: enough to clone or remove the template. */
int veil_template_locate(struct veil_template *t, const char *dir, veil_err_t *err);
/* The paths and the hash of the VM that clones would run, vmc (its name,
 * console, disks and NIC aside): a few stat(2) calls. */
int veil_template_init(struct veil_template *t, const char *dir, const struct veil_vm_config *vmc, veil_err_t *err);
/* As veil_template_init for the factory's template: [factory]
 * template_path, and the VM of veil_cache_vm_config, into *vmc. */
int veil_template_configured(struct veil_template *t, const struct veil_config *cfg, const char *console,
			     struct veil_vm_config *vmc, veil_err_t *err);

/* Returns 1 if the template is complete and built for this configuration,
 * with *info filled; 0 with a one-line reason otherwise (missing, for another
 * configuration, corrupt). deep also hashes the memory file (about a second
 * per GiB); without it, its size and the state file's hash are checked. */
int veil_template_check(const struct veil_template *t, bool deep, struct veil_template_info *info, char *why,
			size_t why_len);

/* The VM configuration of every VM of the factory (booted, template or clone):
 * root ports for NICs, and a rootfs slot that a claim fills without hot-plug;
 * accel decides KVM or TCG. Strings are borrowed from cfg; a confidential
 * guest's launch is made in *tee (veil_vm_config_from). */
int veil_cache_vm_config(const struct veil_config *cfg, const char *name, const char *console, struct veil_tee_config *tee,
			 struct veil_vm_config *vmc, veil_err_t *err);

/* Boots the template VM vmc on hv, waits up to ready_timeout_ms for its
 * agent, saves it and writes template.json; replaces any template there was.
 * abort_fd (or -1) aborts the wait for the agent when readable. */
int veil_template_build(const struct veil_template *t, const struct veil_hypervisor *hv,
			const struct veil_vm_config *vmc, int abort_fd, int ready_timeout_ms,
			struct veil_template_info *info, veil_err_t *err);

/* Starts a clone of VM vmc on hv: the VMM maps the template's memory
 * privately, loads its state and stays paused, the agent channel open but
 * not yet greeted. On failure the VM is torn down. */
int veil_template_clone(const struct veil_template *t, const struct veil_hypervisor *hv,
			const struct veil_vm_config *vmc, struct veil_vm *vm, veil_err_t *err);

/* Removes the template's files and directory; a missing template is fine. */
int veil_template_remove(const struct veil_template *t, veil_err_t *err);

#endif
