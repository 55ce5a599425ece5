/* OCI hooks run on the host with the container's state on stdin. */
#ifndef VEIL_HOOKS_H
#define VEIL_HOOKS_H

#include <stddef.h>

#include "lib/error.h"
#include "lib/oci_spec.h"

/* Runs hooks in order; the first failure stops the rest. `stage` names them in errors. */
int veil_hooks_run(const char *stage, const struct oci_hook *hooks, size_t n, const char *state_json,
		   veil_err_t *err);

#endif
