/* A container whose namespace paths name another veil container's: podman
 * gives a pod's containers the infra container's namespaces as
 * /proc/<the pid veil reported>/ns/<type>, and `--network container:NAME`
 * that container's network namespace. That pid is a monitor, whose own
 * namespaces are the host's, so the paths cannot be entered; instead the
 * container is created in that monitor's VM and shares the named
 * namespaces with its container there. */
#ifndef VEIL_JOIN_H
#define VEIL_JOIN_H

#include "lib/error.h"
#include "lib/oci_spec.h"
#include "runtime/sandbox.h"

/* The namespaces a container can share with the one whose VM it joins. */
#define VEIL_JOIN_MAX_SHARED 4

struct veil_join {
	char owner[VEIL_ID_MAX + 1]; /* the container whose VM to join; "" for none */
	const char *shared[VEIL_JOIN_MAX_SHARED]; /* the namespace types shared with it (static strings) */
	size_t n_shared;
};

/* Looks at each linux.namespaces[].path of spec that has the form
 * /proc/PID/ns/NAME: if PID is the live monitor of a container under root,
 * and the path is that process's namespace of the entry's type, the entry
 * is taken out of spec (its path and, for the network, netns_path cleared)
 * and recorded in *j. Refused, one line in *err: a path to a veil monitor of
 * another --root, paths naming two containers, a shared namespace other
 * than network, ipc, uts or pid. Paths left in spec are another's to judge. */
int veil_join_find(const char *root, struct oci_spec *spec, struct veil_join *j, veil_err_t *err);

/* Whether spec is podman's infra container (its pause process, catatonit
 * -P): the pod's containers will join its VM, which needs spare PCIe root
 * ports at boot to hot-plug their images. */
bool veil_join_is_infra(const struct oci_spec *spec);

#endif
