/* A growable NULL-terminated argv, for building command lines without a shell. */
#ifndef VEIL_STRV_H
#define VEIL_STRV_H

#include <stddef.h>

struct veil_strv {
	char **items; /* NULL-terminated */
	size_t len;
	size_t cap;
};

void veil_strv_push(struct veil_strv *v, const char *s);
void veil_strv_pushf(struct veil_strv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void veil_strv_free(struct veil_strv *v);

#define cleanup_strv __attribute__((cleanup(veil_strv_free)))

#endif
