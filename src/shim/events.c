#include "shim/events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "github.com/containerd/containerd/api/services/ttrpc/events/v1/events.pb-c.h"
#include "lib/cleanup.h"
#include "lib/log.h"

#define EVENTS_SERVICE "containerd.services.events.ttrpc.v1.Events"

int shim_events_init(struct shim_events *e, const char *ttrpc_address, const char *ns, veil_err_t *err)
{
	memset(e, 0, sizeof(*e));
	e->client.fd = -1;
	e->ns = strdup(ns);
	if (e->ns == NULL)
		return veil_fail(err, ENOMEM, "events");
	if (ttrpc_address == NULL || ttrpc_address[0] == '\0')
		return 0;
	if (veil_ttrpc_client_init(&e->client, ttrpc_address, err) < 0)
		return veil_fail_context(err, "TTRPC_ADDRESS");
	e->enabled = true;
	return 0;
}

void shim_events_release(struct shim_events *e)
{
	if (e->enabled)
		veil_ttrpc_client_release(&e->client);
	free(e->ns);
	e->ns = NULL;
	e->enabled = false;
}

void shim_events_publish(struct shim_events *e, const char *topic, const ProtobufCMessage *event)
{
	log_debug("event %s %s", topic, event->descriptor->name);
	if (!e->enabled)
		return;
	size_t len = protobuf_c_message_get_packed_size(event);
	cleanup_free uint8_t *value = malloc(len ? len : 1);
	if (value == NULL)
		return;
	protobuf_c_message_pack(event, value);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	/* The bare message name is what containerd's typeurl registry knows them by. */
	any.type_url = (char *)event->descriptor->name;
	any.value.data = value;
	any.value.len = len;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	Google__Protobuf__Timestamp stamp;
	shim_timestamp_of(&now, &stamp);
	Containerd__Services__Events__Ttrpc__V1__Envelope envelope =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	envelope.timestamp = &stamp;
	envelope.namespace_ = e->ns;
	envelope.topic = (char *)topic;
	envelope.event = &any;
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	req.envelope = &envelope;
	veil_err_t err = NULL;
	/* Once more on a fresh connection: containerd may have restarted since the last one. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (veil_ttrpc_client_call(&e->client, EVENTS_SERVICE, "Forward", &req.base, NULL, NULL,
					   SHIM_EVENTS_TIMEOUT_MS, &err) == 0)
			return;
		if (attempt == 0)
			veil_error_free(&err);
	}
	log_warn("event %s not delivered: %s", topic, err->msg);
	veil_error_free(&err);
}
