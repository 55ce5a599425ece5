#include "runtime/join.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/state.h"

/* The namespaces a container can share with another in one VM, and the
 * name /proc/PID/ns gives each. */
struct shareable_ns {
	const char *type;
	const char *proc_name;
};
static const struct shareable_ns shareable[] = {
	{ "network", "net" },
	{ "ipc", "ipc" },
	{ "uts", "uts" },
	{ "pid", "pid" },
};
_Static_assert(sizeof(shareable) / sizeof(shareable[0]) <= VEIL_JOIN_MAX_SHARED, "one slot per shareable type");

/* The entry of shareable for a namespace type; NULL if it cannot be shared. */
static const struct shareable_ns *shareable_of(const char *type)
{
	for (size_t i = 0; i < sizeof(shareable) / sizeof(shareable[0]); i++)
		if (strcmp(shareable[i].type, type) == 0)
			return &shareable[i];
	return NULL;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The container under root whose live monitor is pid, into owner; 0 if none. */
static int container_of_pid(const char *root, pid_t pid, char owner[VEIL_ID_MAX + 1])
{
	DIR *d = opendir(root);
	bool found = false;
	for (struct dirent *e; d != NULL && !found && (e = readdir(d)) != NULL;) {
		struct veil_state s;
		veil_err_t err = NULL;
		if (e->d_name[0] == '.' || veil_state_read(root, e->d_name, &s, &err) < 0) {
			veil_error_free(&err);
			continue;
		}
		found = s.pid == pid && veil_state_monitor_alive(&s);
		if (found)
			snprintf(owner, VEIL_ID_MAX + 1, "%s", s.id);
		veil_state_free(&s);
	}
	if (d != NULL)
		closedir(d);
	return found;
}

/* Entry i names a namespace of a veil container of root: 1 with its id in
 * owner, 0 if it is not of the /proc/PID/ns/NAME form or PID is no veil
 * process, -1 if it is one veil cannot join from here. *owner_pid is the
 * monitor whose container owner already names (0: none yet): a pod's
 * entries all name one pid, whose container is looked up once. */
static int owner_of_entry(const char *root, const struct oci_spec *spec, size_t i, pid_t *owner_pid,
			  char owner[VEIL_ID_MAX + 1], veil_err_t *err)
{
	const char *path = spec->namespace_paths[i];
	int pid = 0, end = 0;
	char name[16];
	if (sscanf(path, "/proc/%d/ns/%15[a-z_]%n", &pid, name, &end) != 2 || path[end] != '\0' || pid <= 0)
		return 0;
	char exe[64];
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (!same_file(exe, "/proc/self/exe"))
		return 0;
	if (pid != *owner_pid && container_of_pid(root, pid, owner) == 0)
		return veil_fail(err, 0,
				 "config.json: linux.namespaces[%zu].path %s belongs to a veil container under another --root "
				 "than %s, whose VM this one cannot join",
				 i, path, root);
	*owner_pid = pid;
	const char *type = spec->namespaces[i];
	const struct shareable_ns *ns = shareable_of(type);
	if (ns == NULL)
		return veil_fail(err, 0,
				 "config.json: linux.namespaces[%zu].path %s: a container cannot share the %s namespace of "
				 "container %s, only its network, ipc, uts and pid namespaces",
				 i, path, type, owner);
	/* The path must be that process's namespace of the entry's type (as
	 * setns would refuse another type), not merely name its pid. */
	char own[64];
	snprintf(own, sizeof(own), "/proc/%d/ns/%s", pid, ns->proc_name);
	if (strcmp(name, ns->proc_name) != 0 || !same_file(path, own))
		return veil_fail(err, 0,
				 "config.json: linux.namespaces[%zu].path %s is not a %s namespace: failed to setns into %s "
				 "namespace: Invalid argument",
				 i, path, type, type);
	return 1;
}

int veil_join_find(const char *root, struct oci_spec *spec, struct veil_join *j, veil_err_t *err)
{
	memset(j, 0, sizeof(*j));
	char owner[VEIL_ID_MAX + 1];
	pid_t owner_pid = 0;
	for (size_t i = 0; spec->namespace_paths != NULL && i < spec->n_namespaces; i++) {
		if (spec->namespace_paths[i] == NULL)
			continue;
		int rc = owner_of_entry(root, spec, i, &owner_pid, owner, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		if (j->owner[0] != '\0' && strcmp(j->owner, owner) != 0)
			return veil_fail(err, 0,
					 "config.json: linux.namespaces name the namespaces of two containers, %s and %s; a "
					 "container can join one VM only",
					 j->owner, owner);
		snprintf(j->owner, sizeof(j->owner), "%s", owner);
		/* owner_of_entry refused a type shareable lacks; types are unique. */
		j->shared[j->n_shared++] = shareable_of(spec->namespaces[i])->type;
		free(spec->namespace_paths[i]);
		spec->namespace_paths[i] = NULL;
		if (strcmp(spec->namespaces[i], "network") == 0) {
			free(spec->netns_path);
			spec->netns_path = NULL;
		}
	}
	return 0;
}

bool veil_join_is_infra(const struct oci_spec *spec)
{
	const struct oci_process *p = spec->process;
	if (p == NULL || p->n_args != 2 || strcmp(p->args[1], "-P") != 0)
		return false;
	const char *base = strrchr(p->args[0], '/');
	return strcmp(base != NULL ? base + 1 : p->args[0], "catatonit") == 0;
}
