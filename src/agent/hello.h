/* Hello: mixes the host's entropy into the guest RNG and sets the clock, as
 * far as the guest may trust the host with time (docs/agent-protocol.md). */
#ifndef VEIL_AGENT_HELLO_H
#define VEIL_AGENT_HELLO_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"
#include "proto/rpc.h"

/* How far a Hello may move a clock that was set before: either way without
 * resumed, backwards with it. */
#define AGENT_CLOCK_SLEW_NS 1000000000LL

/* Whether the host's time may replace the guest's: always while the guest
 * clock was never set; afterwards within AGENT_CLOCK_SLEW_NS, or forward by
 * any amount for a VM that was resumed (it stood still while paused). Never
 * back further than the slew, so that a host cannot revive an expired
 * certificate or token by turning time back. 0, or -1 with *err. */
int agent_clock_step_allowed(bool clock_set, bool resumed, int64_t guest_ns, int64_t host_ns, veil_err_t *err);

/* Returns 0 with resp filled, or -1 with the gRPC *code and *err. */
int agent_hello(const Veil__Agent__V1__HelloRequest *req, Veil__Agent__V1__HelloResponse *resp, int *code,
		veil_err_t *err);

#endif
