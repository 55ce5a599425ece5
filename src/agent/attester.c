#include "agent/attester.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sev-guest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/tee_port.h"
#include "agent/wipe.h"
#include "attest/kbs_proto.h"
#include "attest/snp.h"
#include "attest/tdx.h"
#include "lib/cleanup.h"

#define TEE_TIMEOUT_MS 10000
#define TSM_REPORTS "/sys/kernel/config/tsm/report"
/* The extended report's certificate table, and an SNP_GET_EXT_REPORT reply. */
#define SNP_CERTS_MAX (16u << 10)
#define SNP_RESP_REPORT_OFFSET 0x20
/* The table's entry for the VCEK (GHCB specification), as its GUID's bytes:
 * 63da758d-e664-4564-adc5-f4b93be8accd. */
static const uint8_t vcek_guid[16] = { 0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };

/* What the TEE hands out: a report or quote, and for SNP the VCEK (DER). */
struct raw_evidence {
	uint8_t *report;
	size_t len;
	uint8_t *cert;
	size_t cert_len;
};

static void raw_free(struct raw_evidence *r)
{
	agent_wipe_free(r->report);
	agent_wipe_free(r->cert);
	memset(r, 0, sizeof(*r));
}

static int from_port(const uint8_t report_data[64], struct raw_evidence *out, veil_err_t *err)
{
	struct veil_tee_request req = { .op = VEIL_TEE_OP_REPORT, .vmpl = 0 };
	memcpy(req.report_data, report_data, 64);
	cleanup_wipe uint8_t *payload = NULL;
	struct veil_tee_response resp;
	if (agent_tee_port_call(&req, &payload, &resp, TEE_TIMEOUT_MS, err) < 0)
		return veil_fail_context(err, "the emulated TEE's report");
	out->report = malloc(VEIL_TEE_REPORT_LEN);
	out->cert = malloc(resp.cert_len);
	if (out->report == NULL || out->cert == NULL)
		return veil_fail(err, ENOMEM, "report");
	memcpy(out->report, resp.report, VEIL_TEE_REPORT_LEN);
	out->len = VEIL_TEE_REPORT_LEN;
	memcpy(out->cert, resp.cert, resp.cert_len);
	out->cert_len = resp.cert_len;
	return 0;
}

/* The VCEK from an extended report's certificate table (entries of GUID,
 * offset and length, ending in an entry of zeros). */
static int vcek_from_table(const uint8_t *table, size_t len, struct raw_evidence *out, veil_err_t *err)
{
	static const uint8_t zero[24];
	for (size_t at = 0; at + 24 <= len; at += 24) {
		const uint8_t *e = table + at;
		if (memcmp(e, zero, 24) == 0)
			break;
		uint32_t off = (uint32_t)e[16] | (uint32_t)e[17] << 8 | (uint32_t)e[18] << 16 | (uint32_t)e[19] << 24;
		uint32_t n = (uint32_t)e[20] | (uint32_t)e[21] << 8 | (uint32_t)e[22] << 16 | (uint32_t)e[23] << 24;
		if (memcmp(e, vcek_guid, 16) != 0)
			continue;
		if (off > len || n > len - off || n == 0)
			return veil_fail_tagged(err, EPROTO, "the certificate table's VCEK entry lies outside it");
		out->cert = malloc(n);
		if (out->cert == NULL)
			return veil_fail(err, ENOMEM, "VCEK");
		memcpy(out->cert, table + off, n);
		out->cert_len = n;
		return 0;
	}
	return veil_fail_tagged(err, ENOENT, "the host gave no VCEK certificate with the report (SNP extended report)");
}

static int from_sev_guest(const uint8_t report_data[64], struct raw_evidence *out, veil_err_t *err)
{
	cleanup_close int fd = open("/dev/sev-guest", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "/dev/sev-guest");
	struct snp_ext_report_req req = { 0 };
	memcpy(req.data.user_data, report_data, 64);
	cleanup_wipe uint8_t *certs = calloc(1, SNP_CERTS_MAX);
	cleanup_wipe struct snp_report_resp *resp = calloc(1, sizeof(*resp));
	if (certs == NULL || resp == NULL)
		return veil_fail(err, ENOMEM, "SNP report");
	req.certs_address = (uint64_t)(uintptr_t)certs;
	req.certs_len = SNP_CERTS_MAX;
	struct snp_guest_request_ioctl io = {
		.msg_version = 1, .req_data = (uint64_t)(uintptr_t)&req, .resp_data = (uint64_t)(uintptr_t)resp,
	};
	if (ioctl(fd, SNP_GET_EXT_REPORT, &io) < 0)
		return veil_fail(err, errno, "SNP_GET_EXT_REPORT (firmware error 0x%llx)", (unsigned long long)io.exitinfo2);
	uint32_t status = (uint32_t)resp->data[0] | (uint32_t)resp->data[1] << 8;
	if (status != 0)
		return veil_fail(err, EIO, "SNP_GET_EXT_REPORT: the firmware's status is 0x%x", status);
	out->report = malloc(VEIL_SNP_REPORT_SIZE);
	if (out->report == NULL)
		return veil_fail(err, ENOMEM, "SNP report");
	memcpy(out->report, resp->data + SNP_RESP_REPORT_OFFSET, VEIL_SNP_REPORT_SIZE);
	out->len = VEIL_SNP_REPORT_SIZE;
	return vcek_from_table(certs, SNP_CERTS_MAX, out, err);
}

/* A whole small file of configfs-tsm's report directory into *out. */
static int read_blob(const char *dir, const char *name, size_t max, uint8_t **out, size_t *len, veil_err_t *err)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = fd >= 0 ? malloc(max) : NULL;
	if (buf == NULL)
		return veil_fail(err, fd < 0 ? errno : ENOMEM, "%s", path);
	size_t n = 0;
	for (ssize_t r; n < max && (r = read(fd, buf + n, max - n)) != 0;) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			agent_wipe_free(buf);
			return veil_fail(err, errno, "reading %s", path);
		}
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* configfs-tsm (Linux 6.7): a report directory, its inblob written, its
 * outblob (and SNP's auxblob, the certificate table) read. */
static int from_tsm(enum veil_tee tee, const uint8_t report_data[64], struct raw_evidence *out, veil_err_t *err)
{
	char dir[128];
	snprintf(dir, sizeof(dir), TSM_REPORTS "/veil-%d", (int)getpid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "%s", dir);
	char path[160];
	snprintf(path, sizeof(path), "%s/inblob", dir);
	int rc = 0;
	cleanup_close int in = open(path, O_WRONLY | O_CLOEXEC);
	if (in < 0 || write(in, report_data, 64) != 64)
		rc = veil_fail(err, errno, "writing %s", path);
	if (rc == 0)
		rc = read_blob(dir, "outblob", tee == VEIL_TEE_TDX ? VEIL_TDX_MAX_QUOTE : VEIL_SNP_REPORT_SIZE, &out->report,
			       &out->len, err);
	if (rc == 0 && tee != VEIL_TEE_TDX) {
		cleanup_wipe uint8_t *table = NULL;
		size_t len;
		rc = read_blob(dir, "auxblob", SNP_CERTS_MAX, &table, &len, err);
		if (rc == 0)
			rc = vcek_from_table(table, len, out, err);
	}
	rmdir(dir);
	return rc;
}

static int raw_evidence(enum veil_tee tee, const uint8_t report_data[64], struct raw_evidence *out, veil_err_t *err)
{
	memset(out, 0, sizeof(*out));
	int rc;
	if (tee == VEIL_TEE_EMULATED)
		rc = from_port(report_data, out, err);
	else if (access(TSM_REPORTS, F_OK) == 0)
		rc = from_tsm(tee, report_data, out, err);
	else if (tee == VEIL_TEE_SNP)
		rc = from_sev_guest(report_data, out, err);
	else
		rc = veil_fail_tagged(err, ENOENT, "no configfs-tsm (" TSM_REPORTS "): a TDX guest needs Linux 6.7 or later");
	if (rc < 0)
		raw_free(out);
	return rc;
}

int agent_attester_evidence(enum veil_tee tee, const uint8_t report_data[64], json_object **evidence, uint8_t field[48],
			    size_t *field_len, veil_err_t *err)
{
	struct raw_evidence raw;
	if (raw_evidence(tee, report_data, &raw, err) < 0)
		return -1;
	memset(field, 0, 48);
	int rc;
	if (tee == VEIL_TEE_TDX) {
		struct veil_tdx_quote quote;
		rc = veil_tdx_quote_parse(raw.report, raw.len, &quote, err);
		if (rc == 0) {
			memcpy(field, quote.body.mrconfigid, sizeof(quote.body.mrconfigid));
			*field_len = sizeof(quote.body.mrconfigid);
			if (evidence != NULL && (*evidence = veil_kbs_tdx_evidence_build(raw.report, raw.len)) == NULL)
				rc = veil_fail(err, ENOMEM, "TDX evidence");
		}
	} else {
		struct veil_snp_report report;
		rc = veil_snp_report_parse(raw.report, raw.len, &report, err);
		if (rc == 0) {
			memcpy(field, report.host_data, sizeof(report.host_data));
			*field_len = sizeof(report.host_data);
			if (evidence != NULL &&
			    (*evidence = veil_kbs_snp_evidence_build(raw.report, raw.len, raw.cert, raw.cert_len, err)) == NULL)
				rc = -1;
		}
	}
	raw_free(&raw);
	return rc;
}
