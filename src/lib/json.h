/* JSON helpers over json-c for documents that come from outside: strict
 * parsing with a position in the message, scope-bound release, and the
 * canonical form (sorted keys, compact) that attestation hashes. */
#ifndef VEIL_JSON_H
#define VEIL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "lib/error.h"

static inline void veil_json_putp(json_object **o)
{
	json_object_put(*o);
}
#define cleanup_json __attribute__((cleanup(veil_json_putp)))

/* Parses exactly one JSON value filling text[0..len) (RFC 8259, valid UTF-8,
 * nothing after it). `what` names the document in errors: "WHAT: invalid
 * JSON: REASON at line L, column C". *out may be NULL: the text was "null". */
int veil_json_parse(const char *text, size_t len, const char *what, json_object **out, veil_err_t *err);

/* One member an object may have, for veil_json_check_members. */
struct veil_json_member {
	const char *name;
	enum json_type type;
	bool required;
};
#define VEIL_JSON_MEMBERS(...) ((const struct veil_json_member[]){ __VA_ARGS__, { NULL, json_type_null, false } })

/* Checks that o is an object whose members are all listed (by name, with
 * their type) and that the required ones are there; the list ends with a
 * NULL name. Messages: "WHAT: unexpected member "x"", "WHAT: "x" must be a
 * string", "WHAT: missing "x"". */
int veil_json_check_members(json_object *o, const char *what, const struct veil_json_member *members, veil_err_t *err);

/* The canonical serialisation that guest-components hashes into REPORT_DATA
 * (serde_json's compact form with object keys sorted by their bytes): no
 * whitespace; strings escape only '"', '\\' and control characters (\b \f \n
 * \r \t, otherwise \u00xx); non-ASCII stays UTF-8. Integers only: a double
 * anywhere fails. Returns a malloc'd NUL-terminated string. */
char *veil_json_canonical(json_object *v, veil_err_t *err);

#endif
