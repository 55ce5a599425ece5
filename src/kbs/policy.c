#include "kbs/kbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/initdata.h"
#include "lib/hex.h"
#include "lib/toml.h"

#define MAX_LIST 1024

static void list_free(struct kbs_digest_list *l)
{
	free(l->items);
	free(l->lens);
	memset(l, 0, sizeof(*l));
}

/* A list of hex digests under key; each must decode to one of the lengths in
 * `sizes` (0-terminated). */
static int parse_list(const struct toml_table *t, const char *key, const size_t *sizes, struct kbs_digest_list *l,
		      veil_err_t *err)
{
	const char **items = NULL;
	size_t n = 0;
	int rc = toml_get_string_array(t, key, &items, &n, err);
	if (rc <= 0)
		return rc;
	const struct toml_node *node = toml_get(t, key);
	if (n > MAX_LIST) {
		free(items);
		return toml_fail_at(err, node->line, node->col, "%s: more than %d entries", key, MAX_LIST);
	}
	l->present = true;
	l->items = calloc(n ? n : 1, sizeof(*l->items));
	l->lens = calloc(n ? n : 1, sizeof(*l->lens));
	if (l->items == NULL || l->lens == NULL) {
		free(items);
		return veil_fail(err, ENOMEM, "%s", key);
	}
	for (size_t i = 0; i < n; i++) {
		size_t hl = strlen(items[i]);
		bool size_ok = false;
		for (const size_t *s = sizes; *s != 0; s++)
			size_ok |= hl == 2 * *s;
		for (size_t j = 0; size_ok && j < hl; j++)
			size_ok = veil_hex_value((unsigned char)items[i][j]) >= 0;
		if (!size_ok) {
			char sizes_text[32] = "";
			for (const size_t *z = sizes; *z != 0; z++)
				snprintf(sizes_text + strlen(sizes_text), sizeof(sizes_text) - strlen(sizes_text), "%s%zu",
					 z == sizes ? "" : z[1] == 0 ? " or " : ", ", *z);
			rc = toml_fail_at(err, node->items[i].line, node->items[i].col,
					  "%s[%zu]: \"%.32s\" is not a hex digest of %s bytes", key, i, items[i], sizes_text);
			free(items);
			return rc;
		}
		(void)veil_hex_decode(items[i], hl / 2, l->items[i]); /* its digits are checked above */
		l->lens[i] = hl / 2;
	}
	l->n = n;
	free(items);
	return 1;
}

static const size_t measurement_sizes[] = { 48, 0 };
static const size_t init_data_sizes[] = { 32, 48, 64, 0 };

static int check_keys(const struct toml_table *t, const char *const *known, const char *where, veil_err_t *err)
{
	const struct toml_member *m;
	for (size_t i = 0; (m = toml_member_at(t, i)) != NULL; i++) {
		size_t k = 0;
		while (known[k] != NULL && strcmp(known[k], m->key) != 0)
			k++;
		if (known[k] == NULL)
			return toml_fail_at(err, m->line, m->col, "%s: unknown key \"%.64s\"", where, m->key);
	}
	return 0;
}

int kbs_reference_parse(const char *text, size_t len, struct kbs_policy *policy, veil_err_t *err)
{
	static const char *const known[] = { "measurements", "init_data", "allow_debug", NULL };
	static const char *const known_tdx[] = { "measurements", "init_data", "allow_debug", "rtmr0", "rtmr1",
						 "rtmr2", "rtmr3", NULL };
	struct toml_table *root = toml_parse(text, len, err);
	if (root == NULL)
		return veil_fail_context(err, "reference values");
	int rc = 0;
	const struct toml_member *m;
	for (size_t i = 0; rc == 0 && (m = toml_member_at(root, i)) != NULL; i++) {
		enum veil_tee tee = veil_tee_by_name(m->key);
		const struct toml_table *t;
		if (tee == 0) {
			rc = toml_fail_at(err, m->line, m->col, "unknown TEE \"%.64s\" (snp, tdx, emulated)", m->key);
			break;
		}
		struct kbs_reference *ref = &policy->reference[tee];
		if (toml_get_table(root, m->key, &t, err) < 0 ||
		    check_keys(t, tee == VEIL_TEE_TDX ? known_tdx : known, m->key, err) < 0 ||
		    parse_list(t, "measurements", measurement_sizes, &ref->measurements, err) < 0 ||
		    parse_list(t, "init_data", init_data_sizes, &ref->init_data, err) < 0 ||
		    toml_get_bool(t, "allow_debug", &ref->allow_debug, err) < 0) {
			rc = -1;
			break;
		}
		static const char *const rtmr_keys[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
		for (unsigned r = 0; rc == 0 && tee == VEIL_TEE_TDX && r < 4; r++)
			if (parse_list(t, rtmr_keys[r], measurement_sizes, &ref->rtmr[r], err) < 0)
				rc = -1;
		if (rc < 0)
			break;
		ref->present = true;
	}
	toml_free(root);
	return rc < 0 ? veil_fail_context(err, "reference values") : 0;
}

/* vm = "fresh" | "scrubbed" | "any" (the default). */
static int parse_vm(const struct toml_table *t, const char *where, enum kbs_vm_demand *vm, veil_err_t *err)
{
	const char *s;
	int rc = toml_get_string(t, "vm", &s, err);
	*vm = KBS_VM_ANY;
	if (rc <= 0)
		return rc;
	if (strcmp(s, "fresh") == 0)
		*vm = KBS_VM_FRESH;
	else if (strcmp(s, "scrubbed") == 0)
		*vm = KBS_VM_SCRUBBED;
	else if (strcmp(s, "any") != 0)
		return veil_fail(err, 0, "%s: vm \"%.32s\" is not fresh, scrubbed or any", where, s);
	return 0;
}

int kbs_rules_parse(const char *text, size_t len, struct kbs_policy *policy, veil_err_t *err)
{
	static const char *const known[] = { "tee", "measurements", "init_data", "vm", NULL };
	struct toml_table *root = toml_parse(text, len, err);
	if (root == NULL)
		return veil_fail_context(err, "policy");
	const struct toml_table *resources = NULL;
	int rc = check_keys(root, (const char *const[]){ "resource", NULL }, "policy", err);
	if (rc == 0 && toml_get_table(root, "resource", &resources, err) < 0)
		rc = -1;
	const struct toml_member *m;
	size_t n = 0;
	while (resources != NULL && toml_member_at(resources, n) != NULL)
		n++;
	policy->rules = calloc(n ? n : 1, sizeof(*policy->rules));
	if (policy->rules == NULL)
		rc = veil_fail(err, ENOMEM, "policy");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		m = toml_member_at(resources, i);
		struct kbs_rule *rule = &policy->rules[policy->n_rules++];
		rule->resource = strdup(m->key);
		char where[160];
		snprintf(where, sizeof(where), "resource.\"%.64s\"", m->key);
		const struct toml_table *t;
		const char **tees = NULL;
		size_t n_tees = 0;
		/* A trailing "*" stands for any tag: check the name with a tag in its place. */
		char probe[256];
		snprintf(probe, sizeof(probe), "%s", m->key);
		size_t pl = strlen(probe);
		if (pl >= 2 && strcmp(probe + pl - 2, "/*") == 0)
			probe[pl - 1] = 'x';
		if (rule->resource == NULL || veil_kbs_resource_path_check(probe, err) < 0 ||
		    toml_get_table(resources, m->key, &t, err) < 0 || check_keys(t, known, where, err) < 0 ||
		    parse_list(t, "measurements", measurement_sizes, &rule->measurements, err) < 0 ||
		    parse_list(t, "init_data", init_data_sizes, &rule->init_data, err) < 0 ||
		    parse_vm(t, where, &rule->vm, err) < 0 || toml_get_string_array(t, "tee", &tees, &n_tees, err) < 0) {
			rc = -1;
			if (err != NULL && *err != NULL && strstr((*err)->msg, m->key) == NULL)
				veil_fail_context(err, "%s", where);
			break;
		}
		for (size_t k = 0; k < n_tees; k++) {
			enum veil_tee tee = veil_tee_by_name(tees[k]);
			if (tee == 0) {
				rc = veil_fail(err, 0, "%s: tee \"%.32s\" is not snp, tdx or emulated", where, tees[k]);
				break;
			}
			rule->tee[tee] = true;
		}
		if (rc == 0 && n_tees == 0)
			rc = veil_fail(err, 0, "%s: \"tee\" must list at least one of snp, tdx, emulated", where);
		free(tees);
	}
	toml_free(root);
	return rc < 0 ? veil_fail_context(err, "policy") : 0;
}

void kbs_policy_free(struct kbs_policy *policy)
{
	for (size_t i = 0; i <= VEIL_TEE_EMULATED; i++) {
		list_free(&policy->reference[i].measurements);
		list_free(&policy->reference[i].init_data);
		for (int r = 0; r < 4; r++)
			list_free(&policy->reference[i].rtmr[r]);
	}
	for (size_t i = 0; i < policy->n_rules; i++) {
		free(policy->rules[i].resource);
		list_free(&policy->rules[i].measurements);
		list_free(&policy->rules[i].init_data);
	}
	free(policy->rules);
	memset(policy, 0, sizeof(*policy));
}

/* Does value (of len bytes, a TEE field) match an entry? Entries longer than
 * the field are truncated, shorter ones zero-padded, as the TEE field is. */
static bool list_has(const struct kbs_digest_list *l, const uint8_t *value, size_t len)
{
	for (size_t i = 0; i < l->n; i++) {
		uint8_t want[64] = { 0 };
		memcpy(want, l->items[i], l->lens[i] < len ? l->lens[i] : len);
		if (memcmp(want, value, len) == 0)
			return true;
	}
	return false;
}

/* "a1b2...(2 more)" style summary of a list, for refusals. */
static void list_describe(const struct kbs_digest_list *l, size_t field_len, char *out, size_t size)
{
	if (l->n == 0) {
		snprintf(out, size, "none");
		return;
	}
	char hex[129];
	size_t n = l->lens[0] < field_len ? l->lens[0] : field_len;
	veil_hex_encode(l->items[0], n, hex);
	if (l->n == 1)
		snprintf(out, size, "%s", hex);
	else
		snprintf(out, size, "%s and %zu more", hex, l->n - 1);
}

static int check_list(const struct kbs_digest_list *l, const uint8_t *value, size_t len, const char *what,
		      const char *where, veil_err_t *err)
{
	if (list_has(l, value, len))
		return 0;
	char got[129], want[200];
	veil_hex_encode(value, len, got);
	list_describe(l, len, want, sizeof(want));
	return veil_fail_tagged(err, EPERM, "%s %s is not in %s (expected %s)", what, got, where, want);
}

int kbs_reference_check(const struct kbs_policy *policy, const struct kbs_claims *c, veil_err_t *err)
{
	const char *tee = veil_tee_name(c->tee);
	const struct kbs_reference *ref = &policy->reference[c->tee];
	if (!ref->present)
		return veil_fail_tagged(err, EPERM, "no reference values for %s: every %s attestation is refused", tee, tee);
	char where[64];
	snprintf(where, sizeof(where), "the reference values for %s", tee);
	if (c->debug && !ref->allow_debug)
		return veil_fail_tagged(err, EPERM, "debug: the guest's policy allows debugging (expected no debug; set allow_debug in [%s] to accept it)", tee);
	if (check_list(&ref->measurements, c->measurement, sizeof(c->measurement), "measurement", where, err) < 0)
		return -1;
	if (ref->init_data.present &&
	    check_list(&ref->init_data, c->init_data, c->init_data_len,
		       c->tee == VEIL_TEE_TDX ? "init-data digest (MRCONFIGID)" : "init-data digest (HOST_DATA)", where, err) < 0)
		return -1;
	static const char *const rtmr_names[4] = { "RTMR0", "RTMR1", "RTMR2", "RTMR3" };
	for (unsigned r = 0; r < 4; r++)
		if (ref->rtmr[r].present &&
		    check_list(&ref->rtmr[r], c->rtmr[r], sizeof(c->rtmr[r]), rtmr_names[r], where, err) < 0)
			return -1;
	return 0;
}

/* The rule for resource: an exact name wins over a "repo/type/" + "*" wildcard. */
static const struct kbs_rule *find_rule(const struct kbs_policy *policy, const char *resource)
{
	const struct kbs_rule *wild = NULL;
	const char *last = strrchr(resource, '/');
	size_t prefix = last != NULL ? (size_t)(last - resource) + 1 : 0;
	for (size_t i = 0; i < policy->n_rules; i++) {
		const char *name = policy->rules[i].resource;
		if (strcmp(name, resource) == 0)
			return &policy->rules[i];
		if (prefix > 0 && strlen(name) == prefix + 1 && name[prefix] == '*' && strncmp(name, resource, prefix) == 0)
			wild = &policy->rules[i];
	}
	return wild;
}

/* The rule's demand on the VM's tenancy history, which the evidence binds. */
static int check_vm(enum kbs_vm_demand vm, const struct kbs_claims *c, const char *where, veil_err_t *err)
{
	if (vm == KBS_VM_ANY)
		return 0;
	const char *demand = vm == KBS_VM_FRESH ? "a never-used VM (vm = \"fresh\")"
						  : "a VM scrubbed after every earlier tenant (vm = \"scrubbed\")";
	if (!c->has_tenancy)
		return veil_fail_tagged(err, EPERM, "%s demands %s, but the evidence carries no tenancy history", where,
					demand);
	const struct veil_tenancy *t = &c->tenancy;
	if (t->containers > 0)
		return veil_fail_tagged(err, EPERM, "%s demands %s, but %u container(s) ran in this VM before this one "
					"without a scrub in between", where, demand, t->containers);
	if (vm == KBS_VM_FRESH && t->tenants > 0)
		return veil_fail_tagged(err, EPERM, "%s demands %s, but this VM served %u tenant(s) before (%u of them "
					"followed by a complete scrub)", where, demand, t->tenants, t->scrubbed);
	if (t->scrubbed < t->tenants)
		return veil_fail_tagged(err, EPERM, "%s demands %s, but only %u of the %u tenant(s) it served before were "
					"followed by a complete scrub", where, demand, t->scrubbed, t->tenants);
	return 0;
}

int kbs_policy_check(const struct kbs_policy *policy, const struct kbs_claims *c, const char *resource, veil_err_t *err)
{
	const struct kbs_rule *rule = find_rule(policy, resource);
	if (rule == NULL)
		return veil_fail_tagged(err, EPERM, "no policy rule grants %s (default deny)", resource);
	char where[300];
	snprintf(where, sizeof(where), "policy rule \"%s\"", rule->resource);
	if (!rule->tee[c->tee]) {
		char tees[64] = "";
		for (int t = VEIL_TEE_SNP; t <= VEIL_TEE_EMULATED; t++)
			if (rule->tee[t])
				snprintf(tees + strlen(tees), sizeof(tees) - strlen(tees), "%s%s", tees[0] ? ", " : "",
					 veil_tee_name((enum veil_tee)t));
		return veil_fail_tagged(err, EPERM, "%s: tee %s is not among those it grants (%s)", where, veil_tee_name(c->tee), tees);
	}
	if (rule->measurements.present &&
	    check_list(&rule->measurements, c->measurement, sizeof(c->measurement), "measurement", where, err) < 0)
		return -1;
	if (rule->init_data.present &&
	    check_list(&rule->init_data, c->init_data, c->init_data_len, "init-data digest", where, err) < 0)
		return -1;
	return check_vm(rule->vm, c, where, err);
}
