/* Base64 (RFC 4648): the standard alphabet with padding (KBS nonces, Kata's
 * init-data annotation, TDX quotes) and the URL-safe alphabet without padding
 * (JOSE). Decoders are strict: only the alphabet, canonical trailing bits, and
 * padding exactly where the standard form needs it. */
#ifndef VEIL_BASE64_H
#define VEIL_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

enum veil_b64 { VEIL_B64_STD, VEIL_B64_URL };

/* Returns a malloc'd NUL-terminated encoding, NULL only when out of memory. */
char *veil_b64_encode(enum veil_b64 kind, const uint8_t *data, size_t len);

/* Decodes text[0..len) into a malloc'd buffer (NUL-terminated for
 * convenience; *out_len excludes it). Fails naming `what` and the offset of
 * the first bad character. */
int veil_b64_decode(enum veil_b64 kind, const char *text, size_t len, const char *what, uint8_t **out,
		    size_t *out_len, veil_err_t *err);

#endif
