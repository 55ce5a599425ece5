#include "lib/ns_paths.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "lib/cleanup.h"

static const struct {
	const char *type; /* linux.namespaces[].type */
	int flag;
} kinds[] = {
	{ "pid", CLONE_NEWPID },   { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },	 { "ipc", CLONE_NEWIPC },
	{ "uts", CLONE_NEWUTS },   { "user", CLONE_NEWUSER },	{ "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

static const char *type_of(int flag)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].flag == flag)
			return kinds[i].type;
	return "unknown";
}

static int flag_of(const char *type)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].type, type) == 0)
			return kinds[i].flag;
	return 0;
}

/* Whether fd is the same namespace as the one of this process named name. */
static bool is_own(int fd, const char *name)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int veil_check_namespace_paths(const struct oci_spec *spec, veil_err_t *err)
{
	for (size_t i = 0; i < spec->n_namespaces; i++) {
		const char *path = spec->namespace_paths != NULL ? spec->namespace_paths[i] : NULL;
		if (path == NULL)
			continue;
		const char *type = spec->namespaces[i];
		cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return veil_fail(err, errno, "config.json: linux.namespaces[%zu].path %s", i, path);
		int actual = ioctl(fd, NS_GET_NSTYPE);
		if (actual < 0)
			return veil_fail(err, errno, "config.json: linux.namespaces[%zu].path %s is not a namespace", i, path);
		if (actual != flag_of(type))
			return veil_fail(err, 0,
					 "config.json: linux.namespaces[%zu].path %s is a %s namespace, not %s: failed to setns into "
					 "%s namespace: Invalid argument",
					 i, path, type_of(actual), type, type);
		/* The netns podman or CNI prepared for the container: the VM takes
		 * its interface over. The host's own would give the VM the host's. */
		if (actual == CLONE_NEWNET) {
			if (is_own(fd, "net"))
				return veil_fail(err, 0,
						 "config.json: linux.namespaces[%zu].path %s is the host's own network namespace, "
						 "whose interfaces a VM cannot share",
						 i, path);
			continue;
		}
		return veil_fail(err, 0,
				 "config.json: linux.namespaces[%zu].path %s: a container in a VM cannot join the host's %s "
				 "namespace",
				 i, path, type);
	}
	return 0;
}
