#include "lib/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages quote what they were given (a JSON string, a guest's answer), and
 * a caller prints them as one line: control characters become '?'. */
static void one_line(char *msg)
{
	for (unsigned char *p = (unsigned char *)msg; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

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
	one_line(e->msg);
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
	one_line((*err)->msg);
	return -1;
}

void veil_error_free(veil_err_t *err)
{
	free(*err);
	*err = NULL;
}
