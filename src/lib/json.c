#include "lib/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void offset_to_line_col(const char *text, size_t offset, size_t *line, size_t *col)
{
	*line = 1;
	size_t line_start = 0;
	for (size_t i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			(*line)++;
			line_start = i + 1;
		}
	}
	*col = offset - line_start + 1;
}

int veil_json_parse(const char *text, size_t len, const char *what, json_object **out, veil_err_t *err)
{
	*out = NULL;
	if (len > INT32_MAX)
		return veil_fail(err, 0, "%s: larger than 2 GiB", what);
	struct json_tokener *tok = json_tokener_new();
	if (tok == NULL)
		return veil_fail(err, ENOMEM, "%s", what);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* Out of input: json-c needs an explicit end to finish a bare
		 * top-level number, or to call a truncated document an error. */
		*out = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	const char *why = NULL;
	if (jerr != json_tokener_success)
		why = json_tokener_error_desc(jerr);
	else if (end < len)
		why = "unexpected data after the top-level value"; /* json-c stops at a NUL byte */
	if (why == NULL)
		return 0;
	json_object_put(*out);
	*out = NULL;
	size_t line, col;
	offset_to_line_col(text, end, &line, &col);
	return veil_fail(err, 0, "%s: invalid JSON: %s at line %zu, column %zu", what, why, line, col);
}

static const char *type_name(enum json_type t)
{
	switch (t) {
	case json_type_boolean:
		return "a boolean";
	case json_type_int:
		return "an integer";
	case json_type_string:
		return "a string";
	case json_type_array:
		return "an array";
	case json_type_object:
		return "an object";
	default:
		return "a number";
	}
}

int veil_json_check_members(json_object *o, const char *what, const struct veil_json_member *members, veil_err_t *err)
{
	if (!json_object_is_type(o, json_type_object))
		return veil_fail(err, 0, "%s: expected a JSON object", what);
	json_object_object_foreach(o, key, val) {
		const struct veil_json_member *m = members;
		while (m->name != NULL && strcmp(m->name, key) != 0)
			m++;
		if (m->name == NULL)
			return veil_fail(err, 0, "%s: unexpected member \"%.64s\"", what, key);
		if (!json_object_is_type(val, m->type))
			return veil_fail(err, 0, "%s: \"%s\" must be %s", what, key, type_name(m->type));
	}
	for (const struct veil_json_member *m = members; m->name != NULL; m++)
		if (m->required && !json_object_object_get_ex(o, m->name, NULL))
			return veil_fail(err, 0, "%s: missing \"%s\"", what, m->name);
	return 0;
}

struct out {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *grown = realloc(o->p, cap);
		if (grown == NULL) {
			o->failed = true;
			return;
		}
		o->p = grown;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put_str(struct out *o, const char *s, size_t n)
{
	put(o, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				esc = u;
			}
		}
		if (esc == NULL)
			continue;
		put(o, s + run, i - run);
		put(o, esc, strlen(esc));
		run = i + 1;
	}
	put(o, s + run, n - run);
	put(o, "\"", 1);
}

static int by_key(const void *a, const void *b)
{
	const char *ka = *(const char *const *)a, *kb = *(const char *const *)b;
	return strcmp(ka, kb);
}

static int put_value(struct out *o, json_object *v, unsigned depth, veil_err_t *err)
{
	if (depth > 64)
		return veil_fail(err, 0, "canonical JSON: nested deeper than 64 levels");
	char num[32];
	switch (json_object_get_type(v)) {
	case json_type_null:
		put(o, "null", 4);
		return 0;
	case json_type_boolean:
		put(o, json_object_get_boolean(v) ? "true" : "false", json_object_get_boolean(v) ? 4 : 5);
		return 0;
	case json_type_int:
		if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
			snprintf(num, sizeof(num), "%" PRIu64, json_object_get_uint64(v));
		else
			snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
		put(o, num, strlen(num));
		return 0;
	case json_type_double:
		return veil_fail(err, 0, "canonical JSON: floating-point numbers are not supported");
	case json_type_string:
		put_str(o, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		return 0;
	case json_type_array: {
		put(o, "[", 1);
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				put(o, ",", 1);
			if (put_value(o, json_object_array_get_idx(v, i), depth + 1, err) < 0)
				return -1;
		}
		put(o, "]", 1);
		return 0;
	}
	case json_type_object: {
		size_t n = (size_t)json_object_object_length(v), i = 0;
		const char **keys = calloc(n ? n : 1, sizeof(*keys));
		if (keys == NULL)
			return veil_fail(err, ENOMEM, "canonical JSON");
		json_object_object_foreach(v, key, val) {
			(void)val;
			keys[i++] = key;
		}
		qsort(keys, n, sizeof(*keys), by_key);
		put(o, "{", 1);
		for (i = 0; i < n; i++) {
			if (i > 0)
				put(o, ",", 1);
			put_str(o, keys[i], strlen(keys[i]));
			put(o, ":", 1);
			if (put_value(o, json_object_object_get(v, keys[i]), depth + 1, err) < 0) {
				free(keys);
				return -1;
			}
		}
		free(keys);
		put(o, "}", 1);
		return 0;
	}
	}
	return veil_fail(err, 0, "canonical JSON: unknown value type");
}

char *veil_json_canonical(json_object *v, veil_err_t *err)
{
	struct out o = { 0 };
	if (put_value(&o, v, 0, err) < 0) {
		free(o.p);
		return NULL;
	}
	if (o.failed || o.p == NULL) {
		free(o.p);
		veil_fail(err, ENOMEM, "canonical JSON");
		return NULL;
	}
	return o.p;
}
