/* Console logging of the guest agent, and the one way out of a fatal state. */
#ifndef VEIL_AGENT_LOG_H
#define VEIL_AGENT_LOG_H

#include <stdbool.h>

/* Set once at boot from the kernel command line (veil.debug=1). */
extern bool agent_log_verbose;

/* Always printed: something the operator must see. */
void agent_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed only with veil.debug=1. */
void agent_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Syncs and reboots; under QEMU -no-reboot that ends the VM. */
__attribute__((noreturn)) void agent_poweroff(void);
/* Logs, syncs and reboots: under QEMU -no-reboot the VM then exits instead of
 * hanging with a dead agent. */
__attribute__((noreturn, format(printf, 1, 2))) void agent_fatal(const char *fmt, ...);

#endif
