/* Monotonic milliseconds, for deadlines and durations on host and guest alike. */
#ifndef VEIL_CLOCK_H
#define VEIL_CLOCK_H

#include <time.h>

static inline long long veil_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic microseconds, for timing steps shorter than a millisecond. */
static inline long long veil_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
