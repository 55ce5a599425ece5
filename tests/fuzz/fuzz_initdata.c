/* libFuzzer target for init-data: the input as TOML init-data and as Kata's
 * annotation (base64 of gzip). Either parses with a digest of the right
 * length, or fails with a message. Parsed init-data is read as the guest
 * reads it (the KBS, the policy, the secrets), and the input is tried as a
 * policy.rego and a KBS URL too. */
#include <stdlib.h>
#include <string.h>

#include "attest/initdata.h"
#include "attest/initdata_config.h"

/* Each reader either succeeds with sane output or fails with a message. */
static void read_settings(const struct veil_initdata *d)
{
	veil_err_t err = NULL;
	struct veil_kbs_address kbs;
	int rc = veil_initdata_kbs(d, &kbs, &err);
	if (rc == 1 && (kbs.host[0] == '\0' || kbs.port == 0 || strlen(kbs.authority) < strlen(kbs.host)))
		abort();
	if (rc < 0 && (err == NULL || err->msg[0] == '\0'))
		abort();
	if (rc == 1)
		veil_kbs_address_free(&kbs);
	veil_error_free(&err);
	struct veil_agent_policy policy;
	if (veil_initdata_policy(d, &policy, &err) < 0 && err == NULL)
		abort();
	veil_error_free(&err);
	struct veil_secret_ref refs[VEIL_MAX_SECRETS];
	size_t n = 0;
	if (veil_initdata_secrets(d, refs, VEIL_MAX_SECRETS, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			if (refs[i].name[0] == '\0' || strchr(refs[i].name, '/') != NULL || refs[i].path[0] == '\0')
				abort();
	} else if (err == NULL) {
		abort();
	}
	veil_error_free(&err);
	struct veil_mount_policy mounts;
	if (veil_initdata_mounts(d, &mounts, &err) == 0) {
		/* Every path is absolute and normalised: one spelling of its file. */
		for (size_t i = 0; i < mounts.n; i++) {
			const char *m = mounts.destinations[i];
			size_t len = strlen(m);
			if (m[0] != '/' || len < 2 || m[len - 1] == '/' || strstr(m, "//") != NULL ||
			    strstr(m, "/./") != NULL || strstr(m, "/../") != NULL || strcmp(m + len - 2, "/.") == 0 ||
			    strcmp(m + len - 3, "/..") == 0 || !veil_mount_policy_allows(&mounts, m))
				abort();
		}
	} else if (err == NULL) {
		abort();
	}
	veil_error_free(&err);
}

static void as_text(const unsigned char *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	veil_err_t err = NULL;
	struct veil_agent_policy policy;
	if (veil_agent_policy_parse(text, &policy, &err) < 0 && err == NULL)
		abort();
	veil_error_free(&err);
	struct veil_kbs_address kbs;
	if (veil_kbs_url_parse(text, &kbs, &err) == 0 && (kbs.host[0] == '\0' || kbs.port == 0))
		abort();
	veil_error_free(&err);
	free(text);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	veil_err_t err = NULL;
	struct veil_initdata d;
	if (veil_initdata_parse((const char *)data, size, &d, &err) == 0) {
		if (d.digest_len != 32 && d.digest_len != 48 && d.digest_len != 64)
			abort();
		uint8_t field[48];
		veil_initdata_tee_field(&d, field, sizeof(field));
		veil_initdata_get(&d, "aa.toml");
		read_settings(&d);
		veil_initdata_free(&d);
	} else if (err == NULL || err->msg[0] == '\0') {
		abort();
	}
	veil_error_free(&err);
	char *toml = NULL;
	size_t len = 0;
	if (veil_initdata_from_annotation((const char *)data, size, &toml, &len, &err) == 0) {
		if (len > VEIL_INITDATA_MAX || toml[len] != '\0')
			abort();
		free(toml);
	} else if (err == NULL) {
		abort();
	}
	veil_error_free(&err);
	as_text(data, size);
	return 0;
}
