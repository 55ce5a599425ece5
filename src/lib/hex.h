/* Hex digits, for the parsers of untrusted text (TOML, MAC addresses). */
#ifndef VEIL_HEX_H
#define VEIL_HEX_H

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

#endif
