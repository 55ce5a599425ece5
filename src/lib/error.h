/* Error reporting by out-parameter: a failing function fills *err and returns -1.
 * The message is one line naming the cause; callers may prefix context. */
#ifndef VEIL_ERROR_H
#define VEIL_ERROR_H

#include <stdarg.h>

struct veil_error {
	int errnum;    /* errno value, 0 if none applies */
	char msg[1024];
};
typedef struct veil_error *veil_err_t;

/* Sets *err (if err != NULL and *err is NULL) and returns -1. With errnum != 0,
 * ": strerror(errnum)" is appended. */
int veil_fail(veil_err_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like veil_fail, but errnum only classifies the error; nothing is appended. */
int veil_fail_tagged(veil_err_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepends "context: " to an existing error; returns -1. */
int veil_fail_context(veil_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void veil_error_free(veil_err_t *err);

#endif
