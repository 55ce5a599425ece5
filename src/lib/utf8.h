/* UTF-8 decoding for the parsers of untrusted text, and making text that
 * was cut at a byte limit valid again for JSON and logs. */
#ifndef VEIL_UTF8_H
#define VEIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at s (n bytes available) and its
 * code point, or 0 for an invalid, overlong, surrogate or truncated one. */
static inline size_t veil_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t min;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		min = 0x80;
		*cp = s[0] & 0x1Fu;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3;
		min = 0x800;
		*cp = s[0] & 0x0Fu;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		min = 0x10000;
		*cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3Fu);
	}
	if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return len;
}

/* Replaces, in place, every byte that does not start a well-formed sequence
 * (a character cut by truncation, or garbage) with '?'. */
static inline void veil_utf8_sanitize(char *s)
{
	size_t n = 0;
	while (s[n] != '\0')
		n++;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = veil_utf8_decode((const uint8_t *)s + i, n - i, &cp);
		if (len == 0) {
			s[i++] = '?';
			continue;
		}
		i += len;
	}
}

#endif
