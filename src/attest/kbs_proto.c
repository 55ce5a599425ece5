#include "attest/kbs_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp_json.h"
#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/hex.h"
#include "lib/json.h"
#include "lib/utf8.h"

const char *veil_kbs_version_name(enum veil_kbs_version v)
{
	return v == VEIL_KBS_V0_4_0 ? "0.4.0" : "0.1.1";
}

const char *veil_kbs_tee_name(enum veil_kbs_tee tee)
{
	return tee == VEIL_KBS_TEE_TDX ? "tdx" : "snp";
}

/* Serialises and releases o: compact, '/' unescaped. NULL when out of memory. */
static char *finish(json_object *o)
{
	const char *s = o != NULL ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	char *copy = s != NULL ? strdup(s) : NULL;
	json_object_put(o);
	return copy;
}

static int parse_bounded(const char *body, size_t len, size_t max, const char *what, json_object **out, veil_err_t *err)
{
	if (len > max)
		return veil_fail(err, 0, "%s: body of %zu bytes, at most %zu", what, len, max);
	return veil_json_parse(body, len, what, out, err);
}

char *veil_kbs_request_build(enum veil_kbs_tee tee, enum veil_kbs_version version)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_string(veil_kbs_version_name(version)));
	json_object_object_add(o, "tee", json_object_new_string(veil_kbs_tee_name(tee)));
	json_object_object_add(o, "extra-params", json_object_new_string(""));
	return finish(o);
}

/* "extra-params" is "" or {} in practice; anything of either type is ignored. */
static int check_extra_params(json_object *o, const char *what, veil_err_t *err)
{
	json_object *extra = json_object_object_get(o, "extra-params");
	if (extra != NULL && !json_object_is_type(extra, json_type_string) && !json_object_is_type(extra, json_type_object))
		return veil_fail(err, 0, "%s: \"extra-params\" must be a string or an object", what);
	return 0;
}

int veil_kbs_request_parse(const char *body, size_t len, enum veil_kbs_tee *tee, enum veil_kbs_version *ver,
			   veil_err_t *err)
{
	const char *what = "KBS Request";
	cleanup_json json_object *o = NULL;
	json_object *extra;
	if (parse_bounded(body, len, VEIL_KBS_MAX_REQUEST, what, &o, err) < 0)
		return -1;
	/* Check the type of extra-params separately: it may be a string or an object. */
	if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "extra-params", &extra)) {
		if (check_extra_params(o, what, err) < 0)
			return -1;
		json_object_object_del(o, "extra-params");
	}
	if (veil_json_check_members(o, what,
				    VEIL_JSON_MEMBERS({ "version", json_type_string, true }, { "tee", json_type_string, true }),
				    err) < 0)
		return -1;
	const char *version = json_object_get_string(json_object_object_get(o, "version"));
	const char *name = json_object_get_string(json_object_object_get(o, "tee"));
	if (strcmp(version, "0.1.1") == 0)
		*ver = VEIL_KBS_V0_1_1;
	else if (strcmp(version, "0.4.0") == 0)
		*ver = VEIL_KBS_V0_4_0;
	else
		return veil_fail(err, 0, "KBS protocol version mismatch: expected 0.1.1 or 0.4.0, the client speaks %.32s",
				 version);
	if (strcmp(name, "snp") == 0)
		*tee = VEIL_KBS_TEE_SNP;
	else if (strcmp(name, "tdx") == 0)
		*tee = VEIL_KBS_TEE_TDX;
	else
		return veil_fail(err, 0, "%s: tee \"%.32s\" is not supported (snp, tdx)", what, name);
	return 0;
}

char *veil_kbs_challenge_build(const char *nonce)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "nonce", json_object_new_string(nonce));
	json_object_object_add(o, "extra-params", json_object_new_string(VEIL_KBS_TENANCY_PARAM));
	return finish(o);
}

static int check_nonce(const char *what, const char *nonce, veil_err_t *err)
{
	size_t n = strlen(nonce);
	if (n == 0 || n > VEIL_KBS_NONCE_MAX)
		return veil_fail(err, 0, "%s: nonce of %zu characters (1 to %d)", what, n, VEIL_KBS_NONCE_MAX);
	for (size_t i = 0; i < n; i++)
		if (nonce[i] < 0x21 || nonce[i] > 0x7e)
			return veil_fail(err, 0, "%s: nonce holds a non-printable character", what);
	return 0;
}

int veil_kbs_challenge_parse(const char *body, size_t len, char nonce[VEIL_KBS_NONCE_MAX + 1], bool *wants_tenancy,
			     veil_err_t *err)
{
	const char *what = "KBS Challenge";
	cleanup_json json_object *o = NULL;
	json_object *extra;
	if (wants_tenancy != NULL)
		*wants_tenancy = false;
	if (parse_bounded(body, len, VEIL_KBS_MAX_REQUEST, what, &o, err) < 0)
		return -1;
	if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "extra-params", &extra)) {
		if (check_extra_params(o, what, err) < 0)
			return -1;
		if (wants_tenancy != NULL && json_object_is_type(extra, json_type_string))
			*wants_tenancy = strcmp(json_object_get_string(extra), VEIL_KBS_TENANCY_PARAM) == 0;
		json_object_object_del(o, "extra-params");
	}
	if (veil_json_check_members(o, what, VEIL_JSON_MEMBERS({ "nonce", json_type_string, true }), err) < 0)
		return -1;
	const char *s = json_object_get_string(json_object_object_get(o, "nonce"));
	if (check_nonce(what, s, err) < 0)
		return -1;
	snprintf(nonce, VEIL_KBS_NONCE_MAX + 1, "%s", s);
	return 0;
}

static json_object *tenancy_json(const struct veil_tenancy *t)
{
	char history[2 * sizeof(t->history) + 1];
	veil_hex_encode(t->history, sizeof(t->history), history);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tenants", json_object_new_int64(t->tenants));
	json_object_object_add(o, "scrubbed", json_object_new_int64(t->scrubbed));
	json_object_object_add(o, "containers", json_object_new_int64(t->containers));
	json_object_object_add(o, "history", json_object_new_string(history));
	return o;
}

static int get_count(json_object *o, const char *what, const char *key, uint32_t *out, veil_err_t *err)
{
	int64_t n = json_object_get_int64(json_object_object_get(o, key));
	if (n < 0 || n > VEIL_TENANCY_MAX)
		return veil_fail(err, 0, "%s: \"%s\" is not 0..%u", what, key, VEIL_TENANCY_MAX);
	*out = (uint32_t)n;
	return 0;
}

static int tenancy_parse(json_object *o, struct veil_tenancy *t, veil_err_t *err)
{
	const char *what = "KBS Attestation runtime-data tenancy";
	if (veil_json_check_members(o, what,
				    VEIL_JSON_MEMBERS({ "tenants", json_type_int, true }, { "scrubbed", json_type_int, true },
						      { "containers", json_type_int, true }, { "history", json_type_string, true }),
				    err) < 0 ||
	    get_count(o, what, "tenants", &t->tenants, err) < 0 || get_count(o, what, "scrubbed", &t->scrubbed, err) < 0 ||
	    get_count(o, what, "containers", &t->containers, err) < 0)
		return -1;
	if (t->scrubbed > t->tenants)
		return veil_fail(err, 0, "%s: %u scrubbed of %u tenants", what, t->scrubbed, t->tenants);
	const char *h = json_object_get_string(json_object_object_get(o, "history"));
	if (strlen(h) != 2 * sizeof(t->history))
		return veil_fail(err, 0, "%s: \"history\" is not %zu hex digits", what, 2 * sizeof(t->history));
	if (veil_hex_decode(h, sizeof(t->history), t->history) < 0)
		return veil_fail(err, 0, "%s: \"history\" is not hex", what);
	return 0;
}

static json_object *runtime_data(const char *nonce, json_object *tee_pubkey, const struct veil_tenancy *tenancy)
{
	json_object *rd = json_object_new_object();
	json_object_object_add(rd, "nonce", json_object_new_string(nonce));
	json_object_object_add(rd, "tee-pubkey", json_object_get(tee_pubkey));
	if (tenancy != NULL)
		json_object_object_add(rd, "tenancy", tenancy_json(tenancy));
	return rd;
}

int veil_kbs_report_data(enum veil_kbs_version version, const char *nonce, json_object *tee_pubkey,
			 const struct veil_tenancy *tenancy, uint8_t report_data[64], veil_err_t *err)
{
	cleanup_json json_object *rd = runtime_data(nonce, tee_pubkey, tenancy);
	if (version == VEIL_KBS_V0_4_0)
		json_object_object_add(rd, "additional-evidence", json_object_new_string(""));
	cleanup_free char *canonical = veil_json_canonical(rd, err);
	if (canonical == NULL)
		return veil_fail_context(err, "runtime-data");
	memset(report_data, 0, 64);
	unsigned int n = 0;
	if (EVP_Digest(canonical, strlen(canonical), report_data, &n, EVP_sha384(), NULL) != 1)
		return veil_fail(err, 0, "runtime-data: SHA-384 failed");
	return 0;
}

/* 0.4.0's composite evidence: the primary evidence, and no device evidence. */
static json_object *primary_evidence(json_object *composite, veil_err_t *err)
{
	if (veil_json_check_members(composite, "KBS Attestation tee-evidence",
				    VEIL_JSON_MEMBERS({ "primary_evidence", json_type_object, true },
						      { "additional_evidence", json_type_string, true }),
				    err) < 0)
		return NULL;
	if (json_object_get_string_len(json_object_object_get(composite, "additional_evidence")) != 0) {
		veil_fail(err, 0, "KBS Attestation tee-evidence: additional (device) evidence is not supported");
		return NULL;
	}
	return json_object_object_get(composite, "primary_evidence");
}

int veil_kbs_attestation_parse(enum veil_kbs_version version, const char *body, size_t len,
			       struct veil_kbs_attestation *att, veil_err_t *err)
{
	const char *what = "KBS Attestation";
	memset(att, 0, sizeof(*att));
	if (parse_bounded(body, len, VEIL_KBS_MAX_ATTESTATION, what, &att->doc, err) < 0)
		goto fail;
	if (veil_json_check_members(att->doc, what,
				    VEIL_JSON_MEMBERS({ "runtime-data", json_type_object, true },
						      { "tee-evidence", json_type_object, true },
						      { "init-data", json_type_object, false }),
				    err) < 0)
		goto fail;
	json_object *rd = json_object_object_get(att->doc, "runtime-data");
	if (veil_json_check_members(rd, "KBS Attestation runtime-data",
				    VEIL_JSON_MEMBERS({ "nonce", json_type_string, true }, { "tee-pubkey", json_type_object, true },
						      { "tenancy", json_type_object, false }),
				    err) < 0)
		goto fail;
	att->nonce = json_object_get_string(json_object_object_get(rd, "nonce"));
	att->tee_pubkey = json_object_object_get(rd, "tee-pubkey");
	json_object *tenancy = json_object_object_get(rd, "tenancy");
	att->has_tenancy = tenancy != NULL;
	if (check_nonce("KBS Attestation runtime-data", att->nonce, err) < 0 ||
	    veil_jwk_parse(att->tee_pubkey, &att->key, &att->alg, err) < 0 ||
	    (tenancy != NULL && tenancy_parse(tenancy, &att->tenancy, err) < 0) ||
	    veil_kbs_report_data(version, att->nonce, att->tee_pubkey, att->has_tenancy ? &att->tenancy : NULL,
				 att->report_data, err) < 0)
		goto fail;
	att->evidence = json_object_object_get(att->doc, "tee-evidence");
	if (version == VEIL_KBS_V0_4_0 && (att->evidence = primary_evidence(att->evidence, err)) == NULL)
		goto fail;
	json_object *init = json_object_object_get(att->doc, "init-data");
	if (init != NULL) {
		if (veil_json_check_members(init, "KBS Attestation init-data",
					    VEIL_JSON_MEMBERS({ "format", json_type_string, true }, { "body", json_type_string, true }),
					    err) < 0)
			goto fail;
		const char *format = json_object_get_string(json_object_object_get(init, "format"));
		if (strcmp(format, "toml") != 0) {
			veil_fail(err, 0, "KBS Attestation init-data: format \"%.32s\" is not supported (toml)", format);
			goto fail;
		}
		json_object *b = json_object_object_get(init, "body");
		att->init_data = json_object_get_string(b);
		att->init_data_len = (size_t)json_object_get_string_len(b);
	}
	return 0;
fail:
	veil_kbs_attestation_free(att);
	return -1;
}

void veil_kbs_attestation_free(struct veil_kbs_attestation *att)
{
	EVP_PKEY_free(att->key);
	json_object_put(att->doc);
	memset(att, 0, sizeof(*att));
}

char *veil_kbs_attestation_build(enum veil_kbs_version version, const char *nonce, json_object *tee_pubkey,
				 const struct veil_tenancy *tenancy, json_object *evidence, const char *init_data,
				 size_t init_data_len, veil_err_t *err)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "runtime-data", runtime_data(nonce, tee_pubkey, tenancy));
	if (version == VEIL_KBS_V0_4_0) {
		json_object *composite = json_object_new_object();
		json_object_object_add(composite, "primary_evidence", json_object_get(evidence));
		json_object_object_add(composite, "additional_evidence", json_object_new_string(""));
		json_object_object_add(o, "tee-evidence", composite);
	} else {
		json_object_object_add(o, "tee-evidence", json_object_get(evidence));
	}
	if (init_data != NULL) {
		json_object *init = json_object_new_object();
		json_object_object_add(init, "format", json_object_new_string("toml"));
		json_object_object_add(init, "body", json_object_new_string_len(init_data, (int)init_data_len));
		json_object_object_add(o, "init-data", init);
	}
	char *s = finish(o);
	if (s == NULL)
		veil_fail(err, ENOMEM, "KBS Attestation");
	return s;
}

/* ---- evidence ---- */

static int add_b64(json_object *o, const char *key, const uint8_t *data, size_t len)
{
	char *s = veil_b64_encode(VEIL_B64_STD, data, len);
	if (s == NULL)
		return -1;
	json_object_object_add(o, key, json_object_new_string(s));
	free(s);
	return 0;
}

static int get_b64(json_object *o, const char *what, const char *key, size_t max, uint8_t **out, size_t *len,
		   veil_err_t *err)
{
	json_object *v = json_object_object_get(o, key);
	size_t n = (size_t)json_object_get_string_len(v);
	if (n > (max + 2) / 3 * 4)
		return veil_fail(err, 0, "%s: \"%s\" longer than %zu bytes", what, key, max);
	char name[96];
	snprintf(name, sizeof(name), "%s: \"%s\"", what, key);
	return veil_b64_decode(VEIL_B64_STD, json_object_get_string(v), n, name, out, len, err);
}

json_object *veil_kbs_snp_evidence_build(const uint8_t *report, size_t report_len, const uint8_t *vcek, size_t vcek_len,
					 veil_err_t *err)
{
	if (report_len != VEIL_SNP_REPORT_SIZE) {
		veil_fail(err, 0, "SNP evidence: a report of %zu bytes, expected %d", report_len, VEIL_SNP_REPORT_SIZE);
		return NULL;
	}
	json_object *report_json = veil_snp_report_to_json(report, err);
	if (report_json == NULL)
		return NULL;
	json_object *o = json_object_new_object();
	json_object *chain = json_object_new_array();
	json_object *entry = json_object_new_object();
	json_object *data = json_object_new_array_ext((int)vcek_len);
	for (size_t i = 0; i < vcek_len; i++)
		json_object_array_add(data, json_object_new_int(vcek[i]));
	json_object_object_add(entry, "cert_type", json_object_new_string("VCEK"));
	json_object_object_add(entry, "data", data);
	json_object_array_add(chain, entry);
	json_object_object_add(o, "attestation_report", report_json);
	json_object_object_add(o, "cert_chain", chain);
	return o;
}

/* A certificate as serde writes a Vec<u8>: an array of integers 0..255. */
static int bytes_from_array(json_object *a, const char *what, uint8_t **out, size_t *len, veil_err_t *err)
{
	size_t n = json_object_array_length(a);
	if (n == 0 || n > VEIL_SNP_EVIDENCE_MAX_CERT)
		return veil_fail(err, 0, "%s: certificate of %zu bytes (1 to %u)", what, n, VEIL_SNP_EVIDENCE_MAX_CERT);
	uint8_t *b = malloc(n);
	if (b == NULL)
		return veil_fail(err, ENOMEM, "%s", what);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		int64_t x = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || x < 0 || x > 255) {
			free(b);
			return veil_fail(err, 0, "%s: byte %zu is not an integer 0..255", what, i);
		}
		b[i] = (uint8_t)x;
	}
	*out = b;
	*len = n;
	return 0;
}

int veil_kbs_snp_evidence_parse(json_object *ev, uint8_t report[VEIL_SNP_REPORT_SIZE], uint8_t **vcek,
				size_t *vcek_len, veil_err_t *err)
{
	const char *what = "SNP evidence";
	*vcek = NULL;
	if (veil_json_check_members(ev, what,
				    VEIL_JSON_MEMBERS({ "attestation_report", json_type_object, true },
						      { "cert_chain", json_type_array, true }),
				    err) < 0)
		return -1;
	json_object *chain = json_object_object_get(ev, "cert_chain");
	size_t n = json_object_array_length(chain);
	if (n > 8)
		return veil_fail(err, 0, "%s: cert_chain of %zu entries, at most 8", what, n);
	for (size_t i = 0; i < n; i++) {
		json_object *entry = json_object_array_get_idx(chain, i);
		if (veil_json_check_members(entry, "SNP evidence cert_chain entry",
					    VEIL_JSON_MEMBERS({ "cert_type", json_type_string, true },
							      { "data", json_type_array, true }),
					    err) < 0)
			return -1;
		const char *type = json_object_get_string(json_object_object_get(entry, "cert_type"));
		if (strcmp(type, "VCEK") != 0)
			continue;
		if (*vcek != NULL)
			return veil_fail(err, 0, "%s: more than one VCEK in cert_chain", what);
		if (bytes_from_array(json_object_object_get(entry, "data"), "SNP evidence VCEK", vcek, vcek_len, err) < 0)
			return -1;
	}
	if (*vcek == NULL)
		return veil_fail(err, 0, "%s: cert_chain has no VCEK", what);
	if (veil_snp_report_from_json(json_object_object_get(ev, "attestation_report"), report, err) < 0) {
		free(*vcek);
		*vcek = NULL;
		return -1;
	}
	return 0;
}

json_object *veil_kbs_tdx_evidence_build(const uint8_t *quote, size_t len)
{
	json_object *o = json_object_new_object();
	if (add_b64(o, "quote", quote, len) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int veil_kbs_tdx_evidence_parse(json_object *ev, uint8_t **quote, size_t *len, veil_err_t *err)
{
	const char *what = "TDX evidence";
	*quote = NULL;
	/* The event logs are optional and unused here; null is how serde writes None. */
	if (json_object_is_type(ev, json_type_object)) {
		static const char *const logs[] = { "cc_eventlog", "aa_eventlog" };
		for (size_t i = 0; i < 2; i++) {
			json_object *v;
			if (!json_object_object_get_ex(ev, logs[i], &v))
				continue;
			if (v != NULL && !json_object_is_type(v, json_type_string))
				return veil_fail(err, 0, "%s: \"%s\" must be a string or null", what, logs[i]);
			json_object_object_del(ev, logs[i]);
		}
	}
	if (veil_json_check_members(ev, what, VEIL_JSON_MEMBERS({ "quote", json_type_string, true }), err) < 0)
		return -1;
	return get_b64(ev, what, "quote", VEIL_TDX_QUOTE_MAX, quote, len, err);
}

/* ---- token and errors ---- */

char *veil_kbs_token_build(const char *token)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(token));
	return finish(o);
}

int veil_kbs_token_parse(const char *body, size_t len, char **token, veil_err_t *err)
{
	cleanup_json json_object *o = NULL;
	if (parse_bounded(body, len, VEIL_KBS_MAX_TOKEN, "KBS attestation token", &o, err) < 0 ||
	    veil_json_check_members(o, "KBS attestation token", VEIL_JSON_MEMBERS({ "token", json_type_string, true }), err) < 0)
		return -1;
	*token = strdup(json_object_get_string(json_object_object_get(o, "token")));
	return *token != NULL ? 0 : veil_fail(err, ENOMEM, "KBS attestation token");
}

char *veil_kbs_error_build(const char *kind, const char *detail)
{
	/* Details quote client input cut at a length limit: keep them valid UTF-8. */
	char *clean = strdup(detail);
	if (clean == NULL)
		return NULL;
	veil_utf8_sanitize(clean);
	char type[160];
	snprintf(type, sizeof(type), "%s%s", VEIL_KBS_ERROR_TYPE_PREFIX, kind);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "detail", json_object_new_string(clean));
	free(clean);
	return finish(o);
}

int veil_kbs_error_parse(const char *body, size_t len, char **kind, char **detail, veil_err_t *err)
{
	const char *what = "KBS error";
	cleanup_json json_object *o = NULL;
	if (parse_bounded(body, len, VEIL_KBS_MAX_REQUEST * 4, what, &o, err) < 0 ||
	    veil_json_check_members(o, what,
				    VEIL_JSON_MEMBERS({ "type", json_type_string, true }, { "detail", json_type_string, true }),
				    err) < 0)
		return -1;
	const char *type = json_object_get_string(json_object_object_get(o, "type"));
	const char *slash = strrchr(type, '/');
	*kind = strdup(slash != NULL ? slash + 1 : type);
	*detail = strdup(json_object_get_string(json_object_object_get(o, "detail")));
	if (*kind == NULL || *detail == NULL) {
		free(*kind);
		free(*detail);
		return veil_fail(err, ENOMEM, "%s", what);
	}
	return 0;
}

#define RESOURCE_SEGMENT_MAX 64

int veil_kbs_resource_path_check(const char *name, veil_err_t *err)
{
	const char *p = name;
	for (int seg = 0; seg < 3; seg++) {
		size_t n = 0;
		while (p[n] != '\0' && p[n] != '/') {
			char c = p[n];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			      c == '_' || c == '-'))
				return veil_fail(err, 0, "resource \"%.200s\": character 0x%02x is not allowed (A-Z a-z 0-9 . _ -)",
						 name, (unsigned char)c);
			n++;
		}
		if (n == 0 || n > RESOURCE_SEGMENT_MAX || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n >= 4 && memcmp(p + n - 4, ".tmp", 4) == 0))
			return veil_fail(err, 0, "resource \"%.200s\": each of repo/type/tag must be 1 to %d characters, not "
						 "\".\", \"..\" or ending in \".tmp\"", name, RESOURCE_SEGMENT_MAX);
		p += n;
		if (seg < 2 && *p++ != '/')
			return veil_fail(err, 0, "resource \"%.200s\": expected repo/type/tag", name);
	}
	if (*p != '\0')
		return veil_fail(err, 0, "resource \"%.200s\": expected repo/type/tag", name);
	return 0;
}
