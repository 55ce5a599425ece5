/* Hello: seeds the guest RNG and clock from the host. */
#ifndef VEIL_AGENT_HELLO_H
#define VEIL_AGENT_HELLO_H

#include "lib/error.h"
#include "proto/rpc.h"

int agent_hello(const Veil__Agent__V1__HelloRequest *req, Veil__Agent__V1__HelloResponse *resp, veil_err_t *err);

#endif
