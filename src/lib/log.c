#include "lib/log.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static struct {
	int fd;
	enum veil_log_format format;
	enum veil_log_level level;
	bool syslog;
} logger = { .fd = -1, .level = VEIL_LOG_INFO };

static const char *const level_names[] = { "debug", "info", "warning", "error" };

int veil_log_init(const char *file, enum veil_log_format format, enum veil_log_level level, bool use_syslog)
{
	logger.format = format;
	logger.level = level;
	if (file != NULL) {
		logger.fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (logger.fd < 0)
			return -1;
	}
	logger.syslog = use_syslog;
	if (use_syslog)
		openlog("veil", LOG_PID | LOG_NDELAY, LOG_USER);
	return 0;
}

void veil_log_use_fd(int fd)
{
	if (logger.fd >= 0)
		close(logger.fd);
	logger.fd = fd;
	logger.format = VEIL_LOG_TEXT;
}

void veil_log_set_level(enum veil_log_level level)
{
	logger.level = level;
}

enum veil_log_level veil_log_get_level(void)
{
	return logger.level;
}

int veil_log_parse_level(const char *name, enum veil_log_level *level)
{
	static const char *const accepted[] = { "debug", "info", "warn", "error" };
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		if (strcmp(name, accepted[i]) == 0) {
			*level = (enum veil_log_level)i;
			return 0;
		}
	}
	return -1;
}

static void write_file_line(enum veil_log_level level, const char *msg)
{
	char stamp[64];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%09ldZ", ts.tv_nsec);

	if (logger.format == VEIL_LOG_JSON) {
		/* runc's --log-format json: {"level":..,"msg":..,"time":..} per line. */
		json_object *o = json_object_new_object();
		json_object_object_add(o, "level", json_object_new_string(level_names[level]));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		json_object_object_add(o, "time", json_object_new_string(stamp));
		dprintf(logger.fd, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		dprintf(logger.fd, "time=\"%s\" level=%s pid=%d msg=\"%s\"\n", stamp, level_names[level], getpid(), msg);
	}
}

int veil_log_forked_child(void)
{
	if (logger.syslog)
		closelog();
	return logger.fd;
}

void veil_log(enum veil_log_level level, const char *fmt, ...)
{
	if (level < logger.level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (logger.fd >= 0)
		write_file_line(level, msg);
	if (logger.syslog) {
		static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
		syslog(prio[level], "%s", msg);
	}
}
