/* The SEV-SNP launch digest of a direct kernel boot under QEMU, computed the
 * way virtee/sev-snp-measure (and virtee/sev's measurement module) do, so
 * that `veil measure` prints the MEASUREMENT an SNP guest will report:
 *
 *   1. every 4 KiB page of the OVMF image, mapped to end at 4 GiB, as a
 *      NORMAL page;
 *   2. the sections of OVMF's SEV metadata ("ASEV"), in order: secure memory
 *      and the SVSM CAA as ZERO pages, the SECRETS page, the CPUID page, and
 *      the kernel-hashes page: a NORMAL page holding, at the offset OVMF's
 *      footer table names, QEMU's table of SHA-256(kernel), SHA-256(initrd)
 *      and SHA-256(command line + NUL);
 *   3. one VMSA per vCPU: the boot processor's starting at 0xfffffff0, the
 *      others at OVMF's SEV-ES reset vector, with QEMU's initial register
 *      state for the vCPU model and the guest's SEV_FEATURES.
 *
 * Each page extends the digest as the SNP firmware's SNP_LAUNCH_UPDATE does
 * (ABI spec, "PAGE_INFO"): digest = SHA-384(digest || contents hash ||
 * length 0x70 || page type || 0 (IMI) || 0, 0, 0 (VMPL permissions) || 0 ||
 * GPA), starting from 48 zero bytes. */
#ifndef VEIL_ATTEST_SNP_LAUNCH_H
#define VEIL_ATTEST_SNP_LAUNCH_H

#include <stdint.h>

#include "lib/error.h"

/* SEV_FEATURES bits seen in practice: SNPActive always, DebugSwap (0x20)
 * when the host's KVM enables it; the value must be what KVM put in the VMSA. */
#define VEIL_SNP_FEATURE_SNP_ACTIVE 0x1ULL
#define VEIL_SNP_FEATURE_DEBUG_SWAP 0x20ULL

struct veil_snp_launch {
	const char *ovmf;        /* firmware image: an AmdSev build for a kernel */
	const char *kernel;      /* NULL: the firmware boots on its own, no hashes */
	const char *initrd;      /* NULL: hashed as no bytes */
	const char *cmdline;     /* NULL: hashed as "" (QEMU hashes the NUL) */
	unsigned vcpus;          /* 1 or more */
	const char *vcpu_type;   /* QEMU model: "EPYC-v4", "EPYC-Milan", "EPYC-Genoa", ... */
	uint64_t guest_features; /* SEV_FEATURES; sev-snp-measure's default is SNPActive (0x1) */
};

int veil_snp_launch_digest(const struct veil_snp_launch *launch, uint8_t out[48], veil_err_t *err);

#endif
