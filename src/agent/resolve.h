/* Paths the host sends (mount destinations, masked and readonly paths, the
 * process's cwd) resolved inside a container's root, from an fd on it, never
 * as plain paths: openat2(RESOLVE_IN_ROOT) keeps ".." and absolute symlinks
 * from climbing out, and RESOLVE_NO_MAGICLINKS refuses /proc/<pid>/root,
 * /proc/<pid>/cwd and /proc/<pid>/fd/N, which lead into other processes'
 * filesystems (the guest's own, through the agent's). The caller then acts on
 * the fd it got, so nothing is looked up twice. */
#ifndef VEIL_AGENT_RESOLVE_H
#define VEIL_AGENT_RESOLVE_H

#include "lib/error.h"

/* The PATH a process without one in its env is searched with. */
#define AGENT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* openat2 of path (absolute or not, it starts at root) with flags (O_*);
 * returns the fd, or -1 with errno (ELOOP for a magic link on the way). */
int agent_resolve(int root, const char *path, int flags);
/* The directory at path, created with its missing parents (mode 0755), as an
 * O_PATH fd; -1 with errno. */
int agent_resolve_mkdir(int root, const char *path);

/* runc's check at create (exec.LookPath) of the init's program inside the
 * root: a file with an execute bit, found as file itself if it holds a '/'
 * (relative to cwd), else in the ':'-separated search_path ("" = the
 * default). -1 with *err in runc's words, errnum ENOENT if there is none. */
int agent_lookup_executable(int root, const char *file, const char *search_path, const char *cwd, veil_err_t *err);

#endif
