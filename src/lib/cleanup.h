/* Scope-bound release of resources, so early returns cannot leak. */
#ifndef VEIL_CLEANUP_H
#define VEIL_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>

static inline void veil_freep(void *p)
{
	free(*(void **)p);
}

static inline void veil_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

/* For fds held in structures, which are checked against -1 later. */
static inline void veil_close_fd(int *fd)
{
	veil_closep(fd);
	*fd = -1;
}

static inline void veil_fclosep(FILE **f)
{
	if (*f != NULL)
		fclose(*f);
}

#define cleanup_free __attribute__((cleanup(veil_freep)))
#define cleanup_close __attribute__((cleanup(veil_closep)))
#define cleanup_fclose __attribute__((cleanup(veil_fclosep)))

/* Hands ownership out of a cleanup-annotated variable. */
#define veil_steal_fd(fd) ({ int _fd = (fd); (fd) = -1; _fd; })
#define veil_steal_ptr(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })

#endif
