#include "agent/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

bool agent_log_verbose;

static void emit(const char *fmt, va_list ap)
{
	/* One write per line so that lines from the kernel do not split ours. */
	char line[1024];
	int n = snprintf(line, sizeof(line), "veil-agent: ");
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, len);
	(void)ignored;
}

void agent_log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
}

void agent_log_debug(const char *fmt, ...)
{
	if (!agent_log_verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
}

void agent_poweroff(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	/* Only reached outside a VM's PID 1; exiting init panics the guest, which also ends it. */
	_exit(1);
}

void agent_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
	agent_poweroff();
}
