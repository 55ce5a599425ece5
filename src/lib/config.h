/* The runtime configuration: a strict TOML file in the layout of Kata
 * Containers' configuration.toml. Unknown tables and keys are errors, so a
 * typo is reported instead of silently falling back to a default. */
#ifndef VEIL_CONFIG_H
#define VEIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

enum veil_accel { VEIL_ACCEL_AUTO, VEIL_ACCEL_KVM, VEIL_ACCEL_TCG };
/* How a VM is readied for its next tenant (docs/templates-and-reset.md). */
enum veil_reset { VEIL_RESET_CLONE, VEIL_RESET_SCRUB };
/* Whether host directories reach the guest ([hypervisor.qemu] shared_fs,
 * Kata's name; docs/volumes.md). */
enum veil_shared_fs { VEIL_SHARED_FS_NONE, VEIL_SHARED_FS_VIRTIO_FS };

struct veil_config {
	char *path; /* file loaded (malloc'd); NULL after veil_config_parse */
	/* The hypervisor backend, named as its [hypervisor.NAME] table (Kata's
	 * layout): "qemu", the only one so far. */
	const char *hypervisor;
	struct {
		char *path;
		char *kernel; /* NULL when not configured */
		char *initrd; /* NULL when not configured */
		char *machine_type;
		uint32_t default_memory; /* MiB */
		uint32_t default_vcpus;
		uint32_t memory_overhead; /* MiB the host cgroup allows QEMU beyond the guest's memory */
		char *kernel_params;
		enum veil_accel accel;
		bool pvm_guest;
		/* A confidential guest (docs/confidential.md): tee names the
		 * kind, "snp", "tdx" or "emulated"; NULL when not confidential. */
		bool confidential_guest;
		char *tee;
		char *firmware;           /* snp: an AmdSev OVMF; tdx: TDVF; NULL when not configured */
		char *emulated_tee_dir;   /* the emulated TEE's chip (0700) */
		char *init_data;          /* an init-data TOML file for every container, or NULL */
		char *snp_vcpu_type;      /* QEMU's -cpu for SNP guests, which the launch digest depends on */
		uint32_t snp_guest_features; /* SEV_FEATURES the host's KVM sets in the VMSA */
		/* "none": the rootfs is an erofs image, no host directory reaches
		 * the guest; "virtio-fs": the rootfs and bind mounts are shared by
		 * a virtiofsd per container (never with confidential_guest). */
		enum veil_shared_fs shared_fs;
		char *virtio_fs_daemon;
		char *virtio_fs_cache; /* virtiofsd's -o cache=: "none", "auto" or "always" */
	} qemu;
	struct {
		uint32_t dial_timeout;    /* seconds to wait for agent ready */
		uint32_t request_timeout; /* seconds per request */
		bool debug_console_enabled;
	} agent;
	struct {
		char *state_dir;
		char *log_level; /* "debug", "info", "warn" or "error" */
		enum veil_reset reset;
		char *image_cache_dir;       /* rootfs images by fingerprint */
		uint32_t image_cache_size;   /* MiB; 0 turns the cache off */
		bool trace;      /* log a per-phase record of every start (docs/tracing.md) */
		char *trace_dir; /* and write Chrome trace files here; NULL for none */
	} runtime;
	struct {
		uint32_t vm_cache_number;
		char *vm_cache_endpoint;
		uint32_t pcie_root_port;
		bool enable_template;
		/* Run a throwaway container in each VM, and scrub it, before it is pooled. */
		bool warm_up;
		char *template_path;
	} factory;
};

/* Kata's lookup order: cli_path (--config), then env VEIL_CONF_FILE, then the
 * default paths. The first that exists wins; a missing --config or
 * VEIL_CONF_FILE file is an error, and so is finding none. On success free
 * cfg with veil_config_free; on failure cfg holds nothing. */
int veil_config_load(const char *cli_path, struct veil_config *cfg, veil_err_t *err);
/* Same with an explicit list of default paths, for tests. */
int veil_config_load_from(const char *cli_path, const char *const *default_paths, size_t n_default,
			  struct veil_config *cfg, veil_err_t *err);
/* Parses a document; errors read "ORIGIN:LINE:COL: ...". */
int veil_config_parse(const char *text, size_t len, const char *origin, struct veil_config *cfg, veil_err_t *err);
void veil_config_free(struct veil_config *cfg);

#define VEIL_CONFIG_MAX_DEFAULT_PATHS 3
/* The default paths in order: /etc/veil/configuration.toml,
 * /usr/share/defaults/veil/configuration.toml, and last the
 * configuration.toml beside the running binary (in beside, PATH_MAX bytes),
 * so that a built tree's build/veil finds build/configuration.toml. Returns
 * how many it put in paths. */
size_t veil_config_default_paths(const char *paths[VEIL_CONFIG_MAX_DEFAULT_PATHS], char *beside);

#endif
