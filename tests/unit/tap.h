/* Minimal TAP producer for unit tests: one `ok`/`not ok` line per check,
 * the plan at the end, exit status 1 if anything failed. */
#ifndef VEIL_TAP_H
#define VEIL_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/error.h"

static int tap_count;
static int tap_failures;

__attribute__((format(printf, 4, 5))) static int tap_check(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_count++;
	printf("%sok %d - ", ok ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok) {
		tap_failures++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return ok;
}

#define CHECK(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* One check of a call that fails with *err: rc < 0 and the message starts
 * with want; want NULL: the call succeeded. Frees *err. */
static inline void tap_expect_error(int rc, veil_err_t *err, const char *want, const char *name)
{
	const char *got = rc == 0 ? "(accepted)" : *err != NULL ? (*err)->msg : "(no message)";
	int pass = want == NULL ? rc == 0 : rc < 0 && strncmp(got, want, strlen(want)) == 0;
	if (!CHECK(pass, "%s", name != NULL ? name : "(unnamed)"))
		printf("#   got  %s\n#   want %s\n", got, want ? want : "(accepted)");
	veil_error_free(err);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}

#endif
