/* The virtio-serial port to the host: connection state, frame reading and a
 * non-blocking output queue, so that a slow or absent host never stalls the agent. */
#ifndef VEIL_AGENT_CHANNEL_H
#define VEIL_AGENT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "proto/frame.h"

struct agent_channel_ops {
	void (*on_frame)(const struct veil_frame_header *h, const uint8_t *payload);
	/* The host went away: its stream ids and pending requests mean nothing any more. */
	void (*on_disconnect)(void);
};

/* Finds the port named "veil.agent" (waiting for it up to 10 s) and opens it. */
int agent_channel_open(veil_err_t *err);
int agent_channel_fd(void);
/* poll(2) events to watch the port for; 0 while waiting for a host to connect. */
short agent_channel_events(void);
/* Milliseconds until the channel wants agent_channel_tick(), or -1. */
int agent_channel_timeout_ms(void);
/* SIGIO arrived: the host side may have connected. */
void agent_channel_wake(void);
void agent_channel_tick(void);
/* Handles the port's poll(2) revents (0 when it had none: called on every
 * wakeup), then dispatches whole frames: those still buffered first, then
 * what the port has. Neither happens while the host is too far behind
 * reading the output. A malformed header is fatal. */
void agent_channel_handle(short revents, const struct agent_channel_ops *ops);

/* Queues one frame (dropped when no host is connected) and writes what the port takes. */
void agent_channel_send(uint8_t type, uint8_t flags, uint32_t stream_id, const void *payload, size_t len);
void agent_channel_send_window(uint32_t stream_id, uint32_t credit);
/* Wipes what the frame buffer and the output queue hold besides frames not
 * yet dispatched or sent (Scrub). Frames already dispatched go too, the one
 * being handled included. */
void agent_channel_wipe(void);
/* True while so much output is queued that process output should not be read. */
bool agent_channel_congested(void);
/* Writes the whole queue, waiting up to timeout_ms, for a reply that must leave before a reboot. */
void agent_channel_drain(int timeout_ms);

#endif
