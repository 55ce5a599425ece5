/* The agent's spans: what it did for each request and how long each step
 * took, sent back in the request's Response while the host asks for them (a
 * Hello or Scrub with trace set). Off, every call returns at once. */
#ifndef VEIL_AGENT_TRACE_H
#define VEIL_AGENT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"

void agent_trace_set(bool on);
/* CLOCK_BOOTTIME in ns: the clock of every span and of Hello's boot_ns. */
uint64_t agent_trace_now(void);
/* A step of the request being handled; name is a string literal. Returns a
 * handle for agent_trace_end, -1 when off or full. */
int agent_trace_begin(const char *name);
void agent_trace_end(int span);
/* The spans of a response: the request's own (named request, from
 * received_ns until now), then the steps begun since the last collection.
 * Valid until the next call; *spans is NULL and 0 returned when off. */
size_t agent_trace_collect(const char *request, uint64_t received_ns, Veil__Agent__V1__Span ***spans);

#endif
