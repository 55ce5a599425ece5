#include "attest/snp_json.h"

#include <errno.h>
#include <string.h>

#include "attest/snp.h"
#include "lib/json.h"

/* Bytes of version 3 and later reports that struct veil_snp_report lacks
 * (SEV-SNP ABI 1.55+, table "ATTESTATION_REPORT Structure"). */
#define OFF_CPUID_FAM_ID 0x188
#define OFF_CPUID_MOD_ID 0x189
#define OFF_CPUID_STEP 0x18a
#define OFF_LAUNCH_MIT_VECTOR 0x1f8 /* version 5 */
#define OFF_CURRENT_MIT_VECTOR 0x200
#define CPUID_FAMILY_TURIN 0x1a

static const char what[] = "SNP attestation_report";

/* ---- report -> JSON ---- */

static json_object *byte_array(const uint8_t *b, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int(b[i]));
	return a;
}

static json_object *tcb_object(uint64_t raw, enum veil_snp_tcb_layout layout)
{
	struct veil_snp_tcb t = veil_snp_tcb_decode(raw, layout);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "fmc", layout == VEIL_SNP_TCB_TURIN ? json_object_new_int(t.fmc) : NULL);
	json_object_object_add(o, "bootloader", json_object_new_int(t.bootloader));
	json_object_object_add(o, "tee", json_object_new_int(t.tee));
	json_object_object_add(o, "snp", json_object_new_int(t.snp));
	json_object_object_add(o, "microcode", json_object_new_int(t.microcode));
	return o;
}

static json_object *version_object(uint8_t major, uint8_t minor, uint8_t build)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "major", json_object_new_int(major));
	json_object_object_add(o, "minor", json_object_new_int(minor));
	json_object_object_add(o, "build", json_object_new_int(build));
	return o;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

json_object *veil_snp_report_to_json(const uint8_t report[VEIL_SNP_REPORT_SIZE], veil_err_t *err)
{
	struct veil_snp_report r;
	if (veil_snp_report_parse(report, VEIL_SNP_REPORT_SIZE, &r, err) < 0)
		return NULL;
	bool v3 = r.version >= 3;
	enum veil_snp_tcb_layout layout =
		v3 && report[OFF_CPUID_FAM_ID] == CPUID_FAMILY_TURIN ? VEIL_SNP_TCB_TURIN : VEIL_SNP_TCB_MILAN;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int64(r.version));
	json_object_object_add(o, "guest_svn", json_object_new_int64(r.guest_svn));
	json_object_object_add(o, "policy", json_object_new_uint64(r.policy));
	json_object_object_add(o, "family_id", byte_array(r.family_id, sizeof(r.family_id)));
	json_object_object_add(o, "image_id", byte_array(r.image_id, sizeof(r.image_id)));
	json_object_object_add(o, "vmpl", json_object_new_int64(r.vmpl));
	json_object_object_add(o, "sig_algo", json_object_new_int64(r.signature_algo));
	json_object_object_add(o, "current_tcb", tcb_object(r.current_tcb, layout));
	json_object_object_add(o, "plat_info", json_object_new_uint64(r.platform_info));
	json_object_object_add(o, "key_info", json_object_new_int64(r.key_info));
	json_object_object_add(o, "report_data", byte_array(r.report_data, sizeof(r.report_data)));
	json_object_object_add(o, "measurement", byte_array(r.measurement, sizeof(r.measurement)));
	json_object_object_add(o, "host_data", byte_array(r.host_data, sizeof(r.host_data)));
	json_object_object_add(o, "id_key_digest", byte_array(r.id_key_digest, sizeof(r.id_key_digest)));
	json_object_object_add(o, "author_key_digest", byte_array(r.author_key_digest, sizeof(r.author_key_digest)));
	json_object_object_add(o, "report_id", byte_array(r.report_id, sizeof(r.report_id)));
	json_object_object_add(o, "report_id_ma", byte_array(r.report_id_ma, sizeof(r.report_id_ma)));
	json_object_object_add(o, "reported_tcb", tcb_object(r.reported_tcb, layout));
	json_object_object_add(o, "cpuid_fam_id", v3 ? json_object_new_int(report[OFF_CPUID_FAM_ID]) : NULL);
	json_object_object_add(o, "cpuid_mod_id", v3 ? json_object_new_int(report[OFF_CPUID_MOD_ID]) : NULL);
	json_object_object_add(o, "cpuid_step", v3 ? json_object_new_int(report[OFF_CPUID_STEP]) : NULL);
	json_object_object_add(o, "chip_id", byte_array(r.chip_id, sizeof(r.chip_id)));
	json_object_object_add(o, "committed_tcb", tcb_object(r.committed_tcb, layout));
	json_object_object_add(o, "current", version_object(r.current_major, r.current_minor, r.current_build));
	json_object_object_add(o, "committed", version_object(r.committed_major, r.committed_minor, r.committed_build));
	json_object_object_add(o, "launch_tcb", tcb_object(r.launch_tcb, layout));
	if (r.version >= 5) {
		json_object_object_add(o, "launch_mit_vector", json_object_new_uint64(le64(report + OFF_LAUNCH_MIT_VECTOR)));
		json_object_object_add(o, "current_mit_vector", json_object_new_uint64(le64(report + OFF_CURRENT_MIT_VECTOR)));
	}
	json_object *sig = json_object_new_object();
	json_object_object_add(sig, "r", byte_array(r.signature_r, sizeof(r.signature_r)));
	json_object_object_add(sig, "s", byte_array(r.signature_s, sizeof(r.signature_s)));
	json_object_object_add(o, "signature", sig);
	return o;
}

/* ---- JSON -> report ---- */

static int get_uint(json_object *o, const char *where, const char *key, uint64_t max, bool nullable, uint64_t *out,
		    bool *is_null, veil_err_t *err)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return veil_fail(err, 0, "%s: missing \"%s\"", where, key);
	if (v == NULL && nullable) {
		*is_null = true;
		*out = 0;
		return 0;
	}
	if (is_null != NULL)
		*is_null = false;
	errno = 0;
	uint64_t x = json_object_get_uint64(v);
	if (!json_object_is_type(v, json_type_int) || errno != 0 || json_object_get_int64(v) < 0 || x > max)
		return veil_fail(err, 0, "%s: \"%s\" must be an integer 0..%llu", where, key, (unsigned long long)max);
	*out = x;
	return 0;
}

static int get_bytes(json_object *o, const char *where, const char *key, uint8_t *out, size_t n, veil_err_t *err)
{
	json_object *a = json_object_object_get(o, key);
	if (a == NULL || !json_object_is_type(a, json_type_array) || json_object_array_length(a) != n)
		return veil_fail(err, 0, "%s: \"%s\" must be an array of %zu bytes", where, key, n);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		int64_t x = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || x < 0 || x > 255)
			return veil_fail(err, 0, "%s: \"%s\"[%zu] is not a byte", where, key, i);
		out[i] = (uint8_t)x;
	}
	return 0;
}

static int get_tcb(json_object *o, const char *key, uint64_t *out, int *turin, veil_err_t *err)
{
	char where[64];
	snprintf(where, sizeof(where), "%s %s", what, key);
	json_object *t = json_object_object_get(o, key);
	if (veil_json_check_members(t, where,
				    VEIL_JSON_MEMBERS({ "fmc", json_type_null, false }, { "bootloader", json_type_int, true },
						      { "tee", json_type_int, true }, { "snp", json_type_int, true },
						      { "microcode", json_type_int, true }),
				    NULL) < 0 &&
	    veil_json_check_members(t, where,
				    VEIL_JSON_MEMBERS({ "fmc", json_type_int, true }, { "bootloader", json_type_int, true },
						      { "tee", json_type_int, true }, { "snp", json_type_int, true },
						      { "microcode", json_type_int, true }),
				    err) < 0)
		return -1;
	uint64_t fmc, bl, tee, snp, uc;
	bool fmc_null;
	if (get_uint(t, where, "fmc", 255, true, &fmc, &fmc_null, err) < 0 ||
	    get_uint(t, where, "bootloader", 255, false, &bl, NULL, err) < 0 ||
	    get_uint(t, where, "tee", 255, false, &tee, NULL, err) < 0 || get_uint(t, where, "snp", 255, false, &snp, NULL, err) < 0 ||
	    get_uint(t, where, "microcode", 255, false, &uc, NULL, err) < 0)
		return -1;
	/* Every TCB of one report has one layout: the first decides. */
	if (*turin < 0)
		*turin = !fmc_null;
	else if (*turin != !fmc_null)
		return veil_fail(err, 0, "%s: \"fmc\" is null in some TCB versions and not in others", what);
	struct veil_snp_tcb tcb = { .fmc = (uint8_t)fmc, .bootloader = (uint8_t)bl, .tee = (uint8_t)tee,
				    .snp = (uint8_t)snp, .microcode = (uint8_t)uc };
	*out = veil_snp_tcb_encode(tcb, *turin ? VEIL_SNP_TCB_TURIN : VEIL_SNP_TCB_MILAN);
	return 0;
}

static int get_version(json_object *o, const char *key, uint8_t *major, uint8_t *minor, uint8_t *build, veil_err_t *err)
{
	char where[64];
	snprintf(where, sizeof(where), "%s %s", what, key);
	json_object *v = json_object_object_get(o, key);
	uint64_t a, b, c;
	if (veil_json_check_members(v, where,
				    VEIL_JSON_MEMBERS({ "major", json_type_int, true }, { "minor", json_type_int, true },
						      { "build", json_type_int, true }),
				    err) < 0 ||
	    get_uint(v, where, "major", 255, false, &a, NULL, err) < 0 || get_uint(v, where, "minor", 255, false, &b, NULL, err) < 0 ||
	    get_uint(v, where, "build", 255, false, &c, NULL, err) < 0)
		return -1;
	*major = (uint8_t)a;
	*minor = (uint8_t)b;
	*build = (uint8_t)c;
	return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int veil_snp_report_from_json(json_object *o, uint8_t report[VEIL_SNP_REPORT_SIZE], veil_err_t *err)
{
	static const struct veil_json_member members[] = {
		{ "version", json_type_int, true },	   { "guest_svn", json_type_int, true },
		{ "policy", json_type_int, true },	   { "family_id", json_type_array, true },
		{ "image_id", json_type_array, true },	   { "vmpl", json_type_int, true },
		{ "sig_algo", json_type_int, true },	   { "current_tcb", json_type_object, true },
		{ "plat_info", json_type_int, true },	   { "key_info", json_type_int, true },
		{ "report_data", json_type_array, true },  { "measurement", json_type_array, true },
		{ "host_data", json_type_array, true },	   { "id_key_digest", json_type_array, true },
		{ "author_key_digest", json_type_array, true }, { "report_id", json_type_array, true },
		{ "report_id_ma", json_type_array, true }, { "reported_tcb", json_type_object, true },
		{ "chip_id", json_type_array, true },	   { "committed_tcb", json_type_object, true },
		{ "current", json_type_object, true },	   { "committed", json_type_object, true },
		{ "launch_tcb", json_type_object, true },  { "signature", json_type_object, true },
		{ NULL, json_type_null, false },
	};
	/* The nullable members (serde's Option) are checked apart: null or an integer. */
	static const char *const nullable[] = { "cpuid_fam_id", "cpuid_mod_id", "cpuid_step", "launch_mit_vector",
						"current_mit_vector" };
	uint64_t opt[5] = { 0 };
	bool opt_null[5];
	json_object *copy = NULL;
	if (!json_object_is_type(o, json_type_object))
		return veil_fail(err, 0, "%s: expected a JSON object", what);
	if (json_object_deep_copy(o, &copy, NULL) < 0)
		return veil_fail(err, ENOMEM, "%s", what);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < 5; i++) {
		opt_null[i] = true;
		if (json_object_object_get_ex(copy, nullable[i], NULL))
			rc = get_uint(copy, what, nullable[i], i < 3 ? 255 : UINT64_MAX, true, &opt[i], &opt_null[i], err);
		json_object_object_del(copy, nullable[i]);
	}
	if (rc == 0)
		rc = veil_json_check_members(copy, what, members, err);
	json_object_put(copy);
	if (rc < 0)
		return -1;

	struct veil_snp_report r = { 0 };
	uint64_t version, svn, policy, vmpl, algo, plat, key;
	int turin = opt_null[0] ? -1 : opt[0] == CPUID_FAMILY_TURIN;
	json_object *sig = json_object_object_get(o, "signature");
	if (get_uint(o, what, "version", UINT32_MAX, false, &version, NULL, err) < 0 ||
	    get_uint(o, what, "guest_svn", UINT32_MAX, false, &svn, NULL, err) < 0 ||
	    get_uint(o, what, "policy", UINT64_MAX, false, &policy, NULL, err) < 0 ||
	    get_uint(o, what, "vmpl", UINT32_MAX, false, &vmpl, NULL, err) < 0 ||
	    get_uint(o, what, "sig_algo", UINT32_MAX, false, &algo, NULL, err) < 0 ||
	    get_uint(o, what, "plat_info", UINT64_MAX, false, &plat, NULL, err) < 0 ||
	    get_uint(o, what, "key_info", UINT32_MAX, false, &key, NULL, err) < 0 ||
	    get_bytes(o, what, "family_id", r.family_id, sizeof(r.family_id), err) < 0 ||
	    get_bytes(o, what, "image_id", r.image_id, sizeof(r.image_id), err) < 0 ||
	    get_bytes(o, what, "report_data", r.report_data, sizeof(r.report_data), err) < 0 ||
	    get_bytes(o, what, "measurement", r.measurement, sizeof(r.measurement), err) < 0 ||
	    get_bytes(o, what, "host_data", r.host_data, sizeof(r.host_data), err) < 0 ||
	    get_bytes(o, what, "id_key_digest", r.id_key_digest, sizeof(r.id_key_digest), err) < 0 ||
	    get_bytes(o, what, "author_key_digest", r.author_key_digest, sizeof(r.author_key_digest), err) < 0 ||
	    get_bytes(o, what, "report_id", r.report_id, sizeof(r.report_id), err) < 0 ||
	    get_bytes(o, what, "report_id_ma", r.report_id_ma, sizeof(r.report_id_ma), err) < 0 ||
	    get_bytes(o, what, "chip_id", r.chip_id, sizeof(r.chip_id), err) < 0 ||
	    get_tcb(o, "current_tcb", &r.current_tcb, &turin, err) < 0 ||
	    get_tcb(o, "reported_tcb", &r.reported_tcb, &turin, err) < 0 ||
	    get_tcb(o, "committed_tcb", &r.committed_tcb, &turin, err) < 0 ||
	    get_tcb(o, "launch_tcb", &r.launch_tcb, &turin, err) < 0 ||
	    get_version(o, "current", &r.current_major, &r.current_minor, &r.current_build, err) < 0 ||
	    get_version(o, "committed", &r.committed_major, &r.committed_minor, &r.committed_build, err) < 0 ||
	    veil_json_check_members(sig, "SNP attestation_report signature",
				    VEIL_JSON_MEMBERS({ "r", json_type_array, true }, { "s", json_type_array, true }), err) < 0 ||
	    get_bytes(sig, "SNP attestation_report signature", "r", r.signature_r, sizeof(r.signature_r), err) < 0 ||
	    get_bytes(sig, "SNP attestation_report signature", "s", r.signature_s, sizeof(r.signature_s), err) < 0)
		return -1;
	bool v3 = version >= 3, v5 = version >= 5;
	bool cpuid_set = !opt_null[0] && !opt_null[1] && !opt_null[2], cpuid_none = opt_null[0] && opt_null[1] && opt_null[2];
	bool mit_set = !opt_null[3] && !opt_null[4], mit_none = opt_null[3] && opt_null[4];
	if (v3 ? !cpuid_set : !cpuid_none)
		return veil_fail(err, 0, "%s: cpuid_fam_id, cpuid_mod_id and cpuid_step are set in version 3 reports "
					 "and later, and only there (version %llu)", what, (unsigned long long)version);
	if (v5 ? !mit_set : !mit_none)
		return veil_fail(err, 0, "%s: launch_mit_vector and current_mit_vector are set in version 5 reports "
					 "and later, and only there (version %llu)", what, (unsigned long long)version);
	r.version = (uint32_t)version;
	r.guest_svn = (uint32_t)svn;
	r.policy = policy;
	r.vmpl = (uint32_t)vmpl;
	r.signature_algo = (uint32_t)algo;
	r.platform_info = plat;
	r.key_info = (uint32_t)key;
	veil_snp_report_encode(&r, report);
	if (v3) {
		report[OFF_CPUID_FAM_ID] = (uint8_t)opt[0];
		report[OFF_CPUID_MOD_ID] = (uint8_t)opt[1];
		report[OFF_CPUID_STEP] = (uint8_t)opt[2];
	}
	if (v5) {
		put_le64(report + OFF_LAUNCH_MIT_VECTOR, opt[3]);
		put_le64(report + OFF_CURRENT_MIT_VECTOR, opt[4]);
	}
	return 0;
}
