/* Monotonic milliseconds for the agent's deadlines (reconnect retry, output grace). */
#ifndef VEIL_AGENT_CLOCK_H
#define VEIL_AGENT_CLOCK_H

#include <stdint.h>

#include "lib/clock.h"

static inline int64_t agent_now_ms(void)
{
	return veil_now_ms();
}

/* Milliseconds from now until deadline, for poll(2); never negative. */
static inline int agent_ms_until(int64_t deadline)
{
	int64_t d = deadline - agent_now_ms();
	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

#endif
