/* libFuzzer target for the config.json parser: besides memory errors, it
 * checks the promises callers rely on after success or failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/oci_spec.h"

static void require(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_spec spec;
	veil_err_t err = NULL;
	if (oci_spec_parse((const char *)data, size, &spec, &err) < 0) {
		require(err != NULL && strncmp(err->msg, "config.json: ", 13) == 0 && strchr(err->msg, '\n') == NULL);
		require(spec.oci_version == NULL && spec.process == NULL && spec.mounts == NULL);
		veil_error_free(&err);
		return 0;
	}
	require(spec.oci_version != NULL && spec.root_path != NULL && spec.root_path[0] != '\0');
	if (spec.process != NULL)
		require(spec.process->n_args > 0 && spec.process->cwd[0] == '/');
	for (size_t i = 0; i < spec.n_mounts; i++)
		require(spec.mounts[i].destination[0] == '/');
	for (size_t i = 0; i < 2; i++) {
		char *rootfs = oci_spec_rootfs_path(&spec, i == 0 ? "/run/bundle/" : "bundle");
		require(rootfs != NULL && rootfs[0] == '/' && strstr(rootfs, "//") == NULL &&
			strstr(rootfs, "/./") == NULL && strstr(rootfs, "/../") == NULL);
		free(rootfs);
	}
	oci_spec_free(&spec);
	return 0;
}
