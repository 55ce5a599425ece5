/* Scrub (docs/agent-protocol.md): the guest back to the state it had before
 * its first container, so that the VM can serve another tenant. Dispatch runs
 * the steps in order: agent_scrub_processes, then DestroyContainer's teardown
 * of every container, then agent_scrub_guest and agent_scrub_wipe_stack. */
#ifndef VEIL_AGENT_SCRUB_H
#define VEIL_AGENT_SCRUB_H

#include "lib/error.h"
#include "proto/rpc.h"

/* Records the state to return to (the mounts and names the guest booted
 * with); called once, when booting is done. */
int agent_scrub_init(veil_err_t *err);
/* SIGKILLs every process but the agent and reaps them, waiting up to 5 s for
 * the last to be gone; exit statuses reach the containers' records. */
void agent_scrub_processes(void);
/* Once no container is left: removes what outlives processes in the guest's
 * own namespaces, wipes the agent's buffers, drops the caches and counts what
 * is left into resp. */
int agent_scrub_guest(Veil__Agent__V1__ScrubResponse *resp, veil_err_t *err);
/* Wipes the stack below the caller, where earlier requests' frames were. */
void agent_scrub_wipe_stack(void);

#endif
