#include "runtime/confidential.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attest/emulated.h"
#include "hv/host.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"

int veil_reference_values(const struct veil_config *cfg, uint32_t vcpus, const char *init_data_file,
			  struct veil_reference_values *out, veil_err_t *err)
{
	memset(out, 0, sizeof(*out));
	if (!cfg->qemu.confidential_guest)
		return veil_fail(err, 0, "the configuration asks for no confidential guest ([hypervisor.qemu] "
					 "confidential_guest = true, tee = ...)");
	__attribute__((cleanup(veil_tee_config_free))) struct veil_tee_config tee = { 0 };
	struct veil_vm_config vmc;
	const struct veil_hypervisor *hv = veil_hypervisor_configured(cfg, err);
	if (hv == NULL || veil_vm_config_from(cfg, "measure", "/dev/null", &tee, &vmc, err) < 0)
		return -1;
	if (vcpus > 0)
		vmc.vcpus = vcpus;
	if (init_data_file != NULL) {
		size_t len;
		cleanup_free char *text = veil_read_file(init_data_file, VEIL_INITDATA_MAX + 1, &len, err);
		if (text == NULL || veil_tee_config_set_init_data(&tee, text, len, err) < 0)
			return veil_fail_context(err, "init-data %s", init_data_file);
	}
	if (hv->launch_measurement == NULL)
		return veil_fail_tagged(err, ENOTSUP, "the %s backend cannot compute launch measurements", hv->name);
	if (tee.tee == VEIL_TEE_EMULATED) {
		struct veil_emulated_chip *chip;
		if (veil_emulated_chip_open(tee.chip_dir, &chip, err) < 0)
			return veil_fail_context(err, "the emulated TEE's chip in %s", tee.chip_dir);
		veil_emulated_chip_free(chip);
	}
	if (hv->launch_measurement(&vmc, out->measurement, err) < 0)
		return -1;
	out->tee = tee.tee;
	out->vcpus = vmc.vcpus;
	out->has_init_data = tee.init_data.text != NULL;
	if (out->has_init_data) {
		snprintf(out->init_data_algorithm, sizeof(out->init_data_algorithm), "%s", tee.init_data.algorithm);
		memcpy(out->init_data_digest, tee.init_data.digest, tee.init_data.digest_len);
		out->init_data_digest_len = tee.init_data.digest_len;
	}
	return 0;
}

/* The one init-data annotation spec has, decoded: 1 with *toml (malloc'd), 0 for none. */
static int init_data_annotation(const struct oci_spec *spec, char **toml, size_t *len, veil_err_t *err)
{
	json_object *kata = NULL, *veil = NULL;
	if (spec->annotations != NULL) {
		json_object_object_get_ex(spec->annotations, VEIL_INITDATA_ANNOTATION, &kata);
		json_object_object_get_ex(spec->annotations, VEIL_ANNOTATION_INIT_DATA, &veil);
	}
	if (kata != NULL && veil != NULL)
		return veil_fail(err, 0, "annotations %s and %s both give init-data: give one", VEIL_INITDATA_ANNOTATION,
				 VEIL_ANNOTATION_INIT_DATA);
	if (kata != NULL) {
		if (veil_initdata_from_annotation(json_object_get_string(kata), (size_t)json_object_get_string_len(kata),
						  toml, len, err) < 0)
			return -1;
		return 1;
	}
	if (veil == NULL)
		return 0;
	*len = (size_t)json_object_get_string_len(veil);
	*toml = strndup(json_object_get_string(veil), *len);
	return *toml != NULL ? 1 : veil_fail(err, ENOMEM, "%s", VEIL_ANNOTATION_INIT_DATA);
}

/* spec's secret annotations (at most max) and its init-data annotation
 * (*toml NULL: none); confidential: whether its VM is one, without which
 * either is an error. */
static int read_annotations(const struct oci_spec *spec, bool confidential, struct veil_secret_ref *secrets,
			    size_t max, size_t *n, char **toml, size_t *len, veil_err_t *err)
{
	*n = 0;
	*toml = NULL;
	int has_init_data = init_data_annotation(spec, toml, len, err);
	if (has_init_data < 0)
		return -1;
	if (has_init_data == 1 && !confidential)
		return veil_fail(err, 0, "an init-data annotation needs a confidential guest ([hypervisor.qemu] "
					 "confidential_guest = true)");
	const size_t prefix = strlen(VEIL_ANNOTATION_SECRET_PREFIX);
	if (spec->annotations == NULL)
		return 0;
	json_object_object_foreach(spec->annotations, key, value) {
		if (strncmp(key, VEIL_ANNOTATION_SECRET_PREFIX, prefix) != 0)
			continue;
		if (!confidential)
			return veil_fail(err, 0, "annotation %s: secrets need a confidential guest ([hypervisor.qemu] "
						 "confidential_guest = true)", key);
		struct veil_secret_ref ref;
		if (veil_secret_ref_parse(key + prefix, json_object_get_string(value), &ref, err) < 0 ||
		    veil_secret_refs_add(secrets, max, n, &ref, err) < 0)
			return veil_fail_context(err, "annotation %s", key);
	}
	return 0;
}

/* The guest adds the container's secrets to the init-data's; a name both
 * give differently would stop it, so it stops the container's create already. */
static int check_secrets_against_init_data(const struct veil_tee_config *tee, const struct veil_secret_ref *secrets,
					   size_t n, veil_err_t *err)
{
	if (tee == NULL || tee->init_data.text == NULL)
		return 0;
	struct veil_secret_ref all[VEIL_MAX_SECRETS];
	size_t n_all;
	if (veil_initdata_secrets(&tee->init_data, all, VEIL_MAX_SECRETS, &n_all, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (veil_secret_refs_add(all, VEIL_MAX_SECRETS, &n_all, &secrets[i], err) < 0)
			return veil_fail_context(err, "annotations and init-data");
	return 0;
}

int veil_container_confidential(const struct oci_spec *spec, struct veil_tee_config *tee, struct veil_secret_ref *secrets,
				size_t max, size_t *n, veil_err_t *err)
{
	cleanup_free char *toml = NULL;
	size_t len = 0;
	if (read_annotations(spec, tee != NULL, secrets, max, n, &toml, &len, err) < 0)
		return -1;
	if (toml != NULL && veil_tee_config_set_init_data(tee, toml, len, err) < 0)
		return veil_fail_context(err, "the container's init-data annotation");
	return check_secrets_against_init_data(tee, secrets, *n, err);
}

int veil_container_joins_confidential(const struct oci_spec *spec, const struct veil_tee_config *tee,
				      struct veil_secret_ref *secrets, size_t max, size_t *n, veil_err_t *err)
{
	cleanup_free char *toml = NULL;
	size_t len = 0;
	if (read_annotations(spec, tee != NULL, secrets, max, n, &toml, &len, err) < 0)
		return -1;
	/* The init-data is bound at the VM's launch (HOST_DATA / MRCONFIGID):
	 * CRI passes the pod's annotation on to each container, which then
	 * gives the same bytes; anything else asks for another VM. */
	if (toml != NULL && (tee->init_data.text == NULL || len != tee->init_data.len ||
			     memcmp(toml, tee->init_data.text, len) != 0))
		return veil_fail(err, 0, "the container's init-data annotation differs from the init-data its pod's VM "
					 "was launched with%s: a VM's init-data cannot change",
				 tee->init_data.text == NULL ? " (none)" : "");
	return check_secrets_against_init_data(tee, secrets, *n, err);
}
