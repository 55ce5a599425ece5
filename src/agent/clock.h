/* Monotonic milliseconds for the agent's deadlines (reconnect retry, output grace). */
#ifndef VEIL_AGENT_CLOCK_H
#define VEIL_AGENT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t agent_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds from now until deadline, for poll(2); never negative. */
static inline int agent_ms_until(int64_t deadline)
{
	int64_t d = deadline - agent_now_ms();
	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

#endif
