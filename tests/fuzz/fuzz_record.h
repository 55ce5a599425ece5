/* Arbitrary bytes as a control-socket record: at most VEIL_CTL_MAX_RECORD,
 * parsed to JSON as lib/control.c parses what it receives. NULL if the bytes
 * are not JSON; else the caller puts the object. */
#ifndef VEIL_FUZZ_RECORD_H
#define VEIL_FUZZ_RECORD_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/control.h"

static inline json_object *fuzz_record(const uint8_t *data, size_t size)
{
	if (size > VEIL_CTL_MAX_RECORD)
		return NULL;
	char *text = malloc(size + 1);
	if (text == NULL)
		return NULL;
	memcpy(text, data, size);
	text[size] = '\0';
	json_object *msg = json_tokener_parse(text);
	free(text);
	return msg;
}

#endif
