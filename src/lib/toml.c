#include "lib/toml.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hex.h"
#include "lib/utf8.h"

/* How a table came to exist decides who may still define or extend it. */
enum table_origin {
	ORIGIN_IMPLICIT, /* named on the way to a deeper [header]; one [header] may still define it */
	ORIGIN_HEADER,   /* defined by its own [header] (or the root) */
	ORIGIN_DOTTED,   /* made by dotted keys: only further dotted keys may extend it */
};

struct toml_table {
	struct toml_member *members;
	size_t n, cap;
	/* Open-addressing index over members (member number + 1, 0 = free), so
	 * that documents with many keys do not make duplicate checks quadratic. */
	uint32_t *slots;
	size_t n_slots;
	const struct toml_table *parent;
	const char *name; /* key in the parent; owned by the parent's member */
	size_t name_len;
	enum table_origin origin;
};

struct pos {
	uint32_t line, col;
};

/* A key segment; s is malloc'd until a member takes it. */
struct seg {
	char *s;
	size_t len;
	struct pos at;
};

struct key {
	struct seg seg[TOML_MAX_DEPTH];
	unsigned n;
};

struct parser {
	const char *s;
	size_t len, off;
	struct pos at; /* of s[off] */
	struct toml_table *root, *section;
	unsigned section_depth;
	veil_err_t *err;
};

struct buf {
	char *p;
	size_t len, cap;
};

int toml_fail_at(veil_err_t *err, uint32_t line, uint32_t col, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return veil_fail(err, 0, "%" PRIu32 ":%" PRIu32 ": %s", line, col, msg);
}

#define fail_at(err, at, ...) toml_fail_at((err), (at).line, (at).col, __VA_ARGS__)

static int fail_oom(struct parser *p)
{
	return fail_at(p->err, p->at, "out of memory");
}

/* ---- UTF-8 ---- */

static size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* ---- cursor ---- */

static int peek_at(const struct parser *p, size_t ahead)
{
	return p->len - p->off > ahead ? (uint8_t)p->s[p->off + ahead] : -1;
}

static int peek(const struct parser *p)
{
	return peek_at(p, 0);
}

static void advance(struct parser *p)
{
	uint8_t c = (uint8_t)p->s[p->off++];
	if (c == '\n') {
		p->at.line++;
		p->at.col = 1;
	} else if ((c & 0xC0) != 0x80) {
		/* Continuation bytes share the column of their lead byte. */
		p->at.col++;
	}
}

static void advance_n(struct parser *p, size_t n)
{
	while (n-- > 0)
		advance(p);
}

/* Checks the whole document up front so the rest of the parser can walk
 * characters without re-validating them. */
static int check_utf8(struct parser *p)
{
	while (p->off < p->len) {
		uint32_t cp;
		size_t n = veil_utf8_decode((const uint8_t *)p->s + p->off, p->len - p->off, &cp);
		if (n == 0)
			return fail_at(p->err, p->at, "invalid UTF-8");
		advance_n(p, n);
	}
	p->off = 0;
	p->at = (struct pos){ 1, 1 };
	return 0;
}

static bool at_newline(const struct parser *p)
{
	return peek(p) == '\n' || (peek(p) == '\r' && peek_at(p, 1) == '\n');
}

/* Names the character under the cursor for messages. */
static const char *describe(const struct parser *p, char buf[16])
{
	int c = peek(p);
	if (c < 0)
		return "end of input";
	if (at_newline(p))
		return "end of line";
	if (c >= 0x20 && c < 0x7F) {
		snprintf(buf, 16, "'%c'", c);
		return buf;
	}
	uint32_t cp = 0;
	veil_utf8_decode((const uint8_t *)p->s + p->off, p->len - p->off, &cp);
	snprintf(buf, 16, "U+%04" PRIX32, cp);
	return buf;
}

static int fail_unexpected(struct parser *p, const char *expected)
{
	char buf[16];
	return fail_at(p->err, p->at, "expected %s, found %s", expected, describe(p, buf));
}

static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7F;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

/* Characters that can make up an unquoted value: booleans, integers, and
 * the floats and dates that are rejected as unsupported. */
static bool is_token_char(int c)
{
	return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

static void skip_ws(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
		advance(p);
}

static void skip_newline(struct parser *p)
{
	if (peek(p) == '\r')
		advance(p);
	advance(p);
}

/* At '#': consumes the comment up to the end of line. */
static int skip_comment(struct parser *p)
{
	advance(p);
	while (peek(p) >= 0 && !at_newline(p)) {
		if (is_control(peek(p))) {
			char buf[16];
			return fail_at(p->err, p->at, "control character %s in comment", describe(p, buf));
		}
		advance(p);
	}
	return 0;
}

/* Ends a line: optional whitespace and comment, then a newline or the end. */
static int expect_eol(struct parser *p)
{
	skip_ws(p);
	if (peek(p) == '#' && skip_comment(p) < 0)
		return -1;
	if (peek(p) < 0)
		return 0;
	if (!at_newline(p))
		return fail_unexpected(p, "end of line");
	skip_newline(p);
	return 0;
}

/* Whitespace, newlines and comments, as allowed between array items. */
static int skip_blank(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (at_newline(p))
			skip_newline(p);
		else if (peek(p) != '#')
			return 0;
		else if (skip_comment(p) < 0)
			return -1;
	}
}

/* ---- strings ---- */

static int buf_put(struct buf *b, const char *src, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->p, cap);
		if (grown == NULL)
			return -1;
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* At a backslash in a basic string: decodes one escape into out. */
static int parse_escape(struct parser *p, char out[4], size_t *n)
{
	static const char names[] = "btnfr\"\\";
	static const char values[] = "\b\t\n\f\r\"\\";
	struct pos at = p->at;
	advance(p);
	int c = peek(p);
	const char *hit = c > 0 ? memchr(names, c, sizeof(names) - 1) : NULL;
	if (hit != NULL) {
		out[0] = values[hit - names];
		*n = 1;
		advance(p);
		return 0;
	}
	if (c != 'u' && c != 'U') {
		char buf[16];
		return fail_at(p->err, at, "invalid escape: backslash followed by %s", describe(p, buf));
	}
	int digits = c == 'u' ? 4 : 8;
	uint32_t cp = 0;
	advance(p);
	for (int i = 0; i < digits; i++) {
		int h = veil_hex_value(peek(p));
		if (h < 0)
			return fail_at(p->err, at, "\\%c needs %d hexadecimal digits", c, digits);
		cp = cp << 4 | (uint32_t)h;
		advance(p);
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return fail_at(p->err, at, "\\%c%0*" PRIX32 " is not a Unicode scalar value", c, digits, cp);
	*n = utf8_encode(cp, out);
	return 0;
}

static int put_char(struct parser *p, struct buf *out, struct pos start, const char *enc, size_t n)
{
	if (out->len + n > TOML_MAX_STRING)
		return fail_at(p->err, start, "string longer than %u bytes", TOML_MAX_STRING);
	if (buf_put(out, enc, n) < 0)
		return fail_oom(p);
	return 0;
}

/* Copies the (already validated) UTF-8 character under the cursor. */
static int take_char(struct parser *p, struct buf *out, struct pos start)
{
	uint32_t cp;
	size_t n = veil_utf8_decode((const uint8_t *)p->s + p->off, p->len - p->off, &cp);
	if (put_char(p, out, start, p->s + p->off, n) < 0)
		return -1;
	advance_n(p, n);
	return 0;
}

/* One character of a string's content (not its closing quote or a newline):
 * an escape in a basic string, else the character itself; controls refused. */
static int take_content(struct parser *p, struct buf *out, struct pos start, int quote)
{
	int c = peek(p);
	if (c == '\\' && quote == '"') {
		char enc[4];
		size_t n = 0;
		return parse_escape(p, enc, &n) < 0 || put_char(p, out, start, enc, n) < 0 ? -1 : 0;
	}
	if (is_control(c)) {
		char buf[16];
		return fail_at(p->err, p->at, "control character %s in string", describe(p, buf));
	}
	return take_char(p, out, start);
}

/* At a backslash in a multi-line basic string: if only whitespace follows it
 * on its line, the backslash, that whitespace, the newline and every blank
 * and newline after it vanish (true). Otherwise nothing is consumed (false). */
static bool skip_line_ending_backslash(struct parser *p)
{
	size_t n = 1;
	while (peek_at(p, n) == ' ' || peek_at(p, n) == '\t')
		n++;
	if (peek_at(p, n) != '\n' && !(peek_at(p, n) == '\r' && peek_at(p, n + 1) == '\n'))
		return false;
	advance_n(p, n);
	for (;;) {
		skip_ws(p);
		if (!at_newline(p))
			return true;
		skip_newline(p);
	}
}

/* At an opening triple quote: the body of a multi-line string. A newline
 * right after the opening delimiter is not part of it; newlines are kept as
 * written (LF or CRLF); up to two quotes may stand next to the closing ones. */
static int parse_multiline_string(struct parser *p, struct buf *out)
{
	struct pos start = p->at;
	int quote = peek(p);
	advance_n(p, 3);
	if (at_newline(p))
		skip_newline(p);
	for (;;) {
		int c = peek(p);
		if (c < 0)
			return fail_at(p->err, start, "unterminated multi-line string");
		if (c == quote && peek_at(p, 1) == quote && peek_at(p, 2) == quote) {
			size_t run = 3;
			while (peek_at(p, run) == quote)
				run++;
			if (run > 5)
				return fail_at(p->err, p->at, "%zu quotes in a row: a multi-line string holds at most 2 before its closing 3",
					       run);
			for (size_t i = 3; i < run; i++)
				if (take_char(p, out, start) < 0)
					return -1;
			advance_n(p, 3);
			return 0;
		}
		if (at_newline(p)) {
			size_t n = c == '\r' ? 2 : 1;
			if (put_char(p, out, start, p->s + p->off, n) < 0)
				return -1;
			advance_n(p, n);
		} else if (!(c == '\\' && quote == '"' && skip_line_ending_backslash(p)) &&
			   take_content(p, out, start, quote) < 0) {
			return -1;
		}
	}
}

/* At '"' or '\'': a basic or literal string, single-line or (where
 * multi_line_ok) multi-line, decoded into a NUL-terminated buffer (*out
 * starts empty; freed by the caller). */
static int parse_string(struct parser *p, struct buf *out, bool multi_line_ok)
{
	struct pos start = p->at;
	int quote = peek(p);
	if (buf_put(out, "", 0) < 0)
		return fail_oom(p);
	if (peek_at(p, 1) == quote && peek_at(p, 2) == quote) {
		if (!multi_line_ok)
			return fail_at(p->err, start, "a key cannot be a multi-line string");
		return parse_multiline_string(p, out);
	}
	advance(p);
	for (;;) {
		int c = peek(p);
		if (c < 0 || at_newline(p))
			return fail_at(p->err, start, "unterminated string");
		if (c == quote) {
			advance(p);
			return 0;
		}
		if (take_content(p, out, start, quote) < 0)
			return -1;
	}
}

/* ---- key paths for messages ---- */

__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	if (*len + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

static void put_key(char *buf, size_t size, size_t *len, const char *key, size_t key_len)
{
	/* Only what fits is shown, so only that decides the quoting: a long key
	 * must not make every message cost its full length. */
	size_t visible = key_len < size ? key_len : size;
	bool bare = key_len > 0;
	for (size_t i = 0; i < visible && bare; i++)
		bare = is_bare_key_char((uint8_t)key[i]);
	if (bare) {
		put(buf, size, len, "%.*s", (int)visible, key);
		return;
	}
	put(buf, size, len, "\"");
	for (size_t i = 0; i < key_len && *len + 1 < size; i++) {
		uint8_t c = (uint8_t)key[i];
		if (c == '"' || c == '\\')
			put(buf, size, len, "\\%c", c);
		else if (is_control(c))
			put(buf, size, len, "\\u%04X", c);
		else
			put(buf, size, len, "%c", c);
	}
	put(buf, size, len, "\"");
}

void toml_path(const struct toml_table *t, const char *key, size_t key_len, char *buf, size_t size)
{
	const struct toml_table *chain[TOML_MAX_DEPTH];
	size_t depth = 0, len = 0;
	for (; t != NULL && t->parent != NULL && depth < TOML_MAX_DEPTH; t = t->parent)
		chain[depth++] = t;
	buf[0] = '\0';
	while (depth > 0) {
		t = chain[--depth];
		put_key(buf, size, &len, t->name, t->name_len);
		if (depth > 0 || key != NULL)
			put(buf, size, &len, ".");
	}
	if (key != NULL)
		put_key(buf, size, &len, key, key_len);
}

/* ---- tables ---- */

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 0x100000001b3u;
	return h;
}

static struct toml_member *find(const struct toml_table *t, const char *key, size_t len)
{
	if (t->n_slots == 0)
		return NULL;
	size_t mask = t->n_slots - 1;
	for (size_t s = hash_key(key, len) & mask; t->slots[s] != 0; s = (s + 1) & mask) {
		struct toml_member *m = &t->members[t->slots[s] - 1];
		if (m->key_len == len && memcmp(m->key, key, len) == 0)
			return m;
	}
	return NULL;
}

static void index_member(struct toml_table *t, size_t i)
{
	size_t mask = t->n_slots - 1;
	size_t s = hash_key(t->members[i].key, t->members[i].key_len) & mask;
	while (t->slots[s] != 0)
		s = (s + 1) & mask;
	t->slots[s] = (uint32_t)(i + 1);
}

static int reserve_member(struct toml_table *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		struct toml_member *grown = realloc(t->members, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		t->members = grown;
		t->cap = cap;
	}
	/* Keep the index at most half full so probe runs stay short. */
	if (2 * (t->n + 1) > t->n_slots) {
		size_t n_slots = t->n_slots ? 2 * t->n_slots : 16;
		uint32_t *slots = calloc(n_slots, sizeof(*slots));
		if (slots == NULL)
			return -1;
		free(t->slots);
		t->slots = slots;
		t->n_slots = n_slots;
		for (size_t i = 0; i < t->n; i++)
			index_member(t, i);
	}
	return 0;
}

/* Appends seg = *v to t, taking seg's string. */
static int add_member(struct parser *p, struct toml_table *t, struct seg *seg, const struct toml_node *v)
{
	if (reserve_member(t) < 0)
		return fail_oom(p);
	t->members[t->n] = (struct toml_member){
		.key = seg->s, .key_len = seg->len, .line = seg->at.line, .col = seg->at.col, .value = *v
	};
	seg->s = NULL;
	index_member(t, t->n++);
	return 0;
}

static struct toml_table *add_table(struct parser *p, struct toml_table *parent, struct seg *seg, enum table_origin origin)
{
	struct toml_table *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		fail_oom(p);
		return NULL;
	}
	t->parent = parent;
	t->name = seg->s;
	t->name_len = seg->len;
	t->origin = origin;
	struct toml_node v = { .type = TOML_TABLE, .line = seg->at.line, .col = seg->at.col, .table = t };
	if (add_member(p, parent, seg, &v) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

static void node_release(struct toml_node *v)
{
	switch (v->type) {
	case TOML_STRING:
		free(v->str);
		break;
	case TOML_ARRAY:
		for (size_t i = 0; i < v->n_items; i++)
			node_release(&v->items[i]);
		free(v->items);
		break;
	case TOML_TABLE:
		toml_free(v->table);
		break;
	default:
		break;
	}
}

void toml_free(struct toml_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->members[i].key);
		node_release(&t->members[i].value);
	}
	free(t->members);
	free(t->slots);
	free(t);
}

/* ---- keys ---- */

static void key_release(struct key *k)
{
	for (unsigned i = 0; i < k->n; i++)
		free(k->seg[i].s);
}

/* A dotted key whose value sits `depth` levels deep before its first segment. */
static int parse_key(struct parser *p, unsigned depth, struct key *k)
{
	for (;;) {
		struct pos at = p->at;
		if (depth + k->n >= TOML_MAX_DEPTH)
			return fail_at(p->err, at, "nesting deeper than %u levels", TOML_MAX_DEPTH);
		struct buf b = { 0 };
		int c = peek(p);
		if (c == '"' || c == '\'') {
			if (parse_string(p, &b, false) < 0) {
				free(b.p);
				return -1;
			}
		} else if (is_bare_key_char(c)) {
			size_t n = 0;
			while (is_bare_key_char(peek_at(p, n)))
				n++;
			if (n > TOML_MAX_STRING)
				return fail_at(p->err, at, "key longer than %u bytes", TOML_MAX_STRING);
			if (buf_put(&b, p->s + p->off, n) < 0)
				return fail_oom(p);
			advance_n(p, n);
		} else {
			return fail_unexpected(p, "a key");
		}
		k->seg[k->n++] = (struct seg){ .s = b.p, .len = b.len, .at = at };
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		advance(p);
		skip_ws(p);
	}
}

/* ---- values ---- */

static bool token_is(const char *tok, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(tok, word, n) == 0;
}

/* TOML dates start with YYYY- and times with HH:. */
static bool looks_like_date(const char *tok, size_t n)
{
	size_t digits = 0;
	while (digits < n && is_digit(tok[digits]))
		digits++;
	return digits < n && ((digits == 4 && tok[digits] == '-') || (digits == 2 && tok[digits] == ':'));
}

static int digit_value(int c, unsigned base)
{
	int d = veil_hex_value(c);
	return d >= 0 && (unsigned)d < base ? d : -1;
}

/* tok[0..n) is a run of token characters that is neither a boolean nor a
 * float or date spelling; it must be an integer. */
static int parse_integer(struct parser *p, const char *tok, size_t n, int64_t *out)
{
	struct pos at = p->at;
	size_t i = 0;
	bool negative = tok[0] == '-';
	if (tok[0] == '+' || tok[0] == '-')
		i = 1;
	unsigned base = 10;
	const char *base_name = "decimal";
	if (n - i >= 2 && tok[i] == '0' && (tok[i + 1] == 'x' || tok[i + 1] == 'o' || tok[i + 1] == 'b')) {
		if (i > 0)
			return fail_at(p->err, at, "a sign is not allowed on 0%c integers", tok[i + 1]);
		base = tok[1] == 'x' ? 16 : tok[1] == 'o' ? 8 : 2;
		base_name = tok[1] == 'x' ? "hexadecimal" : tok[1] == 'o' ? "octal" : "binary";
		i = 2;
		if (i == n)
			return fail_at(p->err, at, "missing digits after 0%c", tok[1]);
	} else if (i == n || !is_digit(tok[i])) {
		return fail_at(p->err, at, "expected a value, found '%.*s'", n > 32 ? 32 : (int)n, tok);
	} else if (memchr(tok, '.', n) || memchr(tok, 'e', n) || memchr(tok, 'E', n)) {
		return fail_at(p->err, at, "unsupported: floating-point numbers");
	} else if (tok[i] == '0' && i + 1 < n && (is_digit(tok[i + 1]) || tok[i + 1] == '_')) {
		return fail_at(p->err, at, "leading zeros are not allowed in decimal integers");
	}
	const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	const size_t first = i;
	uint64_t magnitude = 0;
	for (; i < n; i++) {
		struct pos ci = { at.line, at.col + (uint32_t)i };
		if (tok[i] == '_') {
			if (i == first || i + 1 == n || digit_value(tok[i + 1], base) < 0)
				return fail_at(p->err, ci, "'_' must stand between two digits");
			continue;
		}
		int d = digit_value(tok[i], base);
		if (d < 0)
			return fail_at(p->err, ci, "invalid character '%c' in %s integer", tok[i], base_name);
		if (magnitude > (limit - (uint64_t)d) / base)
			return fail_at(p->err, at, "integer '%.*s' does not fit in 64 bits", n > 80 ? 80 : (int)n, tok);
		magnitude = magnitude * base + (uint64_t)d;
	}
	/* Written so that INT64_MIN never passes through a signed overflow. */
	*out = negative && magnitude > 0 ? -(int64_t)(magnitude - 1) - 1 : (int64_t)magnitude;
	return 0;
}

/* A boolean or integer (floats and dates are recognised only to be refused). */
static int parse_scalar(struct parser *p, struct toml_node *v)
{
	const char *tok = p->s + p->off;
	size_t n = 0;
	while (is_token_char(peek_at(p, n)))
		n++;
	const char *unsigned_tok = tok + (tok[0] == '+' || tok[0] == '-');
	size_t unsigned_n = n - (size_t)(unsigned_tok - tok);
	if (token_is(tok, n, "true") || token_is(tok, n, "false")) {
		v->type = TOML_BOOL;
		v->b = n == 4;
	} else if (token_is(unsigned_tok, unsigned_n, "inf") || token_is(unsigned_tok, unsigned_n, "nan")) {
		return fail_at(p->err, p->at, "unsupported: floating-point numbers");
	} else if (looks_like_date(tok, n)) {
		return fail_at(p->err, p->at, "unsupported: dates and times");
	} else if (parse_integer(p, tok, n, &v->i) < 0) {
		return -1;
	} else {
		v->type = TOML_INT;
	}
	advance_n(p, n);
	return 0;
}

static int parse_value(struct parser *p, unsigned depth, struct toml_node *v);

/* At '[': items of an array that is itself `depth` levels deep. */
static int parse_array(struct parser *p, unsigned depth, struct toml_node *v)
{
	struct pos open = p->at;
	if (depth >= TOML_MAX_DEPTH)
		return fail_at(p->err, open, "nesting deeper than %u levels", TOML_MAX_DEPTH);
	advance(p);
	v->type = TOML_ARRAY;
	size_t cap = 0;
	for (;;) {
		if (skip_blank(p) < 0)
			goto fail;
		if (peek(p) == ']')
			break;
		if (peek(p) < 0) {
			fail_at(p->err, open, "unterminated array");
			goto fail;
		}
		if (v->n_items == TOML_MAX_ARRAY) {
			fail_at(p->err, p->at, "array longer than %u items", TOML_MAX_ARRAY);
			goto fail;
		}
		if (v->n_items == cap) {
			cap = cap ? 2 * cap : 4;
			struct toml_node *grown = realloc(v->items, cap * sizeof(*grown));
			if (grown == NULL) {
				fail_oom(p);
				goto fail;
			}
			v->items = grown;
		}
		if (parse_value(p, depth + 1, &v->items[v->n_items]) < 0)
			goto fail;
		v->n_items++;
		if (skip_blank(p) < 0)
			goto fail;
		if (peek(p) == ']')
			break;
		if (peek(p) < 0) {
			fail_at(p->err, open, "unterminated array");
			goto fail;
		}
		if (peek(p) != ',') {
			fail_unexpected(p, "',' or ']' in array");
			goto fail;
		}
		advance(p);
	}
	advance(p);
	return 0;
fail:
	node_release(v);
	return -1;
}

/* On failure *v holds nothing to release. */
static int parse_value(struct parser *p, unsigned depth, struct toml_node *v)
{
	*v = (struct toml_node){ .type = TOML_INT, .line = p->at.line, .col = p->at.col };
	int c = peek(p);
	if (c == '"' || c == '\'') {
		struct buf b = { 0 };
		if (parse_string(p, &b, true) < 0) {
			free(b.p);
			return -1;
		}
		v->type = TOML_STRING;
		v->str = b.p;
		v->str_len = b.len;
		return 0;
	}
	if (c == '[')
		return parse_array(p, depth, v);
	if (c == '{')
		return fail_at(p->err, p->at, "unsupported: inline tables");
	if (is_token_char(c))
		return parse_scalar(p, v);
	return fail_unexpected(p, "a value");
}

/* ---- statements ---- */

static int parse_header(struct parser *p)
{
	struct pos open = p->at;
	advance(p);
	if (peek(p) == '[')
		return fail_at(p->err, open, "unsupported: arrays of tables ([[...]])");
	skip_ws(p);
	__attribute__((cleanup(key_release))) struct key k = { .n = 0 };
	if (parse_key(p, 0, &k) < 0)
		return -1;
	if (peek(p) != ']')
		return fail_unexpected(p, "']' after the table name");
	advance(p);
	struct toml_table *t = p->root;
	for (unsigned i = 0; i < k.n; i++) {
		struct seg *seg = &k.seg[i];
		bool last = i + 1 == k.n;
		struct toml_member *m = find(t, seg->s, seg->len);
		if (m == NULL) {
			t = add_table(p, t, seg, last ? ORIGIN_HEADER : ORIGIN_IMPLICIT);
			if (t == NULL)
				return -1;
			continue;
		}
		char path[256];
		toml_path(t, seg->s, seg->len, path, sizeof(path));
		if (m->value.type != TOML_TABLE)
			return fail_at(p->err, seg->at, "key %s already holds a value, it cannot be a table", path);
		t = m->value.table;
		if (!last)
			continue;
		if (t->origin == ORIGIN_HEADER)
			return fail_at(p->err, open, "table [%s] defined twice", path);
		if (t->origin == ORIGIN_DOTTED)
			return fail_at(p->err, open, "table [%s] was already defined by dotted keys", path);
		t->origin = ORIGIN_HEADER;
	}
	p->section = t;
	p->section_depth = k.n;
	return expect_eol(p);
}

static int parse_keyval(struct parser *p)
{
	__attribute__((cleanup(key_release))) struct key k = { .n = 0 };
	if (parse_key(p, p->section_depth, &k) < 0)
		return -1;
	if (peek(p) != '=')
		return fail_unexpected(p, "'=' after the key");
	advance(p);
	skip_ws(p);
	struct toml_table *t = p->section;
	char path[256];
	for (unsigned i = 0; i + 1 < k.n; i++) {
		struct seg *seg = &k.seg[i];
		struct toml_member *m = find(t, seg->s, seg->len);
		if (m == NULL) {
			t = add_table(p, t, seg, ORIGIN_DOTTED);
			if (t == NULL)
				return -1;
			continue;
		}
		toml_path(t, seg->s, seg->len, path, sizeof(path));
		if (m->value.type != TOML_TABLE)
			return fail_at(p->err, seg->at, "key %s already holds a value, it cannot be a table", path);
		/* Tables named by headers are closed to dotted keys from other sections. */
		if (m->value.table->origin != ORIGIN_DOTTED)
			return fail_at(p->err, seg->at, "table %s belongs to a [table] header; dotted keys cannot extend it", path);
		t = m->value.table;
	}
	struct seg *last = &k.seg[k.n - 1];
	if (find(t, last->s, last->len) != NULL) {
		toml_path(t, last->s, last->len, path, sizeof(path));
		return fail_at(p->err, last->at, "duplicate key %s", path);
	}
	struct toml_node v;
	if (parse_value(p, p->section_depth + k.n, &v) < 0)
		return -1;
	if (add_member(p, t, last, &v) < 0) {
		node_release(&v);
		return -1;
	}
	return expect_eol(p);
}

struct toml_table *toml_parse(const char *text, size_t len, veil_err_t *err)
{
	if (len > TOML_MAX_INPUT) {
		toml_fail_at(err, 1, 1, "document larger than %u bytes", TOML_MAX_INPUT);
		return NULL;
	}
	struct parser p = { .s = text, .len = len, .at = { 1, 1 }, .err = err };
	if (check_utf8(&p) < 0)
		return NULL;
	p.root = calloc(1, sizeof(*p.root));
	if (p.root == NULL) {
		fail_oom(&p);
		return NULL;
	}
	p.root->origin = ORIGIN_HEADER;
	p.section = p.root;
	/* TOML allows a byte order mark at the very start (only there). */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		p.off = 3;
	for (;;) {
		skip_ws(&p);
		int c = peek(&p);
		if (c < 0)
			return p.root;
		int rc;
		if (c == '[')
			rc = parse_header(&p);
		else if (c == '#' || at_newline(&p))
			rc = expect_eol(&p);
		else
			rc = parse_keyval(&p);
		if (rc < 0) {
			toml_free(p.root);
			return NULL;
		}
	}
}

/* ---- lookups ---- */

const struct toml_member *toml_member_at(const struct toml_table *t, size_t i)
{
	return i < t->n ? &t->members[i] : NULL;
}

const struct toml_node *toml_get(const struct toml_table *t, const char *key)
{
	const struct toml_member *m = find(t, key, strlen(key));
	return m != NULL ? &m->value : NULL;
}

static const char *type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING:
		return "string";
	case TOML_INT:
		return "integer";
	case TOML_BOOL:
		return "boolean";
	case TOML_ARRAY:
		return "array";
	default:
		return "table";
	}
}

/* Checks the value of `key` (or its item `index`, when index >= 0) and names
 * it only on failure: building the path costs as much as its keys are long. */
static int check_value(const struct toml_node *v, enum toml_type want, const struct toml_table *t, const char *key,
		       long index, veil_err_t *err)
{
	/* C callers would silently see a string holding U+0000 cut short. */
	bool cut = v->type == TOML_STRING && strlen(v->str) != v->str_len;
	if (v->type == want && !cut)
		return 0;
	char path[300];
	toml_path(t, key, strlen(key), path, 256);
	if (index >= 0)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "[%ld]", index);
	if (v->type != want)
		return toml_fail_at(err, v->line, v->col, "%s: expected %s, found %s", path, type_name(want),
				    type_name(v->type));
	return toml_fail_at(err, v->line, v->col, "%s: string contains U+0000", path);
}

/* 1 with *out, 0 if absent, -1 on a type mismatch. */
static int lookup(const struct toml_table *t, const char *key, enum toml_type want, const struct toml_node **out,
		  veil_err_t *err)
{
	*out = toml_get(t, key);
	if (*out == NULL)
		return 0;
	return check_value(*out, want, t, key, -1, err) < 0 ? -1 : 1;
}

int toml_get_table(const struct toml_table *t, const char *key, const struct toml_table **out, veil_err_t *err)
{
	const struct toml_node *v;
	int rc = lookup(t, key, TOML_TABLE, &v, err);
	if (rc == 1)
		*out = v->table;
	return rc;
}

int toml_get_string(const struct toml_table *t, const char *key, const char **out, veil_err_t *err)
{
	const struct toml_node *v;
	int rc = lookup(t, key, TOML_STRING, &v, err);
	if (rc == 1)
		*out = v->str;
	return rc;
}

int toml_get_int(const struct toml_table *t, const char *key, int64_t *out, veil_err_t *err)
{
	const struct toml_node *v;
	int rc = lookup(t, key, TOML_INT, &v, err);
	if (rc == 1)
		*out = v->i;
	return rc;
}

int toml_get_bool(const struct toml_table *t, const char *key, bool *out, veil_err_t *err)
{
	const struct toml_node *v;
	int rc = lookup(t, key, TOML_BOOL, &v, err);
	if (rc == 1)
		*out = v->b;
	return rc;
}

int toml_get_string_array(const struct toml_table *t, const char *key, const char ***out, size_t *n, veil_err_t *err)
{
	const struct toml_node *v;
	int rc = lookup(t, key, TOML_ARRAY, &v, err);
	if (rc != 1)
		return rc;
	for (size_t i = 0; i < v->n_items; i++)
		if (check_value(&v->items[i], TOML_STRING, t, key, (long)i, err) < 0)
			return -1;
	const char **vec = calloc(v->n_items + 1, sizeof(*vec));
	if (vec == NULL)
		return toml_fail_at(err, v->line, v->col, "out of memory");
	for (size_t i = 0; i < v->n_items; i++)
		vec[i] = v->items[i].str;
	*out = vec;
	*n = v->n_items;
	return 1;
}
