/* linux.namespaces[].path: which a container in a VM can honour. */
#ifndef VEIL_NS_PATHS_H
#define VEIL_NS_PATHS_H

#include "lib/oci_spec.h"

/* Every path must name a namespace of its entry's type (else refused as
 * runc's setns refuses it). A network namespace is the one whose interface
 * the VM takes over, but never the host's own; any other namespace of the
 * host is refused, as the guest cannot enter it. One line in *err. */
int veil_check_namespace_paths(const struct oci_spec *spec, veil_err_t *err);

#endif
