/* Frames from the host: requests to their handlers, stdin data to processes;
 * and WaitProcess responses held back until their process is done. */
#ifndef VEIL_AGENT_DISPATCH_H
#define VEIL_AGENT_DISPATCH_H

#include <stdint.h>

#include "proto/frame.h"

void agent_dispatch_frame(const struct veil_frame_header *h, const uint8_t *payload);
/* The host is gone: forget its pending waits and stream ids. */
void agent_dispatch_disconnect(void);
/* The container's memory.events changed: an OOM kill is queued for the host's GetOOMEvent. */
struct agent_container;
void agent_dispatch_memory_events(struct agent_container *c);
/* Answers the pending waits whose process is now done. */
void agent_dispatch_answer_waits(void);

#endif
