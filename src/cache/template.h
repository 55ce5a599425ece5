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

/* Paths under cfg's template_path only: enough to remove the template. */
int veil_template_locate(struct veil_template *t, const struct veil_config *cfg, veil_err_t *err);
/* The paths and the hash of cfg's VM shape: a few stat(2) calls. */
int veil_template_init(struct veil_template *t, const struct veil_config *cfg, veil_err_t *err);

/* Returns 1 if the template is complete and built for this configuration,
 * with *info filled; 0 with a one-line reason otherwise (missing, for another
 * configuration, corrupt). deep also hashes the memory file (about a second
 * per GiB); without it, its size and the state file's hash are checked. */
int veil_template_check(const struct veil_template *t, bool deep, struct veil_template_info *info, char *why,
			size_t why_len);

/* The VM configuration of every VM of the factory (booted, template or clone);
 * accel decides KVM or TCG. Strings are borrowed from cfg. */
int veil_cache_vm_config(const struct veil_config *cfg, const char *name, const char *console,
			 struct veil_vm_config *vmc, veil_err_t *err);

/* Boots the template VM, waits for its agent, saves it and writes
 * template.json; replaces any template there was. abort_fd (or -1) aborts the
 * wait for the agent when readable. */
int veil_template_build(const struct veil_template *t, const struct veil_config *cfg, const char *console,
			int abort_fd, struct veil_template_info *info, veil_err_t *err);

/* Starts a clone: QEMU maps the template's memory privately, loads its state
 * and stays paused, the agent channel open but not yet greeted. On failure
 * the VM is torn down. */
int veil_template_clone(const struct veil_template *t, const struct veil_config *cfg, const char *name,
			const char *console, struct veil_vm *vm, veil_err_t *err);

/* Removes the template's files and directory; a missing template is fine. */
int veil_template_remove(const struct veil_template *t, veil_err_t *err);

#endif
