/* The emulated TEE's chip: a host-side stand-in for the AMD secure processor,
 * for development and CI on machines without SEV-SNP or TDX.
 *
 * It PROTECTS NOTHING. The host holds the chip key, so whoever controls the
 * host can sign any report with any measurement. Its reports have the real
 * SNP layout and signature scheme (so the same verifier, KBS and guest code
 * run), but their chain ends in veil's emulated ARK, which veil_snp_verify
 * accepts only when that ARK is configured as an anchor, and then reports as
 * VEIL_TEE_EMULATED, never as SNP.
 *
 * The chip lives in a directory the caller names (mode 0700): ark.der,
 * ask.der and vcek.der (certificates) and vcek.key (the chip's P-384 key,
 * PKCS#8 DER), each 0600. veil creates them once; the ARK and ASK private
 * keys are discarded after signing, so nothing new can ever chain to that
 * ARK except through this one VCEK. */
#ifndef VEIL_ATTEST_EMULATED_H
#define VEIL_ATTEST_EMULATED_H

#include <stddef.h>
#include <stdint.h>

#include "attest/evidence.h"
#include "lib/error.h"

/* The product name of the emulated anchor (struct veil_snp_anchor.product). */
#define VEIL_EMULATED_PRODUCT "emulated"
/* Every emulated certificate's common name starts with this, so that no one
 * mistakes them and refusals can say what they are. */
#define VEIL_EMULATED_NAME_MARK "veil emulated"

/* The chip's TCB, in the Milan layout: bootloader 1, TEE 2, SNP 3,
 * microcode 4 (distinct values, so that a misplaced byte shows). */
#define VEIL_EMULATED_TCB 0x0403000000000201ULL

struct veil_emulated_chip;

/* Loads the chip from dir, creating dir (0700) and the chip first if there is
 * none. Loading checks the directory and file modes and owner, the chain
 * ARK -> ASK -> VCEK and that vcek.key is the VCEK's key. Creation and loading
 * hold an exclusive lock on dir, so concurrent callers get the same chip. */
int veil_emulated_chip_open(const char *dir, struct veil_emulated_chip **chip, veil_err_t *err);
void veil_emulated_chip_free(struct veil_emulated_chip *chip);

/* The anchor under which veil_snp_verify accepts this chip's reports, as
 * VEIL_TEE_EMULATED. Its certificates belong to chip. */
struct veil_snp_anchor veil_emulated_chip_anchor(const struct veil_emulated_chip *chip);
/* The VCEK certificate (DER) that goes with the chip's reports. */
const uint8_t *veil_emulated_chip_vcek(const struct veil_emulated_chip *chip, size_t *len);
/* CHIP_ID, also the VCEK's hwID: random, made with the chip. */
const uint8_t *veil_emulated_chip_id(const struct veil_emulated_chip *chip);

/* What the emulated TEE puts into one report. */
struct veil_emulated_report_request {
	uint8_t measurement[48];  /* veil_emulated_launch_measurement of the launch */
	uint8_t host_data[32];    /* the init-data digest, as SNP HOST_DATA */
	uint8_t report_data[64];  /* the guest's REPORT_DATA */
	uint64_t policy;          /* SNP guest policy */
	uint64_t reported_tcb;    /* VEIL_EMULATED_TCB, unless a test wants a mismatch */
	uint32_t vmpl;            /* the VMPL the guest asked from (0 to 3) */
};

/* Writes a version 2 SNP report with the requested fields, the chip's
 * CHIP_ID and TCB, signed with the chip key: ECDSA P-384 with SHA-384 over
 * bytes 0x000-0x29F, r and s little-endian and zero-padded to 72 bytes. */
int veil_emulated_chip_sign(const struct veil_emulated_chip *chip, const struct veil_emulated_report_request *req,
			    uint8_t report[VEIL_SNP_REPORT_SIZE], veil_err_t *err);

/* What the emulated TEE launched. */
struct veil_emulated_launch {
	const char *kernel;                /* path; required */
	const char *initrd;                /* path, or NULL */
	const char *cmdline;               /* or NULL for none */
	unsigned vcpus;                    /* 1 or more */
	const uint8_t *init_data_digest;   /* or NULL */
	size_t init_data_digest_len;       /* 0, 32 or 48 */
};

/* The emulated launch measurement, exact by construction: SHA-384 over
 *
 *     "veil-emulated-launch-v1"            (23 bytes, no NUL)
 *     SHA-384(kernel file)                 (48)
 *     SHA-384(initrd file, or no bytes)    (48)
 *     SHA-384(command line, no NUL)        (48)
 *     vCPU count                           (4, little-endian)
 *     init-data digest length              (1: 0, 32 or 48)
 *     init-data digest                     (that many bytes)
 *
 * The launcher and `veil measure` both call this, so they cannot disagree. */
int veil_emulated_launch_measurement(const struct veil_emulated_launch *launch, uint8_t out[48], veil_err_t *err);

#endif
