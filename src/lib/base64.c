#include "lib/base64.h"

#include <errno.h>
#include <stdlib.h>

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *veil_b64_encode(enum veil_b64 kind, const uint8_t *data, size_t len)
{
	const char *alphabet = kind == VEIL_B64_URL ? url_alphabet : std_alphabet;
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = alphabet[v >> 6 & 63];
		if (kind == VEIL_B64_STD) {
			if (i + 1 >= len)
				out[o++] = '=';
			out[o++] = '=';
		}
	}
	out[o] = '\0';
	return out;
}

static int digit(enum veil_b64 kind, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (kind == VEIL_B64_URL ? '-' : '+'))
		return 62;
	if (c == (kind == VEIL_B64_URL ? '_' : '/'))
		return 63;
	return -1;
}

int veil_b64_decode(enum veil_b64 kind, const char *text, size_t len, const char *what, uint8_t **out,
		    size_t *out_len, veil_err_t *err)
{
	const char *name = kind == VEIL_B64_URL ? "base64url" : "base64";
	size_t data_len = len;
	if (kind == VEIL_B64_STD) {
		if (len % 4 != 0)
			return veil_fail(err, 0, "%s: %s length %zu is not a multiple of 4", what, name, len);
		while (data_len > 0 && len - data_len < 2 && text[data_len - 1] == '=')
			data_len--;
	} else if (len % 4 == 1) {
		return veil_fail(err, 0, "%s: %s length %zu is impossible", what, name, len);
	}
	uint8_t *buf = malloc(data_len / 4 * 3 + 3);
	if (buf == NULL)
		return veil_fail(err, ENOMEM, "%s", what);
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < data_len; i++) {
		int d = digit(kind, (unsigned char)text[i]);
		if (d < 0) {
			free(buf);
			return veil_fail(err, 0, "%s: invalid %s character at offset %zu", what, name, i);
		}
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or two encodings would mean one value. */
	if (acc != 0 || (kind == VEIL_B64_STD && data_len % 4 == 1)) {
		free(buf);
		return veil_fail(err, 0, "%s: %s does not end canonically", what, name);
	}
	buf[o] = 0;
	*out = buf;
	*out_len = o;
	return 0;
}
