/* libFuzzer target for the TOML parser: any input must either parse into a
 * tree that every accessor can walk, or fail with a "LINE:COL: " message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/toml.h"

static void check_message(const char *msg)
{
	unsigned line, col;
	int end = 0;
	if (sscanf(msg, "%u:%u: %n", &line, &col, &end) != 2 || end == 0 || line == 0 || col == 0)
		abort();
}

static void getter_result(int rc, veil_err_t *err)
{
	if ((rc < 0) != (*err != NULL))
		abort();
	if (rc < 0)
		check_message((*err)->msg);
	veil_error_free(err);
}

static void walk_node(const struct toml_node *v);

static void walk_table(const struct toml_table *t)
{
	const struct toml_member *m;
	for (size_t i = 0; (m = toml_member_at(t, i)) != NULL; i++) {
		if (m->line == 0 || m->col == 0 || m->key[m->key_len] != '\0')
			abort();
		char path[128];
		toml_path(t, m->key, m->key_len, path, sizeof(path));
		if (strlen(m->key) == m->key_len && toml_get(t, m->key) != &m->value)
			abort();
		/* Every typed getter, matching the type or not. */
		veil_err_t err = NULL;
		const struct toml_table *sub;
		const char *s;
		int64_t n;
		bool b;
		const char **strs = NULL;
		size_t count;
		getter_result(toml_get_table(t, m->key, &sub, &err), &err);
		getter_result(toml_get_string(t, m->key, &s, &err), &err);
		getter_result(toml_get_int(t, m->key, &n, &err), &err);
		getter_result(toml_get_bool(t, m->key, &b, &err), &err);
		getter_result(toml_get_string_array(t, m->key, &strs, &count, &err), &err);
		free(strs);
		walk_node(&m->value);
	}
}

static void walk_node(const struct toml_node *v)
{
	if (v->line == 0 || v->col == 0)
		abort();
	switch (v->type) {
	case TOML_STRING:
		if (v->str[v->str_len] != '\0' || v->str_len > TOML_MAX_STRING)
			abort();
		break;
	case TOML_ARRAY:
		if (v->n_items > TOML_MAX_ARRAY)
			abort();
		for (size_t i = 0; i < v->n_items; i++)
			walk_node(&v->items[i]);
		break;
	case TOML_TABLE:
		walk_table(v->table);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	veil_err_t err = NULL;
	struct toml_table *t = toml_parse((const char *)data, size, &err);
	if (t == NULL) {
		check_message(err->msg);
		veil_error_free(&err);
		return 0;
	}
	walk_table(t);
	toml_free(t);
	return 0;
}
