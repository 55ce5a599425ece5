/* The guest's network interface, configured as the host describes it. */
#ifndef VEIL_AGENT_NETWORK_H
#define VEIL_AGENT_NETWORK_H

#include "lib/error.h"
#include "proto/rpc.h"

/* Waits (bounded) for the NIC with req->mac, then names it, sets its MTU,
 * addresses and the default route, and brings it and lo up. The request must
 * have passed agent_validate_request. Returns 0, or -1 with *code and *err. */
int agent_configure_interface(const Veil__Agent__V1__ConfigureInterfaceRequest *req, int *code, veil_err_t *err);

/* Brings lo up in this process's network namespace, as runc's loopback
 * strategy does in a container's new one: programs expect 127.0.0.1. */
int agent_loopback_up(veil_err_t *err);

#endif
