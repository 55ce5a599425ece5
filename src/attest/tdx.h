/* The Intel TDX quote, version 4 (Intel "TDX DCAP Quoting Library API",
 * appendix "Quote Format"): a 48-byte header, a 584-byte TD report body,
 * then the ECDSA quote signature data: the attestation key's P-256
 * signature over header and body, the attestation key, and certification
 * data of type 6 (QE report, its PCK signature, QE authentication data, and
 * certification data of type 5: the PCK certificate chain in PEM).
 * Parsing checks the layout only; veil_tdx_verify (evidence.h) checks the
 * signatures and the chain. The parsed quote points into the caller's buffer. */
#ifndef VEIL_ATTEST_TDX_H
#define VEIL_ATTEST_TDX_H

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

#define VEIL_TDX_HEADER_SIZE 48
#define VEIL_TDX_BODY_SIZE 584
#define VEIL_TDX_SIGNED_SIZE (VEIL_TDX_HEADER_SIZE + VEIL_TDX_BODY_SIZE)
#define VEIL_TDX_QE_REPORT_SIZE 384
#define VEIL_TDX_MAX_QUOTE (256 * 1024)

#define VEIL_TDX_QUOTE_VERSION 4
#define VEIL_TDX_ATT_KEY_ECDSA_P256 2
#define VEIL_TDX_TEE_TYPE 0x81
#define VEIL_TDX_CERT_QE_REPORT 6
#define VEIL_TDX_CERT_PCK_CHAIN 5

/* TD_ATTRIBUTES bit 0: the TD is debuggable (TUD.DEBUG). */
#define VEIL_TDX_ATTR_DEBUG 0x01

/* Intel's QE vendor ID, as in every quote Intel's QE signs. */
extern const uint8_t veil_tdx_intel_qe_vendor_id[16];

struct veil_tdx_body {
	uint8_t tee_tcb_svn[16];
	uint8_t mrseam[48];
	uint8_t mrsignerseam[48];
	uint8_t seam_attributes[8];
	uint8_t td_attributes[8];
	uint8_t xfam[8];
	uint8_t mrtd[48];
	uint8_t mrconfigid[48];
	uint8_t mrowner[48];
	uint8_t mrownerconfig[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
};

struct veil_tdx_quote {
	uint16_t version;
	uint16_t att_key_type;
	uint32_t tee_type;
	uint8_t qe_vendor_id[16];
	struct veil_tdx_body body;
	const uint8_t *signed_part;     /* header and body: VEIL_TDX_SIGNED_SIZE bytes */
	const uint8_t *signature;       /* r || s, big-endian, 64 bytes */
	const uint8_t *attest_key;      /* x || y, 64 bytes */
	const uint8_t *qe_report;       /* SGX report body, 384 bytes */
	const uint8_t *qe_report_signature; /* r || s by the PCK key, 64 bytes */
	const uint8_t *qe_auth_data;
	size_t qe_auth_len;
	const uint8_t *pck_chain;       /* PEM certificates, leaf first */
	size_t pck_chain_len;
	size_t quote_len;               /* bytes the quote fills; more may follow in the buffer */
};

/* Decodes a v4 quote with certification data type 6 wrapping type 5. Every
 * length must fit its enclosing structure exactly; bytes after the quote's
 * own end are ignored (buffers from the quoting service are often padded). */
int veil_tdx_quote_parse(const uint8_t *buf, size_t len, struct veil_tdx_quote *quote, veil_err_t *err);

#endif
