#include "agent/trace.h"

#include <time.h>

/* A request's steps: a CreateContainer has five or so. */
#define MAX_SPANS 16

static bool on;
static Veil__Agent__V1__Span spans[MAX_SPANS + 1];
static Veil__Agent__V1__Span *ptrs[MAX_SPANS + 1];
static size_t n_steps;

void agent_trace_set(bool enable)
{
	on = enable;
	n_steps = 0;
}

uint64_t agent_trace_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set(Veil__Agent__V1__Span *s, const char *name, uint64_t start, uint64_t end)
{
	veil__agent__v1__span__init(s);
	s->name = (char *)name;
	s->start_ns = start;
	s->end_ns = end;
}

int agent_trace_begin(const char *name)
{
	if (!on || n_steps == MAX_SPANS)
		return -1;
	uint64_t now = agent_trace_now();
	set(&spans[1 + n_steps], name, now, now);
	return (int)n_steps++;
}

void agent_trace_end(int span)
{
	if (span >= 0 && (size_t)span < n_steps)
		spans[1 + span].end_ns = agent_trace_now();
}

size_t agent_trace_collect(const char *request, uint64_t received_ns, Veil__Agent__V1__Span ***out)
{
	*out = NULL;
	if (!on)
		return 0;
	set(&spans[0], request, received_ns, agent_trace_now());
	size_t n = 1 + n_steps;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &spans[i];
	n_steps = 0;
	*out = ptrs;
	return n;
}
