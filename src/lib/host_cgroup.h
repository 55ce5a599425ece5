/* The host cgroup of a container (linux.cgroupsPath): its monitor and the
 * VM's QEMU go into it, so that podman's, containerd's and the kubelet's
 * accounting and limits see the VM, as Kata's sandbox_cgroup_only does. As
 * runc's cgroupfs driver, on cgroup v2 and on v1 (each hierarchy mounted,
 * and the unified one of a hybrid host). */
#ifndef VEIL_HOST_CGROUP_H
#define VEIL_HOST_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

#define VEIL_CGROUP_HIERARCHIES_MAX 16

/* One mounted cgroup hierarchy. */
struct veil_cgroup_hierarchy {
	char mount[PATH_MAX];   /* "/sys/fs/cgroup/memory", or "/sys/fs/cgroup" for v2 */
	bool v2;
	char controllers[128];  /* v1: the mount's options naming them ("cpu,cpuacct"); v2: "" */
	char own[PATH_MAX];     /* this process's cgroup in it, for relative paths */
};

/* What the VM may use in all: the container's limits, with the VM's overhead. */
struct veil_cgroup_limits {
	int64_t memory_bytes;   /* 0: none */
	int64_t cpu_quota_us;   /* 0: none */
	uint64_t cpu_period_us;
};

/* The hierarchies this process sees (/proc/self/mountinfo, /proc/self/cgroup). */
int veil_cgroup_hierarchies(struct veil_cgroup_hierarchy *out, size_t cap, size_t *n, veil_err_t *err);

/* cgroupsPath to a path below each hierarchy, as runc reads it: a relative
 * one is relative to the caller's own cgroup there ("" in out means so);
 * with systemd, "slice:prefix:name" is /<slice, expanded>/<prefix>-<name>.scope.
 * Refused with runc's words if systemd is asked for and does not run. */
int veil_cgroup_path(const char *cgroups_path, bool systemd, bool systemd_running, char *out, size_t size,
		     veil_err_t *err);

/* Makes the cgroup in every hierarchy (with its parents; on v2 the
 * controllers the limits need enabled on the way), sets the limits where
 * the hierarchy has them, and moves pid in. */
int veil_cgroup_enter(const struct veil_cgroup_hierarchy *h, size_t n, const char *path, pid_t pid,
		      const struct veil_cgroup_limits *limits, veil_err_t *err);

/* Removes the cgroup (the leaf, as runc does) from every hierarchy, once
 * the processes in it are gone; missing is fine. Returns how many
 * hierarchies still have it (busy: a process has not left yet). */
size_t veil_cgroup_remove(const struct veil_cgroup_hierarchy *h, size_t n, const char *path);

/* Whether systemd is PID 1 (sd_booted's test). */
bool veil_systemd_running(void);

#endif
