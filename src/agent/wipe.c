#include "agent/wipe.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void agent_wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void *agent_wipe_realloc(void *p, size_t used, size_t size)
{
	uint8_t *q = malloc(size);
	if (q == NULL)
		return NULL;
	if (used > 0)
		memcpy(q, p, used);
	agent_wipe_free(p);
	return q;
}

static void *alloc_block(void *unused, size_t size)
{
	(void)unused;
	return malloc(size);
}

static void free_block(void *unused, void *p)
{
	(void)unused;
	agent_wipe_free(p);
}

ProtobufCAllocator agent_wipe_allocator = { .alloc = alloc_block, .free = free_block };

void agent_wipe_error(veil_err_t *err)
{
	if (*err != NULL)
		explicit_bzero((*err)->msg, sizeof((*err)->msg));
	veil_error_free(err);
}
