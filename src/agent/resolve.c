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

#include "lib/cleanup.h"

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

/* Go's exec.LookPath test, which runc applies: a file with an execute bit. */
static int check_executable(int root, const char *path)
{
	cleanup_close int fd = agent_resolve(root, path, O_PATH);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

int agent_lookup_executable(int root, const char *file, const char *search_path, const char *cwd, veil_err_t *err)
{
	char path[PATH_MAX];
	if (strchr(file, '/') != NULL) {
		/* Relative to the working directory the process will have. */
		int n = file[0] == '/' ? snprintf(path, sizeof(path), "%s", file)
				       : snprintf(path, sizeof(path), "%s/%s", cwd[0] ? cwd : "/", file);
		if (n < 0 || (size_t)n >= sizeof(path))
			return veil_fail(err, ENAMETOOLONG, "exec: \"%s\"", file);
		if (check_executable(root, path) == 0)
			return 0;
		/* runc's (Go's) wording, which podman maps to exit status 127. */
		if (errno == ENOENT)
			return veil_fail_tagged(err, ENOENT, "exec: \"%s\": stat %s: no such file or directory", file, file);
		return veil_fail(err, errno, "exec: \"%s\"", file);
	}
	const char *dir = search_path[0] != '\0' ? search_path : AGENT_DEFAULT_PATH;
	int denied = 0;
	for (;;) {
		const char *end = strchrnul(dir, ':');
		/* An empty entry is the working directory, as for execvp. */
		int n = snprintf(path, sizeof(path), "%.*s/%s", (int)(end - dir), end == dir ? "." : dir, file);
		if (n > 0 && (size_t)n < sizeof(path)) {
			if (check_executable(root, path) == 0)
				return 0;
			if (errno == EACCES)
				denied = EACCES;
		}
		if (*end == '\0')
			break;
		dir = end + 1;
	}
	if (denied)
		return veil_fail(err, denied, "exec: \"%s\"", file);
	return veil_fail_tagged(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", file);
}
