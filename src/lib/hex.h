/* Hex digits: decoding for the parsers of untrusted text (TOML, MAC
 * addresses), lower-case encoding for digests and random IDs. */
#ifndef VEIL_HEX_H
#define VEIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of hex digit c, or -1 (also for EOF and non-ASCII). */
static inline int veil_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the 2 * n hex digits at s into n bytes; -1 if one is not a
 * digit (out then holds a part). */
static inline int veil_hex_decode(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = veil_hex_value((unsigned char)s[2 * i]), lo = veil_hex_value((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Writes 2 * n digits and a NUL to out. */
static inline void veil_hex_encode(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * n] = '\0';
}

#endif
