/* A container's confidential annotations (runtime/confidential.h): the
 * first container of a VM sets its init-data; a container joining a running
 * VM (a pod's later one) brings its own secrets, checked against the
 * init-data's list, and cannot bring other init-data. */
#include <stdio.h>
#include <string.h>

#include "hv/tee.h"
#include "runtime/confidential.h"
#include "tap.h"

#define INIT_DATA(url)                                                                                         \
	"version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"" url \
	"\"\n'''\n\"veil.toml\" = '''\n[secrets]\ndb = \"kbs:///default/key/db\"\n'''\n"

static const char vm_init_data[] = INIT_DATA("http://127.0.0.1:8080");

/* A spec with these annotations (a JSON object's members). */
static void spec_with(struct oci_spec *spec, const char *annotations)
{
	char json[4096];
	snprintf(json, sizeof(json),
		 "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"true\"], \"cwd\": \"/\"},"
		 " \"root\": {\"path\": \"rootfs\"}, \"annotations\": {%s}}",
		 annotations);
	veil_err_t err = NULL;
	if (oci_spec_parse(json, strlen(json), spec, &err) < 0) {
		printf("# %s\n", err->msg);
		veil_error_free(&err);
	}
}

/* veil_container_joins_confidential on a spec with these annotations. */
static int joins(const struct veil_tee_config *tee, const char *annotations, size_t *n, veil_err_t *err)
{
	struct oci_spec spec;
	spec_with(&spec, annotations);
	struct veil_secret_ref secrets[VEIL_MAX_SECRETS];
	int rc = veil_container_joins_confidential(&spec, tee, secrets, VEIL_MAX_SECRETS, n, err);
	oci_spec_free(&spec);
	return rc;
}

static void test_joins(void)
{
	__attribute__((cleanup(veil_tee_config_free))) struct veil_tee_config tee = { .tee = VEIL_TEE_EMULATED };
	veil_err_t err = NULL;
	CHECK(veil_tee_config_set_init_data(&tee, vm_init_data, strlen(vm_init_data), &err) == 0, "the VM's init-data");
	size_t n = 99;
	tap_expect_error(joins(&tee, "\"io.veil.secret.a\": \"kbs:///default/key/a\"", &n, &err), &err, NULL,
			 "a later container's own secret");
	CHECK(n == 1, "is collected (1)");
	tap_expect_error(joins(&tee, "", &n, &err), &err, NULL, "a later container without secrets");
	CHECK(n == 0, "has none of its own");

	/* The VM's own init-data, byte for byte, as CRI copies the pod's annotation. */
	struct oci_spec spec;
	spec_with(&spec, "");
	json_object_object_add(spec.annotations, VEIL_ANNOTATION_INIT_DATA, json_object_new_string(vm_init_data));
	struct veil_secret_ref secrets[VEIL_MAX_SECRETS];
	tap_expect_error(veil_container_joins_confidential(&spec, &tee, secrets, VEIL_MAX_SECRETS, &n, &err), &err, NULL,
			 "the VM's own init-data annotation is accepted");
	static const char other[] = INIT_DATA("http://127.0.0.1:9090");
	json_object_object_add(spec.annotations, VEIL_ANNOTATION_INIT_DATA, json_object_new_string(other));
	tap_expect_error(veil_container_joins_confidential(&spec, &tee, secrets, VEIL_MAX_SECRETS, &n, &err), &err,
			 "the container's init-data annotation differs from the init-data its pod's VM was launched with:",
			 "other init-data is refused");
	oci_spec_free(&spec);

	tap_expect_error(joins(&tee, "\"io.veil.secret.db\": \"kbs:///default/key/other\"", &n, &err), &err,
			 "annotations and init-data", "a secret name the init-data gives otherwise is refused");
	tap_expect_error(joins(NULL, "\"io.veil.secret.a\": \"kbs:///default/key/a\"", &n, &err), &err,
			 "annotation io.veil.secret.a: secrets need a confidential guest",
			 "secrets in an ordinary VM are refused");
	tap_expect_error(joins(NULL, "\"io.veil.init_data\": \"x\"", &n, &err), &err,
			 "an init-data annotation needs a confidential guest", "init-data in an ordinary VM is refused");

	__attribute__((cleanup(veil_tee_config_free))) struct veil_tee_config bare = { .tee = VEIL_TEE_EMULATED };
	spec_with(&spec, "");
	json_object_object_add(spec.annotations, VEIL_ANNOTATION_INIT_DATA, json_object_new_string(vm_init_data));
	tap_expect_error(veil_container_joins_confidential(&spec, &bare, secrets, VEIL_MAX_SECRETS, &n, &err), &err,
			 "the container's init-data annotation differs from the init-data its pod's VM was launched with "
			 "(none)",
			 "init-data for a VM launched without any is refused");
	oci_spec_free(&spec);
}

int main(void)
{
	test_joins();
	return tap_done();
}
