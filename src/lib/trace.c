#include "lib/trace.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/log.h"

/* A start has about 15 phases, 20 host spans and 30 of the guest's. */
#define MAX_SPANS 160
#define NAME_LEN 32

enum span_kind { SPAN_PHASE, SPAN_HOST, SPAN_GUEST };

struct span {
	char name[NAME_LEN];
	int64_t start_ns, end_ns; /* host CLOCK_MONOTONIC; a guest span's in the guest's CLOCK_BOOTTIME */
	enum span_kind kind;
};

static struct {
	bool on;
	char dir[PATH_MAX];
	int64_t t0;
	char how[32];
	int open_phase; /* index in spans, -1 for none */
	struct span spans[MAX_SPANS];
	size_t n;
	unsigned dropped;
	/* host = guest + offset, for some offset in [offset_lo, offset_hi]. */
	bool synced;
	int64_t offset_lo, offset_hi;
} trace = { .open_phase = -1 };

int64_t veil_trace_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A new span, or NULL (counted) when the table is full. */
static struct span *add(const char *name, enum span_kind kind, int64_t start_ns)
{
	if (trace.n == MAX_SPANS) {
		trace.dropped++;
		return NULL;
	}
	struct span *s = &trace.spans[trace.n++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->kind = kind;
	s->start_ns = start_ns;
	s->end_ns = -1;
	return s;
}

void veil_trace_start(const char *first_phase)
{
	trace.t0 = veil_trace_now_ns();
	trace.n = 0;
	trace.dropped = 0;
	trace.synced = false;
	snprintf(trace.how, sizeof(trace.how), "%s", "");
	trace.open_phase = add(first_phase, SPAN_PHASE, trace.t0) ? 0 : -1;
}

void veil_trace_enable(const char *dir)
{
	trace.on = true;
	snprintf(trace.dir, sizeof(trace.dir), "%s", dir ? dir : "");
}

bool veil_trace_enabled(void)
{
	return trace.on;
}

void veil_trace_phase(const char *name)
{
	if (!trace.on)
		return;
	int64_t now = veil_trace_now_ns();
	if (trace.open_phase >= 0)
		trace.spans[trace.open_phase].end_ns = now;
	trace.open_phase = add(name, SPAN_PHASE, now) ? (int)trace.n - 1 : -1;
}

void veil_trace_phase_after(const char *expected, const char *next)
{
	if (trace.on && trace.open_phase >= 0 && strcmp(trace.spans[trace.open_phase].name, expected) == 0)
		veil_trace_phase(next);
}

void veil_trace_label(const char *how)
{
	if (trace.on)
		snprintf(trace.how, sizeof(trace.how), "%s", how);
}

void veil_trace_rename_phase(const char *from, const char *to)
{
	if (!trace.on || trace.open_phase < 0)
		return;
	struct span *s = &trace.spans[trace.open_phase];
	if (strcmp(s->name, from) == 0)
		snprintf(s->name, sizeof(s->name), "%s", to);
}

int veil_trace_begin(const char *name)
{
	if (!trace.on)
		return -1;
	return add(name, SPAN_HOST, veil_trace_now_ns()) ? (int)trace.n - 1 : -1;
}

void veil_trace_end(int span)
{
	if (span >= 0 && (size_t)span < trace.n)
		trace.spans[span].end_ns = veil_trace_now_ns();
}

void veil_trace_guest(const char *name, uint64_t start_ns, uint64_t end_ns)
{
	if (!trace.on || end_ns < start_ns || end_ns > INT64_MAX)
		return;
	struct span *s = add(name, SPAN_GUEST, (int64_t)start_ns);
	if (s == NULL)
		return;
	s->end_ns = (int64_t)end_ns;
	for (char *p = s->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '.' || *p == ':' || *p == '-'))
			*p = '_';
}

void veil_trace_clock_sample(int64_t host_sent_ns, int64_t host_answered_ns, uint64_t guest_received_ns,
			     uint64_t guest_answered_ns)
{
	if (!trace.on || guest_received_ns > guest_answered_ns || guest_answered_ns > INT64_MAX)
		return;
	/* The guest received after the host sent, and answered before the host
	 * had the answer. */
	int64_t lo = host_sent_ns - (int64_t)guest_received_ns;
	int64_t hi = host_answered_ns - (int64_t)guest_answered_ns;
	if (!trace.synced || lo > hi) {
		trace.offset_lo = lo;
		trace.offset_hi = hi;
		trace.synced = lo <= hi;
		return;
	}
	/* Narrowed to what every sample allows; samples that contradict the
	 * others (the guest was paused between them) start over. */
	int64_t nlo = lo > trace.offset_lo ? lo : trace.offset_lo;
	int64_t nhi = hi < trace.offset_hi ? hi : trace.offset_hi;
	if (nlo > nhi) {
		nlo = lo;
		nhi = hi;
	}
	trace.offset_lo = nlo;
	trace.offset_hi = nhi;
}

/* ---- output ---- */

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static json_object *ms_value(int64_t ns)
{
	/* One decimal: tenths of a millisecond are what a TCG guest resolves. */
	char text[32];
	snprintf(text, sizeof(text), "%.1f", ms(ns));
	return json_object_new_double_s(ms(ns), text);
}

/* The span on the host's clock: guest spans shifted by the middle of the
 * offsets every sample allows. false when it cannot be placed. */
static bool host_times(const struct span *s, int64_t *start, int64_t *end)
{
	if (s->end_ns < 0)
		return false;
	int64_t shift = 0;
	if (s->kind == SPAN_GUEST) {
		if (!trace.synced)
			return false;
		shift = trace.offset_lo + (trace.offset_hi - trace.offset_lo) / 2;
	}
	*start = s->start_ns + shift;
	*end = s->end_ns + shift;
	return true;
}

static json_object *record(const char *kind, const char *subject, int64_t end)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "id", json_object_new_string(subject));
	json_object_object_add(o, "how", json_object_new_string(trace.how));
	json_object_object_add(o, "total_ms", ms_value(end - trace.t0));
	json_object *phases = json_object_new_object();
	for (size_t i = 0; i < trace.n; i++) {
		const struct span *s = &trace.spans[i];
		int64_t start, stop;
		if (s->kind != SPAN_PHASE || !host_times(s, &start, &stop))
			continue;
		/* A phase entered twice counts once, with both stays. */
		json_object *had;
		int64_t before = json_object_object_get_ex(phases, s->name, &had)
					 ? (int64_t)(json_object_get_double(had) * 1e6)
					 : 0;
		json_object_object_add(phases, s->name, ms_value(before + stop - start));
	}
	json_object_object_add(o, "phases", phases);
	if (trace.dropped > 0)
		json_object_object_add(o, "dropped_spans", json_object_new_int((int)trace.dropped));
	return o;
}

/* Chrome's trace-event format: "X" events in microseconds; pid 1 is the
 * host (its phases on thread 1, finer spans on 2), pid 2 the guest. Each
 * thread's spans must nest: a guest span goes to thread 1 if it starts after
 * the latest span there ends (a new request) or lies within it (a step of
 * that request), else to thread 2 (a process's run, which straddles them). */
static void add_event(json_object *events, const char *name, int pid, int tid, int64_t start, int64_t end)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "ph", json_object_new_string("X"));
	json_object_object_add(e, "ts", json_object_new_int64(start / 1000));
	json_object_object_add(e, "dur", json_object_new_int64((end - start) / 1000));
	json_object_object_add(e, "pid", json_object_new_int(pid));
	json_object_object_add(e, "tid", json_object_new_int(tid));
	json_object_array_add(events, e);
}

static void add_name(json_object *events, const char *what, int pid, int tid, const char *name)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "name", json_object_new_string(what));
	json_object_object_add(e, "ph", json_object_new_string("M"));
	json_object_object_add(e, "pid", json_object_new_int(pid));
	json_object_object_add(e, "tid", json_object_new_int(tid));
	json_object *args = json_object_new_object();
	json_object_object_add(args, "name", json_object_new_string(name));
	json_object_object_add(e, "args", args);
	json_object_array_add(events, e);
}

static json_object *chrome_trace(const char *kind, const char *subject)
{
	json_object *events = json_object_new_array();
	char title[300];
	snprintf(title, sizeof(title), "veil: %s %s (%s)", kind, subject, trace.how);
	add_name(events, "process_name", 1, 0, title);
	add_name(events, "thread_name", 1, 1, "phases");
	add_name(events, "thread_name", 1, 2, "host");
	add_name(events, "process_name", 2, 0, "guest agent");
	add_name(events, "thread_name", 2, 1, "requests");
	add_name(events, "thread_name", 2, 2, "other");
	int64_t request_end = INT64_MIN;
	for (size_t i = 0; i < trace.n; i++) {
		const struct span *s = &trace.spans[i];
		int64_t start, end;
		if (!host_times(s, &start, &end))
			continue;
		if (s->kind != SPAN_GUEST) {
			add_event(events, s->name, 1, s->kind == SPAN_PHASE ? 1 : 2, start, end);
			continue;
		}
		int tid = 1;
		if (start >= request_end)
			request_end = end;
		else if (end > request_end)
			tid = 2;
		add_event(events, s->name, 2, tid, start, end);
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "traceEvents", events);
	json_object_object_add(o, "displayTimeUnit", json_object_new_string("ms"));
	return o;
}

static void write_file(const char *kind, const char *subject)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s-%s-%lld.json", trace.dir, kind, subject, (long long)trace.t0) >=
	    (int)sizeof(path)) {
		log_warn("trace: the file name under %s is too long", trace.dir);
		return;
	}
	json_object *o = chrome_trace(kind, subject);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	veil_err_t err = NULL;
	if (veil_write_file_atomic(path, text, strlen(text), &err) < 0) {
		log_warn("trace: %s", err->msg);
		veil_error_free(&err);
	}
	json_object_put(o);
}

void veil_trace_finish(const char *kind, const char *subject)
{
	if (!trace.on)
		return;
	int64_t end = veil_trace_now_ns();
	if (trace.open_phase >= 0)
		trace.spans[trace.open_phase].end_ns = end;
	trace.open_phase = -1;
	json_object *o = record(kind, subject, end);
	log_info("trace %s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (trace.dir[0] != '\0')
		write_file(kind, subject);
	trace.n = 0;
}
