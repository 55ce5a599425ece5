#include "attest/snp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "attest/emulated.h"
#include "attest/pki.h"

/* Offsets in the report (ABI spec, ATTESTATION_REPORT). */
enum {
	OFF_VERSION = 0x000,
	OFF_GUEST_SVN = 0x004,
	OFF_POLICY = 0x008,
	OFF_FAMILY_ID = 0x010,
	OFF_IMAGE_ID = 0x020,
	OFF_VMPL = 0x030,
	OFF_SIGNATURE_ALGO = 0x034,
	OFF_CURRENT_TCB = 0x038,
	OFF_PLATFORM_INFO = 0x040,
	OFF_KEY_INFO = 0x048,
	OFF_REPORT_DATA = 0x050,
	OFF_MEASUREMENT = 0x090,
	OFF_HOST_DATA = 0x0c0,
	OFF_ID_KEY_DIGEST = 0x0e0,
	OFF_AUTHOR_KEY_DIGEST = 0x110,
	OFF_REPORT_ID = 0x140,
	OFF_REPORT_ID_MA = 0x160,
	OFF_REPORTED_TCB = 0x180,
	OFF_CHIP_ID = 0x1a0,
	OFF_COMMITTED_TCB = 0x1e0,
	OFF_CURRENT_VERSION = 0x1e8, /* build, minor, major, reserved */
	OFF_COMMITTED_VERSION = 0x1ec,
	OFF_LAUNCH_TCB = 0x1f0,
	OFF_SIGNATURE_R = 0x2a0,
	OFF_SIGNATURE_S = 0x2e8,
};

#define P384_BYTES 48

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

int veil_snp_report_parse(const uint8_t *buf, size_t len, struct veil_snp_report *r, veil_err_t *err)
{
	if (len != VEIL_SNP_REPORT_SIZE)
		return veil_fail(err, EINVAL, "SNP report: expected %d bytes, got %zu", VEIL_SNP_REPORT_SIZE, len);
	memset(r, 0, sizeof(*r));
	r->version = get32(buf + OFF_VERSION);
	if (r->version < VEIL_SNP_MIN_VERSION || r->version > VEIL_SNP_MAX_VERSION)
		return veil_fail(err, EINVAL, "SNP report version: expected %d to %d, got %" PRIu32,
				 VEIL_SNP_MIN_VERSION, VEIL_SNP_MAX_VERSION, r->version);
	r->signature_algo = get32(buf + OFF_SIGNATURE_ALGO);
	if (r->signature_algo != VEIL_SNP_SIG_ALGO_ECDSA_P384_SHA384)
		return veil_fail(err, EINVAL, "SNP report signature algorithm: expected %d (ECDSA P-384 with SHA-384), got %" PRIu32,
				 VEIL_SNP_SIG_ALGO_ECDSA_P384_SHA384, r->signature_algo);
	r->guest_svn = get32(buf + OFF_GUEST_SVN);
	r->policy = get64(buf + OFF_POLICY);
	memcpy(r->family_id, buf + OFF_FAMILY_ID, sizeof(r->family_id));
	memcpy(r->image_id, buf + OFF_IMAGE_ID, sizeof(r->image_id));
	r->vmpl = get32(buf + OFF_VMPL);
	r->current_tcb = get64(buf + OFF_CURRENT_TCB);
	r->platform_info = get64(buf + OFF_PLATFORM_INFO);
	r->key_info = get32(buf + OFF_KEY_INFO);
	memcpy(r->report_data, buf + OFF_REPORT_DATA, sizeof(r->report_data));
	memcpy(r->measurement, buf + OFF_MEASUREMENT, sizeof(r->measurement));
	memcpy(r->host_data, buf + OFF_HOST_DATA, sizeof(r->host_data));
	memcpy(r->id_key_digest, buf + OFF_ID_KEY_DIGEST, sizeof(r->id_key_digest));
	memcpy(r->author_key_digest, buf + OFF_AUTHOR_KEY_DIGEST, sizeof(r->author_key_digest));
	memcpy(r->report_id, buf + OFF_REPORT_ID, sizeof(r->report_id));
	memcpy(r->report_id_ma, buf + OFF_REPORT_ID_MA, sizeof(r->report_id_ma));
	r->reported_tcb = get64(buf + OFF_REPORTED_TCB);
	memcpy(r->chip_id, buf + OFF_CHIP_ID, sizeof(r->chip_id));
	r->committed_tcb = get64(buf + OFF_COMMITTED_TCB);
	r->current_build = buf[OFF_CURRENT_VERSION];
	r->current_minor = buf[OFF_CURRENT_VERSION + 1];
	r->current_major = buf[OFF_CURRENT_VERSION + 2];
	r->committed_build = buf[OFF_COMMITTED_VERSION];
	r->committed_minor = buf[OFF_COMMITTED_VERSION + 1];
	r->committed_major = buf[OFF_COMMITTED_VERSION + 2];
	r->launch_tcb = get64(buf + OFF_LAUNCH_TCB);
	memcpy(r->signature_r, buf + OFF_SIGNATURE_R, sizeof(r->signature_r));
	memcpy(r->signature_s, buf + OFF_SIGNATURE_S, sizeof(r->signature_s));
	return 0;
}

void veil_snp_report_encode(const struct veil_snp_report *r, uint8_t out[VEIL_SNP_REPORT_SIZE])
{
	memset(out, 0, VEIL_SNP_REPORT_SIZE);
	put32(out + OFF_VERSION, r->version);
	put32(out + OFF_GUEST_SVN, r->guest_svn);
	put64(out + OFF_POLICY, r->policy);
	memcpy(out + OFF_FAMILY_ID, r->family_id, sizeof(r->family_id));
	memcpy(out + OFF_IMAGE_ID, r->image_id, sizeof(r->image_id));
	put32(out + OFF_VMPL, r->vmpl);
	put32(out + OFF_SIGNATURE_ALGO, r->signature_algo);
	put64(out + OFF_CURRENT_TCB, r->current_tcb);
	put64(out + OFF_PLATFORM_INFO, r->platform_info);
	put32(out + OFF_KEY_INFO, r->key_info);
	memcpy(out + OFF_REPORT_DATA, r->report_data, sizeof(r->report_data));
	memcpy(out + OFF_MEASUREMENT, r->measurement, sizeof(r->measurement));
	memcpy(out + OFF_HOST_DATA, r->host_data, sizeof(r->host_data));
	memcpy(out + OFF_ID_KEY_DIGEST, r->id_key_digest, sizeof(r->id_key_digest));
	memcpy(out + OFF_AUTHOR_KEY_DIGEST, r->author_key_digest, sizeof(r->author_key_digest));
	memcpy(out + OFF_REPORT_ID, r->report_id, sizeof(r->report_id));
	memcpy(out + OFF_REPORT_ID_MA, r->report_id_ma, sizeof(r->report_id_ma));
	put64(out + OFF_REPORTED_TCB, r->reported_tcb);
	memcpy(out + OFF_CHIP_ID, r->chip_id, sizeof(r->chip_id));
	put64(out + OFF_COMMITTED_TCB, r->committed_tcb);
	out[OFF_CURRENT_VERSION] = r->current_build;
	out[OFF_CURRENT_VERSION + 1] = r->current_minor;
	out[OFF_CURRENT_VERSION + 2] = r->current_major;
	out[OFF_COMMITTED_VERSION] = r->committed_build;
	out[OFF_COMMITTED_VERSION + 1] = r->committed_minor;
	out[OFF_COMMITTED_VERSION + 2] = r->committed_major;
	put64(out + OFF_LAUNCH_TCB, r->launch_tcb);
	memcpy(out + OFF_SIGNATURE_R, r->signature_r, sizeof(r->signature_r));
	memcpy(out + OFF_SIGNATURE_S, r->signature_s, sizeof(r->signature_s));
}

struct veil_snp_tcb veil_snp_tcb_decode(uint64_t tcb, enum veil_snp_tcb_layout layout)
{
	uint8_t b[8];
	put64(b, tcb);
	if (layout == VEIL_SNP_TCB_TURIN)
		return (struct veil_snp_tcb){ .fmc = b[0], .bootloader = b[1], .tee = b[2], .snp = b[3], .microcode = b[7] };
	return (struct veil_snp_tcb){ .bootloader = b[0], .tee = b[1], .snp = b[6], .microcode = b[7] };
}

uint64_t veil_snp_tcb_encode(struct veil_snp_tcb tcb, enum veil_snp_tcb_layout layout)
{
	uint8_t b[8] = { 0 };
	if (layout == VEIL_SNP_TCB_TURIN) {
		b[0] = tcb.fmc;
		b[1] = tcb.bootloader;
		b[2] = tcb.tee;
		b[3] = tcb.snp;
	} else {
		b[0] = tcb.bootloader;
		b[1] = tcb.tee;
		b[6] = tcb.snp;
	}
	b[7] = tcb.microcode;
	return get64(b);
}

/* ---- verification ---- */

static const ASN1_OCTET_STRING *vcek_extension(X509 *vcek, const char *oid)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int idx = obj != NULL ? X509_get_ext_by_OBJ(vcek, obj, -1) : -1;
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return NULL;
	return X509_EXTENSION_get_data(X509_get_ext(vcek, idx));
}

/* An SPL extension holds a DER INTEGER from 0 to 255. */
static int vcek_spl(X509 *vcek, const char *oid, const char *name, uint8_t *out, veil_err_t *err)
{
	const ASN1_OCTET_STRING *data = vcek_extension(vcek, oid);
	if (data == NULL)
		return veil_fail(err, EBADMSG, "VCEK has no %s extension (%s)", name, oid);
	const unsigned char *p = ASN1_STRING_get0_data(data);
	int len = ASN1_STRING_length(data);
	ASN1_INTEGER *n = d2i_ASN1_INTEGER(NULL, &p, len);
	long v = -1;
	if (n != NULL && p == ASN1_STRING_get0_data(data) + len)
		v = ASN1_INTEGER_get(n);
	ASN1_INTEGER_free(n);
	ERR_clear_error();
	if (v < 0 || v > 255)
		return veil_fail(err, EBADMSG, "VCEK %s extension is not an integer from 0 to 255", name);
	*out = (uint8_t)v;
	return 0;
}

/* hwID holds the 64-byte CHIP_ID, raw (as AMD's KDS issues it) or wrapped
 * in an OCTET STRING. */
int veil_snp_vcek_hwid(X509 *vcek, uint8_t out[64], veil_err_t *err)
{
	const ASN1_OCTET_STRING *data = vcek_extension(vcek, VEIL_VCEK_OID_HWID);
	if (data == NULL)
		return veil_fail(err, EBADMSG, "VCEK has no hwID extension (%s)", VEIL_VCEK_OID_HWID);
	const unsigned char *p = ASN1_STRING_get0_data(data);
	int len = ASN1_STRING_length(data);
	if (len == 66 && p[0] == V_ASN1_OCTET_STRING && p[1] == 64) {
		p += 2;
		len -= 2;
	}
	if (len != 64)
		return veil_fail(err, EBADMSG, "VCEK hwID extension: expected 64 bytes, got %d", len);
	memcpy(out, p, 64);
	return 0;
}

static void format_tcb(struct veil_snp_tcb t, enum veil_snp_tcb_layout layout, char *out, size_t size)
{
	int n = 0;
	if (layout == VEIL_SNP_TCB_TURIN)
		n = snprintf(out, size, "fmc %u, ", t.fmc);
	snprintf(out + n, size - (size_t)n, "bootloader %u, tee %u, snp %u, microcode %u", t.bootloader, t.tee, t.snp,
		 t.microcode);
}

static int check_tcb(X509 *vcek, uint64_t reported, enum veil_snp_tcb_layout layout, veil_err_t *err)
{
	struct veil_snp_tcb cert = { 0 };
	if (vcek_spl(vcek, VEIL_VCEK_OID_BL_SPL, "blSPL", &cert.bootloader, err) < 0 ||
	    vcek_spl(vcek, VEIL_VCEK_OID_TEE_SPL, "teeSPL", &cert.tee, err) < 0 ||
	    vcek_spl(vcek, VEIL_VCEK_OID_SNP_SPL, "snpSPL", &cert.snp, err) < 0 ||
	    vcek_spl(vcek, VEIL_VCEK_OID_UCODE_SPL, "ucodeSPL", &cert.microcode, err) < 0 ||
	    (layout == VEIL_SNP_TCB_TURIN && vcek_spl(vcek, VEIL_VCEK_OID_FMC_SPL, "fmcSPL", &cert.fmc, err) < 0))
		return -1;
	struct veil_snp_tcb got = veil_snp_tcb_decode(reported, layout);
	if (memcmp(&got, &cert, sizeof(got)) != 0) {
		char want_s[96], got_s[96];
		format_tcb(cert, layout, want_s, sizeof(want_s));
		format_tcb(got, layout, got_s, sizeof(got_s));
		return veil_fail(err, EBADMSG, "SNP REPORTED_TCB does not match the VCEK: expected %s, got %s", want_s,
				 got_s);
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int check_chip_id(X509 *vcek, const struct veil_snp_report *r, veil_err_t *err)
{
	if (r->key_info & VEIL_SNP_KEY_MASK_CHIP_ID) {
		/* The guest asked the firmware to hide CHIP_ID: it must read as zero. */
		if (!all_zero(r->chip_id, sizeof(r->chip_id)))
			return veil_fail(err, EBADMSG, "SNP CHIP_ID is masked (KEY_INFO.MASK_CHIP_ID) but not zero");
		return 0;
	}
	uint8_t hwid[64];
	if (veil_snp_vcek_hwid(vcek, hwid, err) < 0)
		return -1;
	if (!veil_bytes_equal(hwid, r->chip_id, sizeof(hwid))) {
		char want_s[40], got_s[40];
		return veil_fail(err, EBADMSG, "SNP CHIP_ID does not match the VCEK hwID: expected %s, got %s",
				 veil_hex_brief(hwid, 64, 8, want_s, sizeof(want_s)),
				 veil_hex_brief(r->chip_id, 64, 8, got_s, sizeof(got_s)));
	}
	return 0;
}

static int check_report_signature(X509 *vcek, const uint8_t *report, const struct veil_snp_report *r,
				  veil_err_t *err)
{
	/* Only 48 bytes of each 72-byte component are significant; the rest must
	 * be zero or r and s would be other integers than the ones verified. */
	if (!all_zero(r->signature_r + P384_BYTES, VEIL_SNP_SIG_COMPONENT_SIZE - P384_BYTES) ||
	    !all_zero(r->signature_s + P384_BYTES, VEIL_SNP_SIG_COMPONENT_SIZE - P384_BYTES))
		return veil_fail(err, EBADMSG, "SNP report signature: r or s has non-zero bytes above bit 384");
	uint8_t rr[P384_BYTES], ss[P384_BYTES];
	memcpy(rr, r->signature_r, P384_BYTES);
	memcpy(ss, r->signature_s, P384_BYTES);
	veil_reverse_bytes(rr, P384_BYTES);
	veil_reverse_bytes(ss, P384_BYTES);
	return veil_ecdsa_verify_raw(X509_get0_pubkey(vcek), EVP_sha384(), report, VEIL_SNP_SIGNED_SIZE, rr, ss,
				     P384_BYTES, "SNP report signature (ECDSA P-384 over 0x000-0x29F) with the VCEK key",
				     err);
}

struct anchor_certs {
	X509 *ark, *ask;
};

static void anchor_certs_free(struct anchor_certs *a)
{
	X509_free(a->ark);
	X509_free(a->ask);
}

/* Loads one configured anchor and checks that it is consistent: a
 * self-signed ARK and an ASK that the ARK signed. */
static int load_anchor(const struct veil_snp_anchor *anchor, struct anchor_certs *out, veil_err_t *err)
{
	const char *product = anchor->product != NULL ? anchor->product : "(unnamed)";
	char ark_name[80], ask_name[80];
	snprintf(ark_name, sizeof(ark_name), "%s ARK", product);
	snprintf(ask_name, sizeof(ask_name), "%s ASK", product);
	out->ark = veil_x509_from_der(anchor->ark_der, anchor->ark_len, ark_name, err);
	if (out->ark == NULL)
		return -1;
	out->ask = veil_x509_from_der(anchor->ask_der, anchor->ask_len, ask_name, err);
	if (out->ask == NULL)
		return -1;
	if (veil_x509_check_issued(out->ark, ark_name, out->ark, "ARK's own", true, err) < 0 ||
	    veil_x509_check_issued(out->ask, ask_name, out->ark, ark_name, true, err) < 0)
		return veil_fail_context(err, "trust anchor");
	return 0;
}

/* Explains why a VCEK whose issuer is none of the anchors' ASKs is refused. */
static int no_anchor(X509 *vcek, const struct veil_snp_anchor *anchors, size_t n_anchors, veil_err_t *err)
{
	char issuer[256];
	if (X509_NAME_oneline(X509_get_issuer_name(vcek), issuer, sizeof(issuer)) == NULL)
		snprintf(issuer, sizeof(issuer), "(unprintable name)");
	if (strstr(issuer, VEIL_EMULATED_NAME_MARK) != NULL)
		return veil_fail(err, EPERM,
				 "VCEK chain ends in veil's emulated root (issuer \"%s\"), which protects nothing: the host "
				 "signed this report; it is accepted only where the emulated anchor is configured",
				 issuer);
	char names[256] = "";
	size_t used = 0;
	for (size_t i = 0; i < n_anchors && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
					 anchors[i].product != NULL ? anchors[i].product : "(unnamed)");
	return veil_fail(err, EPERM, "VCEK issuer \"%s\" is none of the configured anchors' ASKs (%s)", issuer,
			 n_anchors ? names : "none configured");
}

static void fill_claims(const struct veil_snp_report *r, bool emulated, struct veil_evidence_claims *c)
{
	memset(c, 0, sizeof(*c));
	c->tee = emulated ? VEIL_TEE_EMULATED : VEIL_TEE_SNP;
	memcpy(c->report_data, r->report_data, sizeof(c->report_data));
	memcpy(c->measurement, r->measurement, sizeof(c->measurement));
	memcpy(c->init_data, r->host_data, sizeof(r->host_data));
	c->init_data_len = sizeof(r->host_data);
	c->debug = (r->policy & VEIL_SNP_POLICY_DEBUG) != 0;
	c->svn = r->guest_svn;
	c->snp_policy = r->policy;
	c->vmpl = r->vmpl;
	c->reported_tcb = r->reported_tcb;
	memcpy(c->chip_id, r->chip_id, sizeof(c->chip_id));
}

int veil_snp_verify(const uint8_t *report, size_t report_len, const uint8_t *vcek_der, size_t vcek_len,
		    const struct veil_snp_anchor *anchors, size_t n_anchors, struct veil_evidence_claims *claims,
		    veil_err_t *err)
{
	struct veil_snp_report r;
	if (veil_snp_report_parse(report, report_len, &r, err) < 0)
		return -1;
	unsigned signing_key = VEIL_SNP_KEY_SIGNING_KEY(r.key_info);
	if (signing_key != VEIL_SNP_SIGNING_KEY_VCEK)
		return veil_fail(err, EBADMSG, "SNP report signing key: expected 0 (VCEK), got %u%s", signing_key,
				 signing_key == VEIL_SNP_SIGNING_KEY_VLEK ? " (VLEK, not supported)" : "");
	X509 *vcek = veil_x509_from_der(vcek_der, vcek_len, "VCEK", err);
	if (vcek == NULL)
		return -1;
	int rc = -1;
	struct anchor_certs certs = { 0 };
	const struct veil_snp_anchor *matched = NULL;
	if (!veil_pkey_is_ec_curve(X509_get0_pubkey(vcek), "secp384r1")) {
		veil_fail(err, EBADMSG, "VCEK key: expected ECDSA P-384");
		goto out;
	}
	for (size_t i = 0; i < n_anchors && matched == NULL; i++) {
		anchor_certs_free(&certs);
		certs = (struct anchor_certs){ 0 };
		if (load_anchor(&anchors[i], &certs, err) < 0)
			goto out;
		if (X509_NAME_cmp(X509_get_issuer_name(vcek), X509_get_subject_name(certs.ask)) == 0)
			matched = &anchors[i];
	}
	if (matched == NULL) {
		no_anchor(vcek, anchors, n_anchors, err);
		goto out;
	}
	char ask_name[80];
	snprintf(ask_name, sizeof(ask_name), "%s ASK", matched->product != NULL ? matched->product : "(unnamed)");
	bool emulated = matched->product != NULL && strcmp(matched->product, VEIL_EMULATED_PRODUCT) == 0;
	enum veil_snp_tcb_layout layout =
		matched->product != NULL && strcmp(matched->product, "Turin") == 0 ? VEIL_SNP_TCB_TURIN : VEIL_SNP_TCB_MILAN;
	if (veil_x509_check_issued(vcek, "VCEK", certs.ask, ask_name, true, err) < 0 ||
	    check_report_signature(vcek, report, &r, err) < 0 || check_tcb(vcek, r.reported_tcb, layout, err) < 0 ||
	    check_chip_id(vcek, &r, err) < 0)
		goto out;
	fill_claims(&r, emulated, claims);
	rc = 0;
out:
	anchor_certs_free(&certs);
	X509_free(vcek);
	return rc;
}
