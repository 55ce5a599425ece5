/* The shim's task events, forwarded to containerd over ttrpc
 * (containerd.services.events.ttrpc.v1.Events/Forward on TTRPC_ADDRESS) in
 * Envelopes whose event's type URL is the message's bare name, as
 * containerd's own shims send them. CRI learns of exits from Wait, so a lost
 * event costs little: one that cannot be sent is logged and dropped. */
#ifndef VEIL_SHIM_EVENTS_H
#define VEIL_SHIM_EVENTS_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <time.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "lib/error.h"
#include "shim/ttrpc.h"

/* How long one event may take to reach containerd. */
#define SHIM_EVENTS_TIMEOUT_MS 5000

struct shim_events {
	bool enabled; /* TTRPC_ADDRESS was given */
	struct veil_ttrpc_client client;
	char *ns;
};

/* ttrpc_address NULL or "": events are dropped (a shim run by hand). */
int shim_events_init(struct shim_events *e, const char *ttrpc_address, const char *ns, veil_err_t *err);
void shim_events_release(struct shim_events *e);
/* topic: "/tasks/exit" and the like; event: a containerd.events message. */
void shim_events_publish(struct shim_events *e, const char *topic, const ProtobufCMessage *event);

/* A CLOCK_REALTIME time as the Timestamp containerd's messages carry. */
static inline void shim_timestamp_of(const struct timespec *ts, Google__Protobuf__Timestamp *out)
{
	google__protobuf__timestamp__init(out);
	out->seconds = ts->tv_sec;
	out->nanos = (int32_t)ts->tv_nsec;
}

#endif
