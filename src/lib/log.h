/* Logging to syslog/journal (identifier "veil") and optionally to a file, in
 * runc's text or json format. Errors for the user go to stderr separately. */
#ifndef VEIL_LOG_H
#define VEIL_LOG_H

#include <stdbool.h>

enum veil_log_level { VEIL_LOG_DEBUG, VEIL_LOG_INFO, VEIL_LOG_WARN, VEIL_LOG_ERROR };
enum veil_log_format { VEIL_LOG_TEXT, VEIL_LOG_JSON };

/* file may be NULL. Returns -1 if the file cannot be opened. */
int veil_log_init(const char *file, enum veil_log_format format, enum veil_log_level level, bool use_syslog);
/* Logs to fd (text format) instead of a file by name: the containerd shim's
 * log FIFO, opened non-blocking, so that a stalled reader drops lines rather
 * than stopping the logger. The fd becomes the logger's. */
void veil_log_use_fd(int fd);
void veil_log_set_level(enum veil_log_level level);
enum veil_log_level veil_log_get_level(void);
int veil_log_parse_level(const char *name, enum veil_log_level *level);
/* In a child forked to live on without exec, before it closes the fds it
 * inherited: drops the syslog connection (the next message opens its own)
 * and returns the log file's fd, which the child keeps, or -1. */
int veil_log_forked_child(void);
void veil_log(enum veil_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) veil_log(VEIL_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) veil_log(VEIL_LOG_INFO, __VA_ARGS__)
#define log_warn(...) veil_log(VEIL_LOG_WARN, __VA_ARGS__)
#define log_error(...) veil_log(VEIL_LOG_ERROR, __VA_ARGS__)

#endif
