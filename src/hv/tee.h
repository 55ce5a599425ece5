/* The confidential side of a VM (docs/confidential.md): which TEE runs it,
 * with what init-data, whether this host can run it at all, and the host's
 * end of its TEE port (proto/tee.h), a process beside QEMU that answers the
 * guest's requests. */
#ifndef VEIL_HV_TEE_H
#define VEIL_HV_TEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/evidence.h"
#include "attest/initdata.h"
#include "attest/initdata_config.h"
#include "lib/config.h"
#include "lib/error.h"

/* A confidential VM's launch, owned: veil_vm_config.tee points to one. */
struct veil_tee_config {
	enum veil_tee tee;
	const char *firmware;         /* snp: an AmdSev OVMF, tdx: TDVF (borrowed from the configuration) */
	const char *chip_dir;         /* emulated: the chip's directory (borrowed) */
	struct veil_initdata init_data; /* .text NULL: none */
	struct veil_kbs_address kbs;  /* .host "" when init-data names no KBS */
	/* SNP: the C-bit position and physical address bits lost, from this
	 * host's CPUID; the vCPU model and SEV_FEATURES the launch digest needs. */
	uint32_t cbitpos, reduced_phys_bits;
	const char *snp_vcpu_type;
	uint64_t snp_guest_features;
};

/* The confidential launch cfg describes, with its init_data file if it names
 * one. Checks the init-data's KBS address, policy and secrets, so that a
 * mistake is reported here rather than inside the guest. */
int veil_tee_config_from(const struct veil_config *cfg, struct veil_tee_config *tc, veil_err_t *err);
/* Replaces the init-data (a container's annotation overrides the file). */
int veil_tee_config_set_init_data(struct veil_tee_config *tc, const char *toml, size_t len, veil_err_t *err);
void veil_tee_config_free(struct veil_tee_config *tc);
/* The init-data digest as the TEE holds it: HOST_DATA (32 bytes) or
 * MRCONFIGID (48); all zero without init-data. Returns its length. */
size_t veil_tee_config_field(const struct veil_tee_config *tc, uint8_t field[48]);

/* What this host lacks to run tee with this QEMU and firmware (NULL: not
 * configured): one "; "-separated list of everything missing (/dev/kvm,
 * kvm_amd's sev_snp, /dev/sev, QEMU's sev-snp-guest object, the firmware...),
 * empty when nothing is. The emulated TEE needs nothing. */
void veil_tee_host_missing(enum veil_tee tee, const char *qemu, const char *firmware, char *missing, size_t size);
/* Fails with that list when it is not empty. */
int veil_tee_host_check(enum veil_tee tee, const char *qemu, const char *firmware, veil_err_t *err);
/* The TEE cfg names (cfg->qemu.tee), 0 if it asks for none. */
enum veil_tee veil_tee_configured(const struct veil_config *cfg);

/* The TEE port's host end: forks a process that serves the guest on port_fd
 * (the host end of the port's socketpair, given to it) until QEMU, whose
 * pidfd it watches, exits; it also dies with its parent. measurement is what
 * the emulated chip reports (ignored for SNP and TDX, whose guests ask their
 * hardware); the chip must have been opened by the caller. name names
 * the VM in log lines. */
struct veil_emulated_chip;
/* The network namespace (an fd of it) from which the TEE services this
 * process starts reach the KBS: a monitor that moves itself into a
 * container's new network namespace before it boots the VM names the one it
 * came from, where init-data's KBS address means what the tenant meant.
 * Without it (-1), a service connects from its own. */
void veil_tee_service_set_netns(int netns_fd);
int veil_tee_service_start(const struct veil_tee_config *tc, const struct veil_emulated_chip *chip,
			   const uint8_t measurement[48], const char *name, int port_fd, int qemu_pidfd, pid_t *pid,
			   veil_err_t *err);

#endif
