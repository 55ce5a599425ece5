/* The guest's end of the TEE port (proto/tee.h): requests to the host's TEE
 * service (emulated reports, the init-data) and the byte stream to the key
 * broker it relays. Everything that arrives is the host's and is checked as
 * such; calls block for at most their timeout. */
#ifndef VEIL_AGENT_TEE_PORT_H
#define VEIL_AGENT_TEE_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "attest/kbs_client.h"
#include "lib/error.h"
#include "proto/tee.h"

/* Opens the port, waiting up to 10 s for it to appear. */
int agent_tee_port_open(veil_err_t *err);

/* Sends req and waits for its answer: 0 with *resp pointing into *payload
 * (malloc'd, to be freed with agent_wipe_free), -1 with *err, which carries
 * the host's message when it answered with an error. */
int agent_tee_port_call(const struct veil_tee_request *req, uint8_t **payload, struct veil_tee_response *resp,
			int timeout_ms, veil_err_t *err);

/* Asks the host to connect the KBS stream, without waiting for its answer:
 * the transport may write at once, and its first read fails with the host's
 * reason if the host could not connect. The transport reads and writes the
 * stream until agent_tee_port_kbs_close. */
int agent_tee_port_kbs_connect(int timeout_ms, veil_err_t *err);
struct veil_kbs_transport agent_tee_port_kbs_transport(void);
void agent_tee_port_kbs_close(void);

#endif
