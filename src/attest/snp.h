/* The AMD SEV-SNP attestation report (SEV-SNP ABI specification, table
 * "ATTESTATION_REPORT Structure"): 1184 bytes, little-endian integers, an
 * ECDSA P-384 signature over bytes 0x000-0x29F. Parsing checks the layout
 * only; veil_snp_verify (evidence.h) checks signatures and the chain. */
#ifndef VEIL_ATTEST_SNP_H
#define VEIL_ATTEST_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "attest/evidence.h"
#include "lib/error.h"

#define VEIL_SNP_SIGNED_SIZE 0x2a0     /* bytes covered by the signature */
#define VEIL_SNP_SIG_COMPONENT_SIZE 72 /* r and s, each zero-padded */
#define VEIL_SNP_SIG_ALGO_ECDSA_P384_SHA384 1
#define VEIL_SNP_MIN_VERSION 2
#define VEIL_SNP_MAX_VERSION 5

/* Guest policy bits (ABI spec, table "Guest Policy Structure"). */
#define VEIL_SNP_POLICY_SMT (1ULL << 16)
#define VEIL_SNP_POLICY_RESERVED_ONE (1ULL << 17) /* must be set */
#define VEIL_SNP_POLICY_MIGRATE_MA (1ULL << 18)
#define VEIL_SNP_POLICY_DEBUG (1ULL << 19)

/* KEY_INFO bits at 0x48. */
#define VEIL_SNP_KEY_AUTHOR_KEY_EN (1u << 0)
#define VEIL_SNP_KEY_MASK_CHIP_ID (1u << 1)
#define VEIL_SNP_KEY_SIGNING_KEY(info) (((info) >> 2) & 7u)
#define VEIL_SNP_SIGNING_KEY_VCEK 0
#define VEIL_SNP_SIGNING_KEY_VLEK 1

struct veil_snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t signature_algo;
	uint64_t current_tcb;
	uint64_t platform_info;
	uint32_t key_info;
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	uint64_t reported_tcb;
	uint8_t chip_id[64];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	uint64_t launch_tcb;
	/* Little-endian, as in the report: only the low 48 bytes are significant. */
	uint8_t signature_r[VEIL_SNP_SIG_COMPONENT_SIZE];
	uint8_t signature_s[VEIL_SNP_SIG_COMPONENT_SIZE];
};

/* Decodes a report of exactly VEIL_SNP_REPORT_SIZE bytes; checks the version
 * and the signature algorithm, nothing cryptographic. */
int veil_snp_report_parse(const uint8_t *buf, size_t len, struct veil_snp_report *report, veil_err_t *err);

/* Encodes every field at its offset; reserved bytes are zero. */
void veil_snp_report_encode(const struct veil_snp_report *report, uint8_t out[VEIL_SNP_REPORT_SIZE]);

/* The SPLs in a TCB_VERSION. Milan and Genoa: boot loader, TEE, SNP and
 * microcode in bytes 0, 1, 6, 7; Turin adds FMC first: 0 FMC, 1 boot loader,
 * 2 TEE, 3 SNP, 7 microcode. */
struct veil_snp_tcb {
	uint8_t fmc, bootloader, tee, snp, microcode;
};
enum veil_snp_tcb_layout { VEIL_SNP_TCB_MILAN, VEIL_SNP_TCB_TURIN };
struct veil_snp_tcb veil_snp_tcb_decode(uint64_t tcb, enum veil_snp_tcb_layout layout);
uint64_t veil_snp_tcb_encode(struct veil_snp_tcb tcb, enum veil_snp_tcb_layout layout);

/* Object identifiers of the VCEK extensions (AMD "Versioned Chip Endorsement
 * Key (VCEK) Certificate and KDS Interface Specification"). */
#define VEIL_VCEK_OID_STRUCT_VERSION "1.3.6.1.4.1.3704.1.1"
#define VEIL_VCEK_OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define VEIL_VCEK_OID_BL_SPL "1.3.6.1.4.1.3704.1.3.1"
#define VEIL_VCEK_OID_TEE_SPL "1.3.6.1.4.1.3704.1.3.2"
#define VEIL_VCEK_OID_SNP_SPL "1.3.6.1.4.1.3704.1.3.3"
#define VEIL_VCEK_OID_UCODE_SPL "1.3.6.1.4.1.3704.1.3.8"
#define VEIL_VCEK_OID_FMC_SPL "1.3.6.1.4.1.3704.1.3.9"
#define VEIL_VCEK_OID_HWID "1.3.6.1.4.1.3704.1.4"

/* Reads the VCEK's hwID extension: the CHIP_ID its reports carry. */
int veil_snp_vcek_hwid(X509 *vcek, uint8_t out[64], veil_err_t *err);

#endif
