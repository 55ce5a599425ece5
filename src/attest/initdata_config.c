#include "attest/initdata_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/kbs_proto.h"
#include "lib/cleanup.h"
#include "lib/toml.h"

#define MAX_CERT_PEM (64u << 10)

/* ---- the key broker ---- */

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool v6_char(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

int veil_kbs_url_parse(const char *url, struct veil_kbs_address *kbs, veil_err_t *err)
{
	memset(kbs, 0, sizeof(*kbs));
	const char *p;
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		kbs->https = true;
	} else {
		return veil_fail(err, 0, "KBS URL \"%.200s\": expected http:// or https://", url);
	}
	const char *host = p, *host_end;
	bool v6 = *p == '[';
	if (v6) {
		host = ++p;
		while (v6_char(*p))
			p++;
		if (*p != ']')
			return veil_fail(err, 0, "KBS URL \"%.200s\": an IPv6 address ends with ']'", url);
		host_end = p++;
	} else {
		while (host_char(*p))
			p++;
		host_end = p;
	}
	size_t hl = (size_t)(host_end - host);
	if (hl == 0 || hl > VEIL_KBS_HOST_MAX)
		return veil_fail(err, 0, "KBS URL \"%.200s\": the host must be 1 to %d characters", url, VEIL_KBS_HOST_MAX);
	memcpy(kbs->host, host, hl);
	kbs->host[hl] = '\0';
	kbs->port = kbs->https ? 443 : 80;
	if (*p == ':') {
		unsigned long port = 0;
		size_t digits = 0;
		for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
			port = port * 10 + (unsigned long)(*p - '0');
		if (digits == 0 || port == 0 || port > 65535)
			return veil_fail(err, 0, "KBS URL \"%.200s\": the port must be 1 to 65535", url);
		kbs->port = (uint16_t)port;
	}
	/* A trailing '/' is as good as none; a path, query or user is not
	 * what a KBS address is. */
	if (*p == '/')
		p++;
	if (*p != '\0')
		return veil_fail(err, 0, "KBS URL \"%.200s\": unexpected \"%.32s\" after the host and port", url, p);
	snprintf(kbs->authority, sizeof(kbs->authority), "%s%s%s", v6 ? "[" : "", kbs->host, v6 ? "]" : "");
	if (kbs->port != (kbs->https ? 443 : 80))
		snprintf(kbs->authority + strlen(kbs->authority), sizeof(kbs->authority) - strlen(kbs->authority), ":%u",
			 kbs->port);
	return 0;
}

void veil_kbs_address_free(struct veil_kbs_address *kbs)
{
	free(kbs->cert_pem);
	memset(kbs, 0, sizeof(*kbs));
}

/* The TOML document in [data] entry `file`, or NULL (absent, or *err). */
static struct toml_table *data_doc(const struct veil_initdata *d, const char *file, veil_err_t *err)
{
	const char *text = veil_initdata_get(d, file);
	if (text == NULL)
		return NULL;
	struct toml_table *doc = toml_parse(text, strlen(text), err);
	if (doc == NULL)
		veil_fail_context(err, "init-data %s", file);
	return doc;
}

/* The table at the dotted path (NULL-terminated keys) in doc: 1, 0 when absent. */
static int table_at(const struct toml_table *doc, const char *const *keys, const struct toml_table **out,
		    veil_err_t *err)
{
	const struct toml_table *t = doc;
	for (; *keys != NULL; keys++) {
		int rc = toml_get_table(t, *keys, &t, err);
		if (rc <= 0)
			return rc;
	}
	*out = t;
	return 1;
}

/* url and the certificate key of the table at path in file: 1 found, 0 not. */
static int kbs_from(const struct veil_initdata *d, const char *file, const char *const *path, const char *cert_key,
		    struct veil_kbs_address *kbs, veil_err_t *err)
{
	struct toml_table *doc = data_doc(d, file, err);
	if (doc == NULL)
		return err != NULL && *err != NULL ? -1 : 0;
	const struct toml_table *t;
	const char *url = NULL, *cert = NULL;
	int rc = table_at(doc, path, &t, err);
	if (rc == 1)
		rc = toml_get_string(t, "url", &url, err);
	if (rc == 1 && toml_get_string(t, cert_key, &cert, err) < 0)
		rc = -1;
	if (rc == 1 && veil_kbs_url_parse(url, kbs, err) < 0)
		rc = -1;
	if (rc == 1 && cert != NULL) {
		if (strlen(cert) > MAX_CERT_PEM || strstr(cert, "-----BEGIN CERTIFICATE-----") == NULL)
			rc = veil_fail(err, 0, "%s: not a PEM certificate of at most %u bytes", cert_key, MAX_CERT_PEM);
		else if ((kbs->cert_pem = strdup(cert)) == NULL)
			rc = veil_fail(err, ENOMEM, "%s", cert_key);
	}
	toml_free(doc);
	if (rc < 0) {
		veil_kbs_address_free(kbs);
		return veil_fail_context(err, "init-data %s", file);
	}
	return rc;
}

int veil_initdata_kbs(const struct veil_initdata *d, struct veil_kbs_address *kbs, veil_err_t *err)
{
	memset(kbs, 0, sizeof(*kbs));
	int rc = kbs_from(d, "cdh.toml", (const char *const[]){ "kbc", NULL }, "kbs_cert", kbs, err);
	if (rc != 0)
		return rc;
	return kbs_from(d, "aa.toml", (const char *const[]){ "token_configs", "kbs", NULL }, "cert", kbs, err);
}

/* ---- the agent policy ---- */

#define MAX_POLICY_LINE 4096

/* The requests whose false default veil enforces. */
static bool *enforced(struct veil_agent_policy *p, const char *name)
{
	if (strcmp(name, "ExecProcessRequest") == 0)
		return &p->exec;
	return NULL;
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* One line, without its newline: 0 understood, -1 with *err. */
static int policy_line(const char *line, unsigned lineno, struct veil_agent_policy *p, veil_err_t *err)
{
	const char *s = skip_space(line);
	if (*s == '\0' || *s == '#')
		return 0;
	if (strncmp(s, "package ", 8) == 0) {
		if (strcmp(skip_space(s + 8), "agent_policy") != 0)
			return veil_fail(err, 0, "policy.rego:%u: the package is agent_policy, as Kata's", lineno);
		return 0;
	}
	if (strncmp(s, "import ", 7) == 0)
		return 0;
	if (strncmp(s, "default ", 8) != 0)
		return veil_fail(err, 0, "policy.rego:%u: unsupported Rego \"%.60s\": veil reads only `default NAME := "
					 "true|false` lines (rules are for a later version)", lineno, s);
	s = skip_space(s + 8);
	char name[64];
	size_t n = 0;
	while (ident_char(s[n]) && n < sizeof(name) - 1) {
		name[n] = s[n];
		n++;
	}
	name[n] = '\0';
	s = skip_space(s + n);
	if (n == 0 || ident_char(*s))
		return veil_fail(err, 0, "policy.rego:%u: expected a request name after default", lineno);
	if (strncmp(s, ":=", 2) == 0)
		s += 2;
	else if (*s == '=')
		s += 1;
	else
		return veil_fail(err, 0, "policy.rego:%u: expected := after default %s", lineno, name);
	s = skip_space(s);
	bool value;
	if (strncmp(s, "true", 4) == 0)
		value = true, s += 4;
	else if (strncmp(s, "false", 5) == 0)
		value = false, s += 5;
	else
		return veil_fail(err, 0, "policy.rego:%u: default %s must be true or false", lineno, name);
	s = skip_space(s);
	if (*s != '\0' && *s != '#')
		return veil_fail(err, 0, "policy.rego:%u: unexpected \"%.32s\" after default %s", lineno, s, name);
	bool *slot = enforced(p, name);
	if (slot != NULL)
		*slot = value;
	else if (!value)
		return veil_fail(err, 0, "policy.rego:%u: veil does not enforce %s yet; a false default for it would not "
					 "be kept (only ExecProcessRequest is enforced)", lineno, name);
	return 0;
}

int veil_agent_policy_parse(const char *rego, struct veil_agent_policy *p, veil_err_t *err)
{
	*p = (struct veil_agent_policy){ .exec = false };
	char line[MAX_POLICY_LINE + 1];
	unsigned lineno = 1;
	for (const char *s = rego; *s != '\0'; lineno++) {
		size_t n = strcspn(s, "\n");
		if (n > MAX_POLICY_LINE)
			return veil_fail(err, 0, "policy.rego:%u: a line of more than %u bytes", lineno, MAX_POLICY_LINE);
		memcpy(line, s, n);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (policy_line(line, lineno, p, err) < 0)
			return -1;
		s += n;
		if (*s == '\n')
			s++;
	}
	return 0;
}

int veil_initdata_policy(const struct veil_initdata *d, struct veil_agent_policy *p, veil_err_t *err)
{
	const char *rego = veil_initdata_get(d, "policy.rego");
	if (rego == NULL) {
		*p = (struct veil_agent_policy){ .exec = false };
		return 0;
	}
	return veil_agent_policy_parse(rego, p, err) < 0 ? veil_fail_context(err, "init-data") : 0;
}

/* ---- secrets ---- */

#define SECRET_SCHEME "kbs:///"

int veil_secret_ref_parse(const char *name, const char *uri, struct veil_secret_ref *ref, veil_err_t *err)
{
	memset(ref, 0, sizeof(*ref));
	size_t n = strlen(name);
	if (n == 0 || n > VEIL_SECRET_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return veil_fail(err, 0, "secret \"%.80s\": a name is 1 to %d characters, not \".\" or \"..\"", name,
				 VEIL_SECRET_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!ident_char(name[i]) && name[i] != '.' && name[i] != '-')
			return veil_fail(err, 0, "secret \"%.80s\": character 0x%02x is not allowed in a name (A-Z a-z 0-9 . _ -)",
					 name, (unsigned char)name[i]);
	if (strncmp(uri, SECRET_SCHEME, strlen(SECRET_SCHEME)) != 0)
		return veil_fail(err, 0, "secret %s: \"%.200s\" is not kbs:///REPO/TYPE/TAG (the KBS is the one init-data "
					 "names)", name, uri);
	const char *path = uri + strlen(SECRET_SCHEME);
	if (veil_kbs_resource_path_check(path, err) < 0)
		return veil_fail_context(err, "secret %s", name);
	memcpy(ref->name, name, n + 1);
	snprintf(ref->path, sizeof(ref->path), "%s", path);
	return 0;
}

int veil_secret_refs_add(struct veil_secret_ref *refs, size_t max, size_t *n, const struct veil_secret_ref *ref,
			 veil_err_t *err)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(refs[i].name, ref->name) != 0)
			continue;
		if (strcmp(refs[i].path, ref->path) == 0)
			return 0;
		return veil_fail(err, 0, "secret %s is named twice, as kbs:///%s and kbs:///%s", ref->name, refs[i].path,
				 ref->path);
	}
	if (*n >= max)
		return veil_fail(err, 0, "more than %zu secrets", max);
	refs[(*n)++] = *ref;
	return 0;
}

/* init-data's veil.toml, its keys checked: 1 with *doc, 0 without veil.toml. */
static int veil_doc(const struct veil_initdata *d, struct toml_table **doc, veil_err_t *err)
{
	*doc = data_doc(d, "veil.toml", err);
	if (*doc == NULL)
		return err != NULL && *err != NULL ? -1 : 0;
	const struct toml_member *m;
	for (size_t i = 0; (m = toml_member_at(*doc, i)) != NULL; i++) {
		if ((strcmp(m->key, "secrets") == 0 || strcmp(m->key, "mounts") == 0) && strlen(m->key) == m->key_len)
			continue;
		toml_fail_at(err, m->line, m->col, "unknown key \"%.64s\" (expected [secrets] or [mounts])", m->key);
		toml_free(*doc);
		*doc = NULL;
		return veil_fail_context(err, "init-data veil.toml");
	}
	return 1;
}

int veil_initdata_secrets(const struct veil_initdata *d, struct veil_secret_ref *refs, size_t max, size_t *n,
			  veil_err_t *err)
{
	*n = 0;
	struct toml_table *doc;
	int rc = veil_doc(d, &doc, err);
	if (rc <= 0)
		return rc;
	rc = 0;
	const struct toml_table *secrets = NULL;
	const struct toml_member *m;
	if (toml_get_table(doc, "secrets", &secrets, err) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && secrets != NULL && (m = toml_member_at(secrets, i)) != NULL; i++) {
		const char *uri;
		struct veil_secret_ref ref;
		if (strlen(m->key) != m->key_len)
			rc = toml_fail_at(err, m->line, m->col, "a secret's name holds U+0000");
		else if (toml_get_string(secrets, m->key, &uri, err) < 0 || veil_secret_ref_parse(m->key, uri, &ref, err) < 0 ||
			 veil_secret_refs_add(refs, max, n, &ref, err) < 0)
			rc = -1;
	}
	toml_free(doc);
	return rc < 0 ? veil_fail_context(err, "init-data veil.toml") : 0;
}

/* ---- host files ---- */

static const char *const default_mounts[] = { "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv" };

/* An absolute path with neither an empty, "." nor ".." component, nor a
 * trailing '/', nor a control character: the one spelling of its file. */
static int mount_path_check(const char *path, veil_err_t *err)
{
	size_t len = strlen(path);
	if (len < 2 || len > VEIL_MOUNT_PATH_MAX || path[0] != '/')
		return veil_fail(err, 0, "\"%.80s\" is not an absolute path of a file (2 to %d bytes)", path,
				 VEIL_MOUNT_PATH_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			return veil_fail(err, 0, "\"%.80s\": control character 0x%02x", path, (unsigned char)path[i]);
	for (const char *c = path + 1;;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return veil_fail(err, 0, "\"%.80s\" is not normalised (an empty, \".\" or \"..\" component, or a "
						 "trailing '/')", path);
		if (c[n] == '\0')
			return 0;
		c += n + 1;
	}
}

static int mount_policy_add(struct veil_mount_policy *p, const char *path, veil_err_t *err)
{
	if (mount_path_check(path, err) < 0)
		return -1;
	if (veil_mount_policy_allows(p, path))
		return veil_fail(err, 0, "%s is named twice", path);
	if (p->n >= VEIL_MOUNT_ALLOW_MAX)
		return veil_fail(err, 0, "more than %d paths", VEIL_MOUNT_ALLOW_MAX);
	snprintf(p->destinations[p->n++], sizeof(p->destinations[0]), "%s", path);
	return 0;
}

/* [mounts] of veil.toml: 1 read into *p, 0 when there is none. */
static int mounts_table(const struct toml_table *doc, struct veil_mount_policy *p, veil_err_t *err)
{
	const struct toml_table *mounts;
	int rc = toml_get_table(doc, "mounts", &mounts, err);
	if (rc <= 0)
		return rc;
	const struct toml_member *m;
	for (size_t i = 0; (m = toml_member_at(mounts, i)) != NULL; i++)
		if (strcmp(m->key, "allow") != 0 || strlen(m->key) != m->key_len)
			return toml_fail_at(err, m->line, m->col, "unknown key \"%.64s\" in [mounts] (expected allow)", m->key);
	const char **allow = NULL;
	size_t n = 0;
	rc = toml_get_string_array(mounts, "allow", &allow, &n, err);
	if (rc == 0)
		return veil_fail(err, 0, "[mounts] without allow: write allow = [] to allow no host file");
	for (size_t i = 0; rc == 1 && i < n; i++)
		if (mount_policy_add(p, allow[i], err) < 0) {
			veil_fail_context(err, "[mounts] allow");
			rc = -1;
		}
	free(allow);
	return rc;
}

int veil_initdata_mounts(const struct veil_initdata *d, struct veil_mount_policy *p, veil_err_t *err)
{
	memset(p, 0, sizeof(*p));
	struct toml_table *doc;
	int rc = veil_doc(d, &doc, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		rc = mounts_table(doc, p, err);
		toml_free(doc);
		if (rc < 0)
			return veil_fail_context(err, "init-data veil.toml");
		if (rc == 1)
			return 0;
	}
	for (size_t i = 0; i < sizeof(default_mounts) / sizeof(default_mounts[0]); i++)
		snprintf(p->destinations[p->n++], sizeof(p->destinations[0]), "%s", default_mounts[i]);
	return 0;
}

bool veil_mount_policy_allows(const struct veil_mount_policy *p, const char *destination)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->destinations[i], destination) == 0)
			return true;
	return false;
}
