#include "attest/initdata.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/toml.h"

static const EVP_MD *digest_by_name(const char *name)
{
	if (strcmp(name, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(name, "sha384") == 0)
		return EVP_sha384();
	if (strcmp(name, "sha512") == 0)
		return EVP_sha512();
	return NULL;
}

int veil_initdata_parse(const char *toml, size_t len, struct veil_initdata *out, veil_err_t *err)
{
	memset(out, 0, sizeof(*out));
	if (len > VEIL_INITDATA_MAX)
		return veil_fail(err, 0, "init-data: %zu bytes, at most %u", len, VEIL_INITDATA_MAX);
	out->text = malloc(len + 1);
	if (out->text == NULL)
		return veil_fail(err, ENOMEM, "init-data");
	memcpy(out->text, toml, len);
	out->text[len] = '\0';
	out->len = len;
	out->doc = toml_parse(out->text, len, err);
	if (out->doc == NULL)
		goto fail_context;
	const struct toml_member *m;
	for (size_t i = 0; (m = toml_member_at(out->doc, i)) != NULL; i++) {
		if (strcmp(m->key, "version") != 0 && strcmp(m->key, "algorithm") != 0 && strcmp(m->key, "data") != 0) {
			toml_fail_at(err, m->line, m->col, "unknown key \"%.64s\" (expected version, algorithm, [data])", m->key);
			goto fail_context;
		}
	}
	const char *version = NULL;
	int rc = toml_get_string(out->doc, "version", &version, err);
	if (rc < 0)
		goto fail_context;
	if (rc == 0 || strcmp(version, VEIL_INITDATA_VERSION) != 0) {
		veil_fail(err, 0, "init-data: version \"%.32s\", expected \"%s\"", rc ? version : "", VEIL_INITDATA_VERSION);
		goto fail;
	}
	rc = toml_get_string(out->doc, "algorithm", &out->algorithm, err);
	if (rc < 0)
		goto fail_context;
	const EVP_MD *md = rc == 1 ? digest_by_name(out->algorithm) : NULL;
	if (md == NULL) {
		veil_fail(err, 0, "init-data: algorithm \"%.32s\" is not supported (sha256, sha384, sha512)",
			  rc ? out->algorithm : "");
		goto fail;
	}
	rc = toml_get_table(out->doc, "data", &out->data, err);
	if (rc < 0)
		goto fail_context;
	for (size_t i = 0; out->data != NULL && (m = toml_member_at(out->data, i)) != NULL; i++) {
		const char *s;
		if (strlen(m->key) != m->key_len) {
			toml_fail_at(err, m->line, m->col, "a [data] entry's name holds U+0000");
			goto fail_context;
		}
		if (toml_get_string(out->data, m->key, &s, err) < 0)
			goto fail_context;
	}
	unsigned int dlen = 0;
	if (EVP_Digest(out->text, len, out->digest, &dlen, md, NULL) != 1) {
		veil_fail(err, 0, "init-data: hashing failed");
		goto fail;
	}
	out->digest_len = dlen;
	return 0;
fail_context:
	if (err != NULL && *err != NULL)
		veil_fail_context(err, "init-data");
fail:
	veil_initdata_free(out);
	return -1;
}

void veil_initdata_free(struct veil_initdata *d)
{
	toml_free(d->doc);
	free(d->text);
	memset(d, 0, sizeof(*d));
}

const char *veil_initdata_get(const struct veil_initdata *d, const char *name)
{
	const struct toml_node *v = d->data != NULL ? toml_get(d->data, name) : NULL;
	return v != NULL && v->type == TOML_STRING ? v->str : NULL;
}

void veil_initdata_tee_field(const struct veil_initdata *d, uint8_t *field, size_t field_len)
{
	memset(field, 0, field_len);
	memcpy(field, d->digest, d->digest_len < field_len ? d->digest_len : field_len);
}

int veil_initdata_from_annotation(const char *value, size_t len, char **toml, size_t *toml_len, veil_err_t *err)
{
	const char *what = VEIL_INITDATA_ANNOTATION;
	if (len > VEIL_INITDATA_MAX * 2)
		return veil_fail(err, 0, "%s: %zu bytes is too long", what, len);
	cleanup_free char *compact = malloc(len + 1);
	if (compact == NULL)
		return veil_fail(err, ENOMEM, "%s", what);
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (value[i] != ' ' && value[i] != '\t' && value[i] != '\n' && value[i] != '\r')
			compact[n++] = value[i];
	cleanup_free uint8_t *gz = NULL;
	size_t gz_len;
	if (veil_b64_decode(VEIL_B64_STD, compact, n, what, &gz, &gz_len, err) < 0)
		return -1;
	char *out = malloc(VEIL_INITDATA_MAX + 1);
	if (out == NULL)
		return veil_fail(err, ENOMEM, "%s", what);
	z_stream z = { .next_in = gz, .avail_in = (uInt)gz_len, .next_out = (Bytef *)out, .avail_out = VEIL_INITDATA_MAX };
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) { /* gzip only */
		free(out);
		return veil_fail(err, ENOMEM, "%s: zlib", what);
	}
	int zrc = inflate(&z, Z_FINISH);
	size_t produced = VEIL_INITDATA_MAX - z.avail_out;
	size_t left = z.avail_in;
	inflateEnd(&z);
	const char *why = NULL;
	if (zrc == Z_BUF_ERROR && z.avail_out == 0)
		why = "inflates to more than the init-data limit";
	else if (zrc != Z_STREAM_END)
		why = "is not valid gzip";
	else if (left != 0)
		why = "has data after the gzip stream";
	if (why != NULL) {
		free(out);
		if (zrc == Z_BUF_ERROR && z.avail_out == 0)
			return veil_fail(err, 0, "%s: %s (%u bytes)", what, why, VEIL_INITDATA_MAX);
		return veil_fail(err, 0, "%s: %s", what, why);
	}
	out[produced] = '\0';
	*toml = out;
	*toml_len = produced;
	return 0;
}

char *veil_initdata_to_annotation(const char *toml, size_t len, veil_err_t *err)
{
	z_stream z = { 0 };
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		veil_fail(err, ENOMEM, "init-data: zlib");
		return NULL;
	}
	uLong cap = deflateBound(&z, (uLong)len) + 32;
	cleanup_free uint8_t *gz = malloc(cap);
	z.next_in = (Bytef *)toml;
	z.avail_in = (uInt)len;
	z.next_out = gz;
	z.avail_out = (uInt)cap;
	int rc = gz != NULL ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
	size_t gz_len = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		veil_fail(err, 0, "init-data: gzip failed");
		return NULL;
	}
	char *b64 = veil_b64_encode(VEIL_B64_STD, gz, gz_len);
	if (b64 == NULL)
		veil_fail(err, ENOMEM, "init-data");
	return b64;
}
