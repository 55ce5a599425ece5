#include "kbs/kbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/initdata.h"
#include "lib/cleanup.h"
#include "lib/hex.h"
#include "lib/log.h"

static int verify_snp(struct kbs *kbs, json_object *evidence, struct veil_evidence_claims *ev, veil_err_t *err)
{
	uint8_t report[VEIL_SNP_REPORT_SIZE];
	cleanup_free uint8_t *vcek = NULL;
	size_t vcek_len;
	if (veil_kbs_snp_evidence_parse(evidence, report, &vcek, &vcek_len, err) < 0)
		return -1;
	if (veil_snp_verify(report, sizeof(report), vcek, vcek_len, kbs->anchors, kbs->n_anchors, ev, err) < 0)
		return veil_fail_context(err, "SNP evidence");
	return 0;
}

static int verify_tdx(struct kbs *kbs, json_object *evidence, struct veil_evidence_claims *ev, veil_err_t *err)
{
	cleanup_free uint8_t *quote = NULL;
	size_t len;
	if (veil_kbs_tdx_evidence_parse(evidence, &quote, &len, err) < 0)
		return -1;
	if (kbs->cfg.tdx_root == NULL)
		return veil_fail_tagged(err, EPERM, "TDX evidence: this KBS trusts no TDX root (configure [tdx] root)");
	if (veil_tdx_verify(quote, len, kbs->cfg.tdx_root, kbs->cfg.tdx_root_len, ev, err) < 0)
		return veil_fail_context(err, "TDX evidence");
	return 0;
}

/* The init-data the guest sent must be what the TEE field was launched with. */
static int check_init_data(const struct veil_kbs_attestation *att, const struct veil_evidence_claims *ev,
			   veil_err_t *err)
{
	const char *field = ev->tee == VEIL_TEE_TDX ? "MRCONFIGID" : "HOST_DATA";
	struct veil_initdata d;
	if (veil_initdata_parse(att->init_data, att->init_data_len, &d, err) < 0)
		return -1;
	uint8_t want[48];
	veil_initdata_tee_field(&d, want, ev->init_data_len);
	veil_initdata_free(&d);
	if (memcmp(want, ev->init_data, ev->init_data_len) == 0)
		return 0;
	char sent[97], carried[97];
	veil_hex_encode(want, ev->init_data_len, sent);
	veil_hex_encode(ev->init_data, ev->init_data_len, carried);
	return veil_fail_tagged(err, EPERM, "init-data does not match %s: the init-data sent hashes to %s, the evidence carries %s",
			 field, sent, carried);
}

int kbs_verify(struct kbs *kbs, enum veil_kbs_tee tee, const struct veil_kbs_attestation *att, struct kbs_claims *claims,
	       veil_err_t *err)
{
	struct veil_evidence_claims ev;
	if ((tee == VEIL_KBS_TEE_TDX ? verify_tdx : verify_snp)(kbs, att->evidence, &ev, err) < 0)
		return -1;
	if (memcmp(ev.report_data, att->report_data, sizeof(ev.report_data)) != 0) {
		char want[129], got[129];
		veil_hex_encode(att->report_data, 64, want);
		veil_hex_encode(ev.report_data, 64, got);
		return veil_fail_tagged(err, EPERM,
				 "REPORT_DATA does not bind this session's nonce and tee-pubkey: expected %s (SHA-384 of "
				 "runtime-data), the evidence carries %s",
				 want, got);
	}
	if (ev.vmpl != 0)
		return veil_fail_tagged(err, EPERM, "VMPL: the report was requested from VMPL %u (expected 0)", ev.vmpl);
	if (att->init_data != NULL && check_init_data(att, &ev, err) < 0)
		return -1;
	memset(claims, 0, sizeof(*claims));
	claims->tee = ev.tee;
	memcpy(claims->measurement, ev.measurement, sizeof(claims->measurement));
	memcpy(claims->init_data, ev.init_data, ev.init_data_len);
	claims->init_data_len = ev.init_data_len;
	memcpy(claims->rtmr, ev.rtmr, sizeof(claims->rtmr));
	claims->debug = ev.debug;
	claims->has_tenancy = att->has_tenancy;
	claims->tenancy = att->tenancy;
	pthread_rwlock_rdlock(&kbs->policy_lock);
	int rc = kbs_reference_check(&kbs->policy, claims, err);
	pthread_rwlock_unlock(&kbs->policy_lock);
	if (rc == 0 && claims->tee == VEIL_TEE_EMULATED)
		log_warn("accepting EMULATED evidence: it protects nothing, the host signed it (the KBS configuration "
			 "trusts the emulated root)");
	return rc;
}
