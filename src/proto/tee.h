/* The TEE port, VEIL_TEE_PORT (docs/agent-protocol.md, "The TEE port"): what
 * the host offers a confidential guest besides the agent channel. It carries
 * the agent channel's frames (frame.h) with the roles reversed: the guest
 * sends REQUEST frames (odd stream ids) and the host answers each with one
 * RESPONSE on the same id; the byte stream between the guest and its key
 * broker flows in DATA frames on VEIL_TEE_KBS_STREAM. Payloads are raw bytes:
 *
 *   REQUEST   u8 op, then for
 *               REPORT        REPORT_DATA (64 bytes), VMPL (u32 BE, 0..3)
 *               INIT_DATA     nothing
 *               KBS_CONNECT   nothing
 *   RESPONSE  u8 status: 0, then for
 *               REPORT        the SNP report (1184 bytes), the VCEK certificate (DER)
 *               INIT_DATA     the init-data TOML the VM was launched with (none: empty)
 *               KBS_CONNECT   nothing: the host is connected to the KBS
 *             or 1, then one line of text saying why the request failed
 *   DATA      on VEIL_TEE_KBS_STREAM: KBS bytes; CLOSED: the sender's end of
 *             the connection is closed (guest: drop it; host: the KBS did)
 *
 * Only the emulated TEE answers REPORT: on SNP and TDX the guest asks its
 * hardware. Both sides decode what the other sent as untrusted bytes. */
#ifndef VEIL_PROTO_TEE_H
#define VEIL_PROTO_TEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum veil_tee_op { VEIL_TEE_OP_REPORT = 1, VEIL_TEE_OP_INIT_DATA = 2, VEIL_TEE_OP_KBS_CONNECT = 3 };

#define VEIL_TEE_KBS_STREAM 2u
#define VEIL_TEE_REPORT_DATA_LEN 64u
#define VEIL_TEE_REPORT_LEN 1184u            /* an SNP ATTESTATION_REPORT */
#define VEIL_TEE_MAX_CERT (16u << 10)        /* the VCEK certificate */
#define VEIL_TEE_MAX_INIT_DATA (256u << 10)  /* as attest/initdata.h's bound */
#define VEIL_TEE_MAX_ERROR 512u
#define VEIL_TEE_MAX_VMPL 3u
/* The largest payload either side sends: an init-data answer. */
#define VEIL_TEE_MAX_PAYLOAD (1u + VEIL_TEE_MAX_INIT_DATA)

struct veil_tee_request {
	enum veil_tee_op op;
	uint8_t report_data[VEIL_TEE_REPORT_DATA_LEN]; /* REPORT */
	uint32_t vmpl;                                  /* REPORT */
};

/* The payload of a request: *len bytes written to out (at least 69). */
size_t veil_tee_request_encode(const struct veil_tee_request *req, uint8_t *out);
/* Host side: 0, or -EPROTO with *why set (unknown op, wrong length, VMPL out of range). */
int veil_tee_request_decode(const uint8_t *payload, size_t len, struct veil_tee_request *req, const char **why);

struct veil_tee_response {
	bool ok;
	const uint8_t *data; /* points into the payload */
	size_t len;
	/* REPORT, ok: the report and the certificate after it */
	const uint8_t *report;
	const uint8_t *cert;
	size_t cert_len;
};

/* Guest side, for a response to op: 0, or -EPROTO with *why set (empty
 * payload, unknown status, a length op does not allow, an error text that is
 * not one line of printable ASCII). */
int veil_tee_response_decode(enum veil_tee_op op, const uint8_t *payload, size_t len, struct veil_tee_response *resp,
			     const char **why);

#endif
