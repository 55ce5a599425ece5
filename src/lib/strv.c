#include "lib/strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void push_owned(struct veil_strv *v, char *s)
{
	if (s == NULL)
		abort();
	if (v->len + 2 > v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		char **grown = realloc(v->items, cap * sizeof(*grown));
		if (grown == NULL)
			abort();
		v->items = grown;
		v->cap = cap;
	}
	v->items[v->len++] = s;
	v->items[v->len] = NULL;
}

void veil_strv_push(struct veil_strv *v, const char *s)
{
	push_owned(v, strdup(s));
}

void veil_strv_pushf(struct veil_strv *v, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	push_owned(v, n < 0 ? NULL : s);
}

void veil_strv_free(struct veil_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->len = v->cap = 0;
}
