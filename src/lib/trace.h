/* Where the milliseconds of a container start, or of a VM readied by the
 * factory, go: one trace per process at a time, a run of contiguous phases
 * (config, image, claim, plug, resume, hello, create, ...) that add up to the
 * whole, plus finer spans, the guest agent's among them. Finishing a trace
 * logs one record of the phases, `trace {JSON}`, and, given a directory,
 * writes every span to a Chrome trace-event file that Perfetto and
 * chrome://tracing open, host and guest on one timeline (docs/tracing.md).
 *
 * Off, every call returns after testing one flag: no allocation, no system
 * call. On, spans go to a fixed table; only finishing allocates. */
#ifndef VEIL_TRACE_H
#define VEIL_TRACE_H

#include <stdbool.h>
#include <stdint.h>

/* Starts a trace now, its first phase open (whatever a process does first:
 * "config"). Cheap enough to call unconditionally at the top of main, before
 * anyone knows whether tracing is wanted. Forgets an unfinished trace. */
void veil_trace_start(const char *first_phase);
/* Turns recording on for this process and its forks; dir (may be NULL or
 * "") receives a Chrome trace file per finished trace. Strings are copied. */
void veil_trace_enable(const char *dir);
bool veil_trace_enabled(void);

/* Ends the open phase now and opens the next; name is copied. */
void veil_trace_phase(const char *name);
/* Moves on to next only if the open phase is expected: the first of several
 * events that may end a phase (the first byte of output) ends it. */
void veil_trace_phase_after(const char *expected, const char *next);
/* Renames the open phase if it is called from: a phase that turned out to
 * end otherwise than expected (no output came before the exit). */
void veil_trace_rename_phase(const char *from, const char *to);
/* How the trace's subject came about ("pooled", "cloned", "booted",
 * "scrubbed"...), for its record; copied. */
void veil_trace_label(const char *how);

/* A finer span inside the phases, on the host; name is copied.
 * Returns a handle for veil_trace_end, -1 when off or full. */
int veil_trace_begin(const char *name);
void veil_trace_end(int span);

/* A span the guest agent reported, in the guest's CLOCK_BOOTTIME; name is
 * copied, cut short and restricted to [A-Za-z0-9_.:-] (it is the guest's). */
void veil_trace_guest(const char *name, uint64_t start_ns, uint64_t end_ns);
/* One request to the guest: sent and answered at these host CLOCK_MONOTONIC
 * times, received and answered at these guest times. Each narrows where
 * the guest clock lies against the host's. */
void veil_trace_clock_sample(int64_t host_sent_ns, int64_t host_answered_ns, uint64_t guest_received_ns,
			     uint64_t guest_answered_ns);

/* Host CLOCK_MONOTONIC in ns, for clock samples. */
int64_t veil_trace_now_ns(void);

/* Ends the trace: closes the open phase, logs the record (kind "container"
 * or "vm", subject its ID or name) and writes the trace file; a failure to
 * write it is logged. Nothing when off. The trace is then empty until the
 * next start. */
void veil_trace_finish(const char *kind, const char *subject);

#endif
