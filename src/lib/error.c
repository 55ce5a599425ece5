#include "lib/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vfail(veil_err_t *err, int errnum, bool append_strerror, const char *fmt, va_list ap)
{
	if (err == NULL || *err != NULL)
		return -1;
	struct veil_error *e = calloc(1, sizeof(*e));
	if (e == NULL)
		abort();
	int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (append_strerror && errnum != 0 && n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", strerror(errnum));
	e->errnum = errnum;
	*err = e;
	return -1;
}

int veil_fail(veil_err_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, errnum, true, fmt, ap);
	va_end(ap);
	return -1;
}

int veil_fail_tagged(veil_err_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, errnum, false, fmt, ap);
	va_end(ap);
	return -1;
}

int veil_fail_context(veil_err_t *err, const char *fmt, ...)
{
	if (err == NULL || *err == NULL)
		return -1;
	char prefix[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	char joined[sizeof(prefix) + sizeof((*err)->msg) + 2];
	snprintf(joined, sizeof(joined), "%s: %s", prefix, (*err)->msg);
	size_t n = strnlen(joined, sizeof((*err)->msg) - 1);
	memcpy((*err)->msg, joined, n);
	(*err)->msg[n] = '\0';
	return -1;
}

void veil_error_free(veil_err_t *err)
{
	free(*err);
	*err = NULL;
}
