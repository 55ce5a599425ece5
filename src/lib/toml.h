/* A strict parser for the part of TOML 1.0 that configuration files and
 * CoCo's init-data need: tables, dotted and quoted keys, basic and literal
 * strings (single- and multi-line), integers, booleans and arrays; a leading
 * UTF-8 byte order mark is skipped. Everything else (floats, dates, inline
 * tables, arrays of tables) is rejected as "unsupported: ..." rather than
 * misread. Multi-line strings keep their newlines as written (LF or CRLF).
 * Errors read "LINE:COL: what is wrong" (1-based, columns count characters).
 * Every dimension of the input is bounded by the limits below. */
#ifndef VEIL_TOML_H
#define VEIL_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

#define TOML_MAX_INPUT (1u << 20)   /* bytes of the whole document */
#define TOML_MAX_DEPTH 16u          /* key segments plus array nesting */
#define TOML_MAX_STRING (64u << 10) /* bytes of one decoded string or key */
#define TOML_MAX_ARRAY 4096u        /* items in one array */

enum toml_type { TOML_STRING, TOML_INT, TOML_BOOL, TOML_ARRAY, TOML_TABLE };

struct toml_table;

struct toml_node {
	enum toml_type type;
	uint32_t line, col; /* where the value starts; for a table, where its name first appeared */
	union {
		struct {
			char *str;      /* NUL-terminated */
			size_t str_len; /* differs from strlen(str) if the string holds U+0000 */
		};
		int64_t i;
		bool b;
		struct {
			struct toml_node *items;
			size_t n_items;
		};
		struct toml_table *table;
	};
};

/* One key of a table, in document order. */
struct toml_member {
	char *key; /* NUL-terminated, may hold U+0000: compare with key_len */
	size_t key_len;
	uint32_t line, col; /* of the key */
	struct toml_node value;
};

/* Returns the root table, or NULL with *err set. */
struct toml_table *toml_parse(const char *text, size_t len, veil_err_t *err);
void toml_free(struct toml_table *t);

/* The i-th member in document order, NULL when i is past the end. */
const struct toml_member *toml_member_at(const struct toml_table *t, size_t i);
/* The value stored under `key` (no dots: one segment), or NULL. */
const struct toml_node *toml_get(const struct toml_table *t, const char *key);

/* Typed lookups: 1 and *out set when present with the right type, 0 when
 * absent, -1 with "LINE:COL: a.b.key: expected X, found Y" otherwise.
 * Strings holding U+0000 are rejected, since C callers would see them cut. */
int toml_get_table(const struct toml_table *t, const char *key, const struct toml_table **out, veil_err_t *err);
int toml_get_string(const struct toml_table *t, const char *key, const char **out, veil_err_t *err);
int toml_get_int(const struct toml_table *t, const char *key, int64_t *out, veil_err_t *err);
int toml_get_bool(const struct toml_table *t, const char *key, bool *out, veil_err_t *err);
/* *out is a malloc'd NULL-terminated vector pointing into the tree: free() it,
 * not its strings. */
int toml_get_string_array(const struct toml_table *t, const char *key, const char ***out, size_t *n, veil_err_t *err);

/* Fails with "LINE:COL: ...", for callers that validate a parsed tree. */
int toml_fail_at(veil_err_t *err, uint32_t line, uint32_t col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes the dotted path of `key` in `t` (of t itself if key is NULL) for
 * messages, e.g. `a."b c".key`:
 * keys that are not bare are quoted and escaped; long output is cut at size. */
void toml_path(const struct toml_table *t, const char *key, size_t key_len, char *buf, size_t size);

#endif
