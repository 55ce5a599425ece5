/* Freeing memory that held a tenant's bytes. A VM reset by Scrub serves
 * another tenant, who runs as root in the guest and can read the agent's
 * memory; freed heap blocks keep their contents. So everything the agent
 * allocates for requests, containers, processes and their I/O is wiped
 * before it goes back to the allocator. */
#ifndef VEIL_AGENT_WIPE_H
#define VEIL_AGENT_WIPE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "lib/error.h"

/* free(3) after wiping the whole block (as malloc_usable_size(3) reports it),
 * so any malloc'd block can be passed, whatever size was asked for. */
void agent_wipe_free(void *p);
/* realloc(3) that wipes the block it moves away from; the first used bytes
 * are copied. NULL (and p untouched) when out of memory. */
void *agent_wipe_realloc(void *p, size_t used, size_t size);
/* For unpacking requests: malloc, and agent_wipe_free. Its blocks are plain
 * malloc blocks, so protobuf-c's default allocator can free them too. */
extern ProtobufCAllocator agent_wipe_allocator;
/* veil_error_free for errors whose message may quote a request. */
void agent_wipe_error(veil_err_t *err);

static inline void agent_wipe_freep(void *p)
{
	agent_wipe_free(*(void **)p);
}

#define cleanup_wipe __attribute__((cleanup(agent_wipe_freep)))

#endif
