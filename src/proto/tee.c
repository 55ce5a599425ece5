#include "proto/tee.h"

#include <errno.h>
#include <string.h>

#define REPORT_REQUEST_LEN (1u + VEIL_TEE_REPORT_DATA_LEN + 4u)

size_t veil_tee_request_encode(const struct veil_tee_request *req, uint8_t *out)
{
	out[0] = (uint8_t)req->op;
	if (req->op != VEIL_TEE_OP_REPORT)
		return 1;
	memcpy(out + 1, req->report_data, VEIL_TEE_REPORT_DATA_LEN);
	uint8_t *v = out + 1 + VEIL_TEE_REPORT_DATA_LEN;
	v[0] = (uint8_t)(req->vmpl >> 24);
	v[1] = (uint8_t)(req->vmpl >> 16);
	v[2] = (uint8_t)(req->vmpl >> 8);
	v[3] = (uint8_t)req->vmpl;
	return REPORT_REQUEST_LEN;
}

int veil_tee_request_decode(const uint8_t *payload, size_t len, struct veil_tee_request *req, const char **why)
{
	memset(req, 0, sizeof(*req));
	if (len == 0) {
		*why = "empty request";
		return -EPROTO;
	}
	switch (payload[0]) {
	case VEIL_TEE_OP_REPORT:
		if (len != REPORT_REQUEST_LEN) {
			*why = "a report request is REPORT_DATA (64 bytes) and VMPL (4 bytes)";
			return -EPROTO;
		}
		memcpy(req->report_data, payload + 1, VEIL_TEE_REPORT_DATA_LEN);
		const uint8_t *v = payload + 1 + VEIL_TEE_REPORT_DATA_LEN;
		req->vmpl = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
		if (req->vmpl > VEIL_TEE_MAX_VMPL) {
			*why = "VMPL is 0 to 3";
			return -EPROTO;
		}
		break;
	case VEIL_TEE_OP_INIT_DATA:
	case VEIL_TEE_OP_KBS_CONNECT:
		if (len != 1) {
			*why = "this request carries nothing after its op";
			return -EPROTO;
		}
		break;
	default:
		*why = "unknown op";
		return -EPROTO;
	}
	req->op = (enum veil_tee_op)payload[0];
	return 0;
}

static bool one_printable_line(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

int veil_tee_response_decode(enum veil_tee_op op, const uint8_t *payload, size_t len, struct veil_tee_response *resp,
			     const char **why)
{
	memset(resp, 0, sizeof(*resp));
	if (len == 0 || payload[0] > 1) {
		*why = len == 0 ? "empty response" : "unknown status";
		return -EPROTO;
	}
	resp->ok = payload[0] == 0;
	resp->data = payload + 1;
	resp->len = len - 1;
	if (!resp->ok) {
		if (resp->len == 0 || resp->len > VEIL_TEE_MAX_ERROR || !one_printable_line(resp->data, resp->len)) {
			*why = "an error is one line of 1 to 512 printable characters";
			return -EPROTO;
		}
		return 0;
	}
	switch (op) {
	case VEIL_TEE_OP_REPORT:
		if (resp->len <= VEIL_TEE_REPORT_LEN || resp->len > VEIL_TEE_REPORT_LEN + VEIL_TEE_MAX_CERT) {
			*why = "a report is 1184 bytes and a certificate of at most 16 KiB";
			return -EPROTO;
		}
		resp->report = resp->data;
		resp->cert = resp->data + VEIL_TEE_REPORT_LEN;
		resp->cert_len = resp->len - VEIL_TEE_REPORT_LEN;
		return 0;
	case VEIL_TEE_OP_INIT_DATA:
		if (resp->len > VEIL_TEE_MAX_INIT_DATA) {
			*why = "init-data of more than 256 KiB";
			return -EPROTO;
		}
		return 0;
	case VEIL_TEE_OP_KBS_CONNECT:
		if (resp->len != 0) {
			*why = "a connect answer carries nothing";
			return -EPROTO;
		}
		return 0;
	}
	*why = "unknown op";
	return -EPROTO;
}
