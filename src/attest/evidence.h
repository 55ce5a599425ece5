/* The contract between the attestation layer and its users: veil-kbs, the
 * runtime and the guest agent. docs/confidential.md describes the checks.
 *
 * Evidence verification: given the raw evidence of one TEE and the trust
 * anchors the verifier is configured with, either fail with a one-line reason
 * naming the failed check (expected vs actual where safe), or fill the claims
 * that policy and reference values are then checked against. Verifiers do not
 * decide policy (debug allowed? which measurement?): they report facts. */
#ifndef VEIL_ATTEST_EVIDENCE_H
#define VEIL_ATTEST_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

/* An SEV-SNP attestation report is always this long. */
#define VEIL_SNP_REPORT_SIZE 1184

enum veil_tee {
	VEIL_TEE_SNP = 1,      /* AMD SEV-SNP report, chain to an AMD ARK */
	VEIL_TEE_TDX,          /* Intel TDX quote v4, chain to an Intel root */
	VEIL_TEE_EMULATED,     /* SNP layout and signatures, chain to veil's emulated ARK: protects nothing */
};
const char *veil_tee_name(enum veil_tee tee); /* "snp", "tdx", "emulated" */
/* The TEE of that name, or 0 if none is. */
enum veil_tee veil_tee_by_name(const char *name);

/* What a verified piece of evidence says. Byte arrays are as in the report. */
struct veil_evidence_claims {
	enum veil_tee tee;
	uint8_t report_data[64];          /* SNP REPORT_DATA / TDX REPORTDATA */
	uint8_t measurement[48];          /* SNP MEASUREMENT / TDX MRTD */
	uint8_t init_data[48];            /* SNP HOST_DATA (first 32 bytes) / TDX MRCONFIGID (48) */
	size_t init_data_len;             /* 32 or 48 */
	uint8_t rtmr[4][48];              /* TDX only */
	bool debug;                       /* SNP policy DEBUG bit / TDX TD_ATTRIBUTES.DEBUG */
	uint32_t svn;                     /* SNP GUEST_SVN; TDX: 0 */
	uint64_t snp_policy;              /* SNP only */
	uint32_t vmpl;                    /* SNP VMPL the report was requested from; TDX: 0 */
	uint64_t reported_tcb;            /* SNP REPORTED_TCB (raw); TDX: 0 */
	uint8_t chip_id[64];              /* SNP CHIP_ID; TDX: zero */
};

/* Trust anchors. SNP/emulated: ARK and ASK certificates (DER) per product
 * (Milan, Genoa, ... and "emulated"); the VCEK comes with the evidence.
 * TDX: the Intel SGX root CA certificate (DER); the PCK chain comes inside
 * the quote's certification data. */
struct veil_snp_anchor {
	const char *product;          /* "Milan", "Genoa", "emulated" */
	const uint8_t *ark_der; size_t ark_len;
	const uint8_t *ask_der; size_t ask_len;
};

/* Verifies a 1184-byte SNP attestation report signed by vcek_der, whose chain
 * must end in one of the anchors. The anchor that matched decides whether the
 * claims say VEIL_TEE_SNP or VEIL_TEE_EMULATED. Checks: report layout and
 * version, signature algorithm, ECDSA P-384 over bytes 0x000-0x29F, VCEK <-
 * ASK <- ARK (RSA-PSS SHA-384), ARK self-signed, REPORTED_TCB equal to the
 * VCEK's TCB extensions (blSPL, teeSPL, snpSPL, ucodeSPL) and CHIP_ID equal to
 * its hwID. */
int veil_snp_verify(const uint8_t *report, size_t report_len, const uint8_t *vcek_der, size_t vcek_len,
		    const struct veil_snp_anchor *anchors, size_t n_anchors, struct veil_evidence_claims *claims,
		    veil_err_t *err);

/* Verifies a TDX v4 quote: the attestation key's ECDSA P-256 signature over
 * header and TD report body, the QE report's binding of that key
 * (SHA-256(attest_key || qe_auth_data)), the PCK's signature over the QE
 * report, and the PCK chain (from the quote's certification data) to root_der. */
int veil_tdx_verify(const uint8_t *quote, size_t quote_len, const uint8_t *root_der, size_t root_len,
		    struct veil_evidence_claims *claims, veil_err_t *err);

#endif
