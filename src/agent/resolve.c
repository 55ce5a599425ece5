#include "agent/resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int agent_resolve(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

static int resolve_dir(int root, const char *path)
{
	return agent_resolve(root, path[0] != '\0' ? path : "/", O_PATH | O_DIRECTORY);
}

/* Creates the last component of prefix inside its parent, which exists. */
static int make_last(int root, char *prefix)
{
	char *slash = strrchr(prefix, '/');
	*slash = '\0';
	int parent = resolve_dir(root, prefix);
	*slash = '/';
	if (parent < 0)
		return -1;
	int rc = mkdirat(parent, slash + 1, 0755);
	int saved = errno;
	close(parent);
	errno = saved;
	return rc < 0 && errno != EEXIST ? -1 : 0;
}

int agent_resolve_mkdir(int root, const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf) || buf[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	/* Each prefix is resolved from the root again, so that a symlink among
	 * the directories that exist is followed as inside the container. */
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		int fd = resolve_dir(root, buf);
		if (fd < 0 && errno == ENOENT && p[-1] != '/' && make_last(root, buf) == 0)
			fd = resolve_dir(root, buf);
		if (fd < 0 || saved == '\0')
			return fd;
		close(fd);
		*p = saved;
	}
}
