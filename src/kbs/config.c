#include "kbs/kbs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/emulated.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/toml.h"

#define MAX_CERT (16u << 10)

static int get_uint(const struct toml_table *t, const char *key, unsigned min, unsigned max, unsigned *out,
		    veil_err_t *err)
{
	int64_t v;
	int rc = toml_get_int(t, key, &v, err);
	if (rc <= 0)
		return rc;
	if (v < min || v > max) {
		const struct toml_node *n = toml_get(t, key);
		return toml_fail_at(err, n->line, n->col, "%s: %lld is out of range %u..%u", key, (long long)v, min, max);
	}
	*out = (unsigned)v;
	return 1;
}

static int dup_string(const struct toml_table *t, const char *key, char **out, veil_err_t *err)
{
	const char *s;
	int rc = toml_get_string(t, key, &s, err);
	if (rc == 1) {
		free(*out);
		*out = strdup(s);
		if (*out == NULL)
			return veil_fail(err, ENOMEM, "%s", key);
	}
	return rc;
}

/* "HOST:PORT" or "[V6]:PORT", numeric only. */
static int parse_listen(const char *s, struct kbs_config *cfg, veil_err_t *err)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL)
		return veil_fail(err, 0, "listen: \"%s\" is not HOST:PORT", s);
	char host[64];
	size_t hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return veil_fail(err, 0, "listen: bad host in \"%s\"", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	unsigned char addr[16];
	if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
		return veil_fail(err, 0, "listen: \"%s\" is not a numeric IP address", host);
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || errno != 0 || port == 0 || port > 65535)
		return veil_fail(err, 0, "listen: port \"%s\" is not 1..65535", colon + 1);
	free(cfg->listen_host);
	cfg->listen_host = strdup(host);
	cfg->port = (uint16_t)port;
	return cfg->listen_host != NULL ? 0 : veil_fail(err, ENOMEM, "listen");
}

static int read_cert(const struct toml_table *t, const char *table, const char *key, uint8_t **out, size_t *len,
		     veil_err_t *err)
{
	const char *path;
	int rc = toml_get_string(t, key, &path, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return veil_fail(err, 0, "[%s]: missing %s (a DER certificate file)", table, key);
	*out = (uint8_t *)veil_read_file(path, MAX_CERT, len, err);
	return *out != NULL ? 0 : veil_fail_context(err, "[%s] %s", table, key);
}

static int load_anchor(const struct toml_table *t, const char *table, const char *product, struct kbs_anchor_file *a,
		       veil_err_t *err)
{
	const struct toml_member *m;
	for (size_t i = 0; (m = toml_member_at(t, i)) != NULL; i++)
		if (strcmp(m->key, "ark") != 0 && strcmp(m->key, "ask") != 0)
			return toml_fail_at(err, m->line, m->col, "[%s]: unknown key \"%.64s\" (ark, ask)", table, m->key);
	a->product = strdup(product);
	if (a->product == NULL)
		return veil_fail(err, ENOMEM, "[%s]", table);
	return read_cert(t, table, "ark", &a->ark, &a->ark_len, err) < 0 ||
			       read_cert(t, table, "ask", &a->ask, &a->ask_len, err) < 0
		       ? -1
		       : 0;
}

static int load_tables(const struct toml_table *root, struct kbs_config *cfg, veil_err_t *err)
{
	const struct toml_table *t;
	int rc = toml_get_table(root, "emulated", &t, err);
	if (rc < 0 || (rc == 1 && load_anchor(t, "emulated", VEIL_EMULATED_PRODUCT, &cfg->emulated, err) < 0))
		return -1;
	rc = toml_get_table(root, "tdx", &t, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		const struct toml_member *m;
		for (size_t i = 0; (m = toml_member_at(t, i)) != NULL; i++)
			if (strcmp(m->key, "root") != 0)
				return toml_fail_at(err, m->line, m->col, "[tdx]: unknown key \"%.64s\" (root)", m->key);
		if (read_cert(t, "tdx", "root", &cfg->tdx_root, &cfg->tdx_root_len, err) < 0)
			return -1;
	}
	rc = toml_get_table(root, "snp", &t, err);
	if (rc < 0)
		return -1;
	const struct toml_member *m;
	for (size_t i = 0; rc == 1 && (m = toml_member_at(t, i)) != NULL; i++) {
		const struct toml_table *product;
		if (toml_get_table(t, m->key, &product, err) < 0)
			return -1;
		if (cfg->n_snp == KBS_MAX_ANCHORS)
			return toml_fail_at(err, m->line, m->col, "[snp]: more than %d products", KBS_MAX_ANCHORS);
		if (strcmp(m->key, VEIL_EMULATED_PRODUCT) == 0)
			return toml_fail_at(err, m->line, m->col, "[snp.emulated]: the emulated root goes in [emulated]");
		char name[80];
		snprintf(name, sizeof(name), "snp.%.64s", m->key);
		if (load_anchor(product, name, m->key, &cfg->snp[cfg->n_snp++], err) < 0)
			return -1;
	}
	return 0;
}

int kbs_config_load(const char *path, struct kbs_config *cfg, veil_err_t *err)
{
	static const char *const known[] = { "listen", "data_dir", "admin_socket", "session_timeout", "max_sessions",
					     "max_connections", "connection_timeout", "emulated", "snp", "tdx", NULL };
	memset(cfg, 0, sizeof(*cfg));
	cfg->session_timeout = 300;
	cfg->max_sessions = 4096;
	cfg->max_connections = 256;
	cfg->connection_timeout = 10;
	size_t len;
	cleanup_free char *text = veil_read_file(path, TOML_MAX_INPUT, &len, err);
	if (text == NULL)
		return -1;
	struct toml_table *root = toml_parse(text, len, err);
	if (root == NULL)
		return veil_fail_context(err, "%s", path);
	int rc = 0;
	const struct toml_member *m;
	for (size_t i = 0; rc == 0 && (m = toml_member_at(root, i)) != NULL; i++) {
		size_t k = 0;
		while (known[k] != NULL && strcmp(known[k], m->key) != 0)
			k++;
		if (known[k] == NULL)
			rc = toml_fail_at(err, m->line, m->col, "unknown key \"%.64s\"", m->key);
	}
	const char *listen = NULL;
	if (rc == 0 && toml_get_string(root, "listen", &listen, err) < 0)
		rc = -1;
	if (rc == 0 && parse_listen(listen != NULL ? listen : "127.0.0.1:8080", cfg, err) < 0)
		rc = -1;
	if (rc == 0 && (dup_string(root, "data_dir", &cfg->data_dir, err) < 0 ||
			dup_string(root, "admin_socket", &cfg->admin_socket, err) < 0 ||
			get_uint(root, "session_timeout", 1, 86400, &cfg->session_timeout, err) < 0 ||
			get_uint(root, "max_sessions", 1, 1u << 20, &cfg->max_sessions, err) < 0 ||
			get_uint(root, "max_connections", 1, 65536, &cfg->max_connections, err) < 0 ||
			get_uint(root, "connection_timeout", 1, 3600, &cfg->connection_timeout, err) < 0 ||
			load_tables(root, cfg, err) < 0))
		rc = -1;
	if (rc == 0 && (cfg->data_dir == NULL || cfg->admin_socket == NULL))
		rc = veil_fail(err, 0, "%s: data_dir and admin_socket are required", path);
	toml_free(root);
	if (rc < 0) {
		if (err != NULL && *err != NULL && strncmp((*err)->msg, path, strlen(path)) != 0)
			veil_fail_context(err, "%s", path);
		kbs_config_free(cfg);
	}
	return rc;
}

static void anchor_free(struct kbs_anchor_file *a)
{
	free(a->product);
	free(a->ark);
	free(a->ask);
}

void kbs_config_free(struct kbs_config *cfg)
{
	free(cfg->listen_host);
	free(cfg->data_dir);
	free(cfg->admin_socket);
	for (size_t i = 0; i < cfg->n_snp; i++)
		anchor_free(&cfg->snp[i]);
	anchor_free(&cfg->emulated);
	free(cfg->tdx_root);
	memset(cfg, 0, sizeof(*cfg));
}
