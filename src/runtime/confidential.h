/* A container's confidential settings (docs/confidential.md, "Running a
 * confidential container"): the configuration's [hypervisor.qemu]
 * confidential_guest, tee and init_data, and the container's annotations:
 *
 *   io.katacontainers.config.hypervisor.cc_init_data  init-data as Kata takes
 *                                                     it: base64 of gzip of the TOML
 *   io.veil.init_data                                 init-data, the TOML itself
 *   io.veil.secret.NAME = "kbs:///REPO/TYPE/TAG"      a secret the guest puts
 *                                                     at /run/secrets/NAME
 *
 * An init-data annotation replaces the configuration's init_data file for
 * this container's VM (a pooled VM serves it only if it was launched with
 * the same). A pod's VM is launched for its first (sandbox) container; a
 * later container brings its own secrets but not other init-data. */
#ifndef VEIL_RUNTIME_CONFIDENTIAL_H
#define VEIL_RUNTIME_CONFIDENTIAL_H

#include <stddef.h>

#include "attest/initdata_config.h"
#include "hv/tee.h"
#include "lib/error.h"
#include "lib/oci_spec.h"

#define VEIL_ANNOTATION_INIT_DATA "io.veil.init_data"
#define VEIL_ANNOTATION_SECRET_PREFIX "io.veil.secret."

/* Applies spec's init-data annotation to tee (the VM's launch; NULL when
 * the configuration asks for no confidential guest, and then any of these
 * annotations is an error) and collects its secrets, at most max. */
int veil_container_confidential(const struct oci_spec *spec, struct veil_tee_config *tee, struct veil_secret_ref *secrets,
				size_t max, size_t *n, veil_err_t *err);
/* The same for a container joining a running VM (a pod's later container),
 * tee being the VM's launch (NULL: not confidential): its init-data
 * annotation, if any, must be the VM's own, byte for byte. */
int veil_container_joins_confidential(const struct oci_spec *spec, const struct veil_tee_config *tee,
				      struct veil_secret_ref *secrets, size_t max, size_t *n, veil_err_t *err);

/* What a confidential guest of this configuration will measure: the
 * reference values to load into a key broker (`veil measure`). */
struct veil_reference_values {
	enum veil_tee tee;
	uint8_t measurement[48];
	uint32_t vcpus;
	bool has_init_data;
	char init_data_algorithm[8];       /* "sha256", "sha384" or "sha512" */
	uint8_t init_data_digest[VEIL_INITDATA_MAX_DIGEST];
	size_t init_data_digest_len;
};

/* For the configured guest with vcpus vCPUs (0: the default) and the
 * init-data in init_data_file (NULL: the configuration's). For the emulated
 * TEE the chip is made if there is none yet: a KBS that is to trust it needs
 * its root (emulated_tee_dir's ark.der and ask.der). */
int veil_reference_values(const struct veil_config *cfg, uint32_t vcpus, const char *init_data_file,
			  struct veil_reference_values *out, veil_err_t *err);

#endif
