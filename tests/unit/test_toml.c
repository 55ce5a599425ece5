#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/toml.h"
#include "tap.h"

static struct toml_table *parse_n(const char *doc, size_t len)
{
	veil_err_t err = NULL;
	struct toml_table *t = toml_parse(doc, len, &err);
	if (t == NULL)
		printf("# unexpected error: %s\n", err->msg);
	veil_error_free(&err);
	return t;
}

static struct toml_table *parse(const char *doc)
{
	return parse_n(doc, strlen(doc));
}

/* Parses doc (len bytes) expecting exactly the error `want`. */
static void reject_n(const char *doc, size_t len, const char *want)
{
	veil_err_t err = NULL;
	struct toml_table *t = toml_parse(doc, len, &err);
	const char *got = err != NULL ? err->msg : "(parsed)";
	if (!CHECK(t == NULL && strcmp(got, want) == 0, "rejected with \"%s\"", want))
		printf("#   got \"%s\"\n", got);
	toml_free(t);
	veil_error_free(&err);
}

static void reject(const char *doc, const char *want)
{
	reject_n(doc, strlen(doc), want);
}

static int64_t get_int(const struct toml_table *t, const char *key)
{
	int64_t v = -12345;
	veil_err_t err = NULL;
	if (toml_get_int(t, key, &v, &err) != 1)
		printf("# %s: not an integer\n", key);
	veil_error_free(&err);
	return v;
}

static const char *get_str(const struct toml_table *t, const char *key)
{
	const char *v = "(missing)";
	veil_err_t err = NULL;
	if (toml_get_string(t, key, &v, &err) != 1)
		printf("# %s: not a string\n", key);
	veil_error_free(&err);
	return v;
}

static const struct toml_table *get_table(const struct toml_table *t, const char *key)
{
	const struct toml_table *sub = NULL;
	veil_err_t err = NULL;
	toml_get_table(t, key, &sub, &err);
	veil_error_free(&err);
	return sub;
}

static void test_empty_and_comments(void)
{
	struct toml_table *t = parse("");
	CHECK(t != NULL && toml_member_at(t, 0) == NULL, "empty document has no keys");
	toml_free(t);
	t = parse_n(NULL, 0);
	CHECK(t != NULL, "NULL text of length 0 is an empty document");
	toml_free(t);
	t = parse("# only a comment\n\n   \t\n# another # with hashes\t\n");
	CHECK(t != NULL && toml_member_at(t, 0) == NULL, "comments and blank lines only");
	toml_free(t);
	t = parse("a = 1\r\n# c\r\n[t]\r\nb = 2\r\n");
	CHECK(t != NULL && get_int(t, "a") == 1 && get_int(get_table(t, "t"), "b") == 2, "CRLF line endings");
	toml_free(t);
	t = parse("a = 1# no space before the comment\nb = true#\n[c]#x\n");
	CHECK(t != NULL && get_int(t, "a") == 1, "comments right after values and headers");
	toml_free(t);
}

static void test_integers(void)
{
	struct toml_table *t = parse("a = 42\nb = +17\nc = -5\nd = 0\ne = -0\nf = +0\ng = 1_000_000\n"
				     "h = 0xDEAD_beef\ni = 0o755\nj = 0b1010\nk = 9223372036854775807\n"
				     "l = -9223372036854775808\nm = 0x7FFFFFFFFFFFFFFF\nn = 0x00ff\no = 5_3\n");
	CHECK(t != NULL, "integer document parses");
	if (t == NULL)
		return;
	CHECK(get_int(t, "a") == 42, "decimal");
	CHECK(get_int(t, "b") == 17, "explicit plus sign");
	CHECK(get_int(t, "c") == -5, "negative");
	CHECK(get_int(t, "d") == 0 && get_int(t, "e") == 0 && get_int(t, "f") == 0, "signed zeros");
	CHECK(get_int(t, "g") == 1000000, "underscores between digits");
	CHECK(get_int(t, "h") == 0xDEADBEEF, "hexadecimal, mixed case, underscore");
	CHECK(get_int(t, "i") == 0755, "octal");
	CHECK(get_int(t, "j") == 10, "binary");
	CHECK(get_int(t, "k") == INT64_MAX, "INT64_MAX");
	CHECK(get_int(t, "l") == INT64_MIN, "INT64_MIN");
	CHECK(get_int(t, "m") == INT64_MAX, "INT64_MAX in hexadecimal");
	CHECK(get_int(t, "n") == 255, "leading zeros allowed after 0x");
	CHECK(get_int(t, "o") == 53, "single underscore");
	toml_free(t);

	reject("a = 01", "1:5: leading zeros are not allowed in decimal integers");
	reject("a = -007", "1:5: leading zeros are not allowed in decimal integers");
	reject("a = 0_1", "1:5: leading zeros are not allowed in decimal integers");
	reject("a = 9223372036854775808", "1:5: integer '9223372036854775808' does not fit in 64 bits");
	reject("a = -9223372036854775809", "1:5: integer '-9223372036854775809' does not fit in 64 bits");
	reject("a = 0x8000000000000000", "1:5: integer '0x8000000000000000' does not fit in 64 bits");
	reject("a = 99999999999999999999999", "1:5: integer '99999999999999999999999' does not fit in 64 bits");
	reject("a = 1__0", "1:6: '_' must stand between two digits");
	reject("a = 1_", "1:6: '_' must stand between two digits");
	reject("a = 0x_1", "1:7: '_' must stand between two digits");
	reject("a = _1", "1:5: expected a value, found '_1'");
	reject("a = 0xG", "1:7: invalid character 'G' in hexadecimal integer");
	reject("a = 0o8", "1:7: invalid character '8' in octal integer");
	reject("a = 0b102", "1:9: invalid character '2' in binary integer");
	reject("a = 0X1", "1:6: invalid character 'X' in decimal integer");
	reject("a = 12a", "1:7: invalid character 'a' in decimal integer");
	reject("a = 1-2", "1:6: invalid character '-' in decimal integer");
	reject("a = 0x", "1:5: missing digits after 0x");
	reject("a = +0x1", "1:5: a sign is not allowed on 0x integers");
	reject("a = -0b1", "1:5: a sign is not allowed on 0b integers");
	reject("a = +", "1:5: expected a value, found '+'");
}

static void test_booleans_and_bad_words(void)
{
	struct toml_table *t = parse("yes = true\nno = false\n");
	bool y = false, n = true;
	veil_err_t err = NULL;
	CHECK(t != NULL && toml_get_bool(t, "yes", &y, &err) == 1 && y && toml_get_bool(t, "no", &n, &err) == 1 && !n,
	      "true and false");
	toml_free(t);
	reject("a = True", "1:5: expected a value, found 'True'");
	reject("a = yes", "1:5: expected a value, found 'yes'");
	reject("a = truex", "1:5: expected a value, found 'truex'");
	reject("a =", "1:4: expected a value, found end of input");
	reject("a = \n", "1:5: expected a value, found end of line");
	reject("a = @", "1:5: expected a value, found '@'");
}

static void test_strings(void)
{
	struct toml_table *t = parse("a = \"tab\\there \\\"q\\\" back\\\\slash\\b\\f\\r\\n\"\n"
				     "b = \"\\u00e9\\U0001F600\"\n"
				     "c = 'C:\\path\\n \"x\"'\n"
				     "d = \"\"\n"
				     "e = ''\n"
				     "f = \"h\xc3\xa9llo\tw\xe2\x82\xac\"\n"
				     "g = \"nul\\u0000inside\"\n"
				     "h = 'a#b'  # comment\n");
	CHECK(t != NULL, "string document parses");
	if (t == NULL)
		return;
	CHECK(strcmp(get_str(t, "a"), "tab\there \"q\" back\\slash\b\f\r\n") == 0, "basic string escapes");
	CHECK(strcmp(get_str(t, "b"), "\xc3\xa9\xf0\x9f\x98\x80") == 0, "\\u and \\U escapes encode UTF-8");
	CHECK(strcmp(get_str(t, "c"), "C:\\path\\n \"x\"") == 0, "literal strings keep backslashes");
	CHECK(strcmp(get_str(t, "d"), "") == 0 && strcmp(get_str(t, "e"), "") == 0, "empty strings");
	CHECK(strcmp(get_str(t, "f"), "h\xc3\xa9llo\tw\xe2\x82\xac") == 0, "raw UTF-8 and tab");
	CHECK(strcmp(get_str(t, "h"), "a#b") == 0, "'#' inside a string is not a comment");
	const struct toml_node *g = toml_get(t, "g");
	CHECK(g != NULL && g->type == TOML_STRING && g->str_len == 10 && memcmp(g->str, "nul\0inside", 10) == 0,
	      "\\u0000 is kept with its length");
	const char *s = NULL;
	veil_err_t err = NULL;
	CHECK(toml_get_string(t, "g", &s, &err) == -1 && strcmp(err->msg, "7:5: g: string contains U+0000") == 0,
	      "toml_get_string refuses an embedded NUL");
	veil_error_free(&err);
	toml_free(t);

	reject("a = \"abc", "1:5: unterminated string");
	reject("a = \"abc\nb = 1", "1:5: unterminated string");
	reject("a = \"abc\r\n", "1:5: unterminated string");
	reject("a = 'abc", "1:5: unterminated string");
	reject("a = \"\\q\"", "1:6: invalid escape: backslash followed by 'q'");
	reject("a = \"\\x41\"", "1:6: invalid escape: backslash followed by 'x'");
	reject("a = \"\\\"", "1:5: unterminated string");
	reject("a = \"x\\\n\"", "1:7: invalid escape: backslash followed by end of line");
	reject("a = \"\\u12\"", "1:6: \\u needs 4 hexadecimal digits");
	reject("a = \"\\U0001F60\"", "1:6: \\U needs 8 hexadecimal digits");
	reject("a = \"\\uD800\"", "1:6: \\uD800 is not a Unicode scalar value");
	reject("a = \"\\U00110000\"", "1:6: \\U00110000 is not a Unicode scalar value");
	reject("a = \"\x01\"", "1:6: control character U+0001 in string");
	reject("a = 'x\x7f'", "1:7: control character U+007F in string");
	reject("a = \"a\rb\"", "1:7: control character U+000D in string");
}

/* The cases of the TOML 1.0 specification's "String" section, and its edges. */
static void test_multiline_strings(void)
{
	struct toml_table *t = parse("str1 = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
				     "str2 = \"\"\"\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy dog.\"\"\"\n"
				     "str3 = \"\"\"\\\n       The quick brown \\\n       fox jumps over \\\n       the lazy dog.\\\n       \"\"\"\n"
				     "str4 = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n"
				     "str5 = \"\"\"Here are three quotation marks: \"\"\\\".\"\"\"\n"
				     "str7 = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n"
				     "regex2 = '''I [dw]on't need \\d{2} apples'''\n"
				     "lines = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\n"
				     "quot15 = '''Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'''\n"
				     "apos15 = \"Here are fifteen apostrophes: '''''''''''''''\"\n"
				     "str = ''''That,' she said, 'is still pointless.''''\n"
				     "crlf = \"\"\"\r\na\r\nb \\\r\n  c\"\"\"\n"
				     "empty = \"\"\"\"\"\"\n"
				     "two = '''a'''''\n"
				     "tabbed = \"\"\"a\\  \t\n\n b\\t\\u00e9\"\"\"  # comment\n");
	CHECK(t != NULL, "the specification's multi-line strings parse");
	if (t == NULL)
		return;
	CHECK(strcmp(get_str(t, "str1"), "Roses are red\nViolets are blue") == 0, "the first newline is trimmed");
	CHECK(strcmp(get_str(t, "str2"), "The quick brown fox jumps over the lazy dog.") == 0,
	      "a line-ending backslash eats the newlines and blanks after it");
	CHECK(strcmp(get_str(t, "str3"), "The quick brown fox jumps over the lazy dog.") == 0,
	      "a line-ending backslash right after the opening quotes and before the closing ones");
	CHECK(strcmp(get_str(t, "str4"), "Here are two quotation marks: \"\". Simple enough.") == 0,
	      "two quotes inside a basic multi-line string");
	CHECK(strcmp(get_str(t, "str5"), "Here are three quotation marks: \"\"\".") == 0, "an escaped third quote");
	CHECK(strcmp(get_str(t, "str7"), "\"This,\" she said, \"is just a pointless statement.\"") == 0,
	      "quotes next to both delimiters");
	CHECK(strcmp(get_str(t, "regex2"), "I [dw]on't need \\d{2} apples") == 0, "literal: no escapes");
	CHECK(strcmp(get_str(t, "lines"),
		     "The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n") == 0,
	      "literal: first newline trimmed, the rest kept");
	CHECK(strcmp(get_str(t, "quot15"), "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"") == 0,
	      "literal: quotes need no escape");
	CHECK(strcmp(get_str(t, "apos15"), "Here are fifteen apostrophes: '''''''''''''''") == 0,
	      "apostrophes in a basic string");
	CHECK(strcmp(get_str(t, "str"), "'That,' she said, 'is still pointless.'") == 0,
	      "apostrophes next to both literal delimiters");
	CHECK(strcmp(get_str(t, "crlf"), "a\r\nb c") == 0, "CRLF: trimmed first, kept inside, eaten after a backslash");
	CHECK(strcmp(get_str(t, "empty"), "") == 0, "six quotes are an empty string");
	CHECK(strcmp(get_str(t, "two"), "a''") == 0, "five apostrophes close with two inside");
	CHECK(strcmp(get_str(t, "tabbed"), "ab\t\xc3\xa9") == 0, "whitespace after a line-ending backslash; escapes");
	toml_free(t);

	t = parse("\xEF\xBB\xBF# BOM\nk = '''x'''\n");
	CHECK(t != NULL && strcmp(get_str(t, "k"), "x") == 0, "a leading UTF-8 byte order mark is skipped");
	toml_free(t);

	reject("a = \"\"\"x", "1:5: unterminated multi-line string");
	reject("a = '''x\n\n''", "1:5: unterminated multi-line string");
	reject("a = \"\"\"x\"\"\"\"\"\"", "1:9: 6 quotes in a row: a multi-line string holds at most 2 before its closing 3");
	reject("a = '''x''''''", "1:9: 6 quotes in a row: a multi-line string holds at most 2 before its closing 3");
	reject("a = \"\"\"\\q\"\"\"", "1:8: invalid escape: backslash followed by 'q'");
	reject("a = \"\"\"a\\ b\"\"\"", "1:9: invalid escape: backslash followed by ' '");
	reject("a = \"\"\"a\rb\"\"\"", "1:9: control character U+000D in string");
	reject("a = '''a\x01'''", "1:9: control character U+0001 in string");
	reject("a = '''a\n\x7f'''", "2:1: control character U+007F in string");
	reject("\"\"\"k\"\"\" = 1", "1:1: a key cannot be a multi-line string");
	reject("[a.'''b''']", "1:4: a key cannot be a multi-line string");
	reject("a = 1\n\xEF\xBB\xBF", "2:1: expected a key, found U+FEFF");
	reject("a = '''x''' y", "1:13: expected end of line, found 'y'");
}

static void test_utf8_and_columns(void)
{
	reject("a = \"\xff\"", "1:6: invalid UTF-8");
	reject("a = \"\xc0\x80\"", "1:6: invalid UTF-8");
	reject("a = \"\xed\xa0\x80\"", "1:6: invalid UTF-8");
	reject("a = \"\xf4\x90\x80\x80\"", "1:6: invalid UTF-8");
	reject("# ok\n# \xe2\x82", "2:3: invalid UTF-8");
	/* Columns count characters, not bytes: the euro sign is 3 bytes, 1 column. */
	reject("a = \"\xe2\x82\xac\" x", "1:9: expected end of line, found 'x'");
	reject("a = 1\n  \xe2\x82\xac = 2", "2:3: expected a key, found U+20AC");
	reject_n("a = 1\0", 6, "1:6: expected end of line, found U+0000");
	reject("# \x01", "1:3: control character U+0001 in comment");
	reject("# \r", "1:3: control character U+000D in comment");
	reject("a = 1\rb = 2", "1:6: expected end of line, found U+000D");
}

static void test_keys_and_tables(void)
{
	struct toml_table *t = parse("top = 1\n"
				     "\"quoted key\" = 2\n"
				     "'lit.eral' = 3\n"
				     "\"\" = 4\n"
				     "dot . ted.key = 5\n"
				     "1234 = 6\n"
				     "-_- = 7\n"
				     "[ server . \"x y\" ]\n"
				     "port = 8\n"
				     "[server]\n"
				     "name = 'n'\n");
	CHECK(t != NULL, "key document parses");
	if (t == NULL)
		return;
	CHECK(get_int(t, "top") == 1 && get_int(t, "quoted key") == 2 && get_int(t, "lit.eral") == 3 &&
		      get_int(t, "") == 4 && get_int(t, "1234") == 6 && get_int(t, "-_-") == 7,
	      "bare, quoted, literal, empty and numeric keys");
	CHECK(get_int(get_table(get_table(t, "dot"), "ted"), "key") == 5, "dotted keys with spaces create tables");
	const struct toml_table *server = get_table(t, "server");
	CHECK(server != NULL && get_int(get_table(server, "x y"), "port") == 8, "header with quoted segment");
	CHECK(strcmp(get_str(server, "name"), "n") == 0, "implicit table defined later by its own header");

	const char *order[] = { "top", "quoted key", "lit.eral", "", "dot", "1234", "-_-", "server" };
	bool in_order = true;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct toml_member *m = toml_member_at(t, i);
		in_order = in_order && m != NULL && strcmp(m->key, order[i]) == 0 && m->line == i + 1;
	}
	CHECK(in_order && toml_member_at(t, 8) == NULL, "members iterate in document order with key lines");
	const struct toml_member *m = toml_member_at(t, 4);
	CHECK(m != NULL && m->col == 1 && m->value.type == TOML_TABLE, "dotted table member positioned at its key");
	const struct toml_node *v = toml_get(t, "top");
	CHECK(v != NULL && v->line == 1 && v->col == 7, "value position");
	CHECK(toml_get(t, "missing") == NULL, "absent key");

	char path[64];
	toml_path(get_table(server, "x y"), "port", 4, path, sizeof(path));
	CHECK(strcmp(path, "server.\"x y\".port") == 0, "toml_path quotes keys that are not bare: %s", path);
	toml_path(server, NULL, 0, path, sizeof(path));
	CHECK(strcmp(path, "server") == 0, "toml_path of a table");
	toml_path(t, "a\"b\n", 4, path, sizeof(path));
	CHECK(strcmp(path, "\"a\\\"b\\u000A\"") == 0, "toml_path escapes quotes and control characters: %s", path);
	toml_path(t, "", 0, path, sizeof(path));
	CHECK(strcmp(path, "\"\"") == 0, "toml_path of the empty key");
	toml_path(get_table(server, "x y"), "port", 4, path, 10);
	CHECK(strcmp(path, "server.\"x") == 0, "toml_path truncates to the buffer");
	toml_free(t);

	t = parse("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n");
	CHECK(t != NULL, "[header] may add a sub-table under a dotted-key table");
	toml_free(t);
	t = parse("[a.b.c]\nx = 1\n[a]\ny = 2\n[a.b]\nz = 3\n");
	CHECK(t != NULL && get_int(get_table(get_table(t, "a"), "b"), "z") == 3, "implicit tables defined in any order");
	toml_free(t);

	reject("a = 1\na = 2", "2:1: duplicate key a");
	reject("a = 1\n\"a\" = 2", "2:1: duplicate key a");
	reject("\"a b\" = 1\n'a b' = 2", "2:1: duplicate key \"a b\"");
	reject("a.b = 1\na.b = 2", "2:3: duplicate key a.b");
	reject("[t]\nx = 1\nx = 2", "3:1: duplicate key t.x");
	reject("[a]\nb = 1\n[a]", "3:1: table [a] defined twice");
	reject("[a.b]\n[a.b]", "2:1: table [a.b] defined twice");
	reject("a = 1\n[a]", "2:2: key a already holds a value, it cannot be a table");
	reject("a = 1\n[a.b]", "2:2: key a already holds a value, it cannot be a table");
	reject("a = [1]\n[a]", "2:2: key a already holds a value, it cannot be a table");
	reject("a = 1\na.b = 2", "2:1: key a already holds a value, it cannot be a table");
	reject("[a]\nb = 1\n[a.b]", "3:4: key a.b already holds a value, it cannot be a table");
	reject("[a.b]\n[a]\nb = 1", "3:1: duplicate key a.b");
	reject("a.b = 1\n[a]", "2:1: table [a] was already defined by dotted keys");
	reject("[fruit]\napple.color = 1\n[fruit.apple]", "3:1: table [fruit.apple] was already defined by dotted keys");
	reject("[a.b]\nc = 1\n[a]\nb.d = 2",
	       "4:1: table a.b belongs to a [table] header; dotted keys cannot extend it");
	reject("[a.b.c]\n[a]\nb.d = 2", "3:1: table a.b belongs to a [table] header; dotted keys cannot extend it");
	reject("= 1", "1:1: expected a key, found '='");
	reject("a. = 1", "1:4: expected a key, found '='");
	reject("a", "1:2: expected '=' after the key, found end of input");
	reject("a b = 1", "1:3: expected '=' after the key, found 'b'");
	reject("a = 1 b = 2", "1:7: expected end of line, found 'b'");
	reject("a = 'x' 'y'", "1:9: expected end of line, found '''");
	reject("[a", "1:3: expected ']' after the table name, found end of input");
	reject("[]", "1:2: expected a key, found ']'");
	reject("[a] x = 1", "1:5: expected end of line, found 'x'");
	reject("[a]]", "1:4: expected end of line, found ']'");
	reject("\"a\nb\" = 1", "1:1: unterminated string");
	reject("[[a]]", "1:1: unsupported: arrays of tables ([[...]])");
	reject("\n\n   [[a]]", "3:4: unsupported: arrays of tables ([[...]])");
}

static void test_unsupported_values(void)
{
	reject("a = 1.5", "1:5: unsupported: floating-point numbers");
	reject("a = 1e3", "1:5: unsupported: floating-point numbers");
	reject("a = -2E-3", "1:5: unsupported: floating-point numbers");
	reject("a = inf", "1:5: unsupported: floating-point numbers");
	reject("a = -nan", "1:5: unsupported: floating-point numbers");
	reject("a = 1979-05-27", "1:5: unsupported: dates and times");
	reject("a = 1979-05-27T07:32:00Z", "1:5: unsupported: dates and times");
	reject("a = 07:32:00", "1:5: unsupported: dates and times");
	reject("a = { b = 1 }", "1:5: unsupported: inline tables");
	reject("a = [1, {}]", "1:9: unsupported: inline tables");
}

static void test_arrays(void)
{
	struct toml_table *t = parse("empty = []\n"
				     "blank = [ \n ]\n"
				     "ints = [1, 2, 3]\n"
				     "multi = [\n"
				     "  \"a\", # first\n"
				     "  # a whole comment line\n"
				     "  'b'\n"
				     "  ,\"c\",\n"
				     "]\n"
				     "nested = [[1, 2], [\"x\"], [], true]\n"
				     "crlf = [\r\n1,\r\n2\r\n]\n");
	CHECK(t != NULL, "array document parses");
	if (t == NULL)
		return;
	const struct toml_node *v = toml_get(t, "empty");
	CHECK(v != NULL && v->type == TOML_ARRAY && v->n_items == 0, "empty array");
	v = toml_get(t, "blank");
	CHECK(v != NULL && v->type == TOML_ARRAY && v->n_items == 0, "empty array over lines");
	v = toml_get(t, "ints");
	CHECK(v != NULL && v->n_items == 3 && v->items[2].type == TOML_INT && v->items[2].i == 3, "integer array");
	CHECK(v != NULL && v->items[1].line == 4 && v->items[1].col == 12, "item positions");
	const char **strs = NULL;
	size_t n = 0;
	veil_err_t err = NULL;
	CHECK(toml_get_string_array(t, "multi", &strs, &n, &err) == 1 && n == 3 && strcmp(strs[0], "a") == 0 &&
		      strcmp(strs[1], "b") == 0 && strcmp(strs[2], "c") == 0 && strs[3] == NULL,
	      "multi-line array with comments and trailing comma");
	free(strs);
	strs = NULL;
	CHECK(toml_get_string_array(t, "empty", &strs, &n, &err) == 1 && n == 0 && strs != NULL && strs[0] == NULL,
	      "empty string array");
	free(strs);
	v = toml_get(t, "nested");
	CHECK(v != NULL && v->n_items == 4 && v->items[0].type == TOML_ARRAY && v->items[0].n_items == 2 &&
		      v->items[1].items[0].type == TOML_STRING && v->items[2].n_items == 0 && v->items[3].b,
	      "nested and mixed arrays");
	CHECK(toml_get_string_array(t, "ints", &strs, &n, &err) == -1 &&
		      strcmp(err->msg, "4:9: ints[0]: expected string, found integer") == 0,
	      "string array with an integer item is refused");
	veil_error_free(&err);
	CHECK(toml_get_string_array(t, "absent", &strs, &n, &err) == 0 && err == NULL, "absent string array");
	v = toml_get(t, "crlf");
	CHECK(v != NULL && v->n_items == 2, "array over CRLF lines");
	toml_free(t);

	reject("a = [1, 2", "1:5: unterminated array");
	reject("a = [1,\n2,\n", "1:5: unterminated array");
	reject("a = [", "1:5: unterminated array");
	reject("a = [1 2]", "1:8: expected ',' or ']' in array, found '2'");
	reject("a = [\n  1,\n  2\n  3\n]", "4:3: expected ',' or ']' in array, found '3'");
	reject("a = [,]", "1:6: expected a value, found ','");
	reject("a = [1,,2]", "1:8: expected a value, found ','");
	reject("a = [1] 2", "1:9: expected end of line, found '2'");
	reject("a = [ # \x02\n]", "1:9: control character U+0002 in comment");
}

static void test_getters(void)
{
	struct toml_table *t = parse("n = 5\ns = 'x'\nb = true\n[x.\"y z\"]\nk = 1\n");
	if (!CHECK(t != NULL, "getter document parses"))
		return;
	veil_err_t err = NULL;
	const char *s;
	int64_t i;
	bool b;
	const struct toml_table *sub;
	CHECK(toml_get_string(t, "n", &s, &err) == -1 && strcmp(err->msg, "1:5: n: expected string, found integer") == 0,
	      "string getter on an integer");
	veil_error_free(&err);
	CHECK(toml_get_int(t, "s", &i, &err) == -1 && strcmp(err->msg, "2:5: s: expected integer, found string") == 0,
	      "integer getter on a string");
	veil_error_free(&err);
	CHECK(toml_get_bool(t, "n", &b, &err) == -1 && strcmp(err->msg, "1:5: n: expected boolean, found integer") == 0,
	      "boolean getter on an integer");
	veil_error_free(&err);
	CHECK(toml_get_table(t, "b", &sub, &err) == -1 && strcmp(err->msg, "3:5: b: expected table, found boolean") == 0,
	      "table getter on a boolean");
	veil_error_free(&err);
	CHECK(toml_get_int(t, "x", &i, &err) == -1 && strcmp(err->msg, "4:2: x: expected integer, found table") == 0,
	      "integer getter on a table");
	veil_error_free(&err);
	const char **v;
	size_t n;
	CHECK(toml_get_string_array(t, "s", &v, &n, &err) == -1 &&
		      strcmp(err->msg, "2:5: s: expected array, found string") == 0,
	      "string array getter on a string");
	veil_error_free(&err);
	sub = get_table(get_table(t, "x"), "y z");
	CHECK(sub != NULL && toml_get_string(sub, "k", &s, &err) == -1 &&
		      strcmp(err->msg, "5:5: x.\"y z\".k: expected string, found integer") == 0,
	      "type errors name the full path");
	veil_error_free(&err);
	CHECK(toml_get_int(t, "none", &i, &err) == 0 && toml_get_string(t, "none", &s, &err) == 0 &&
		      toml_get_bool(t, "none", &b, &err) == 0 && toml_get_table(t, "none", &sub, &err) == 0 && err == NULL,
	      "absent keys return 0 without an error");
	toml_free(t);
}

/* s = "xxx...", with content_len x's. */
static char *string_doc(size_t content_len, size_t *len)
{
	char *doc = malloc(content_len + 16);
	memcpy(doc, "s = \"", 5);
	memset(doc + 5, 'x', content_len);
	memcpy(doc + 5 + content_len, "\"\n", 2);
	*len = content_len + 7;
	return doc;
}

static char *repeat(const char *head, const char *unit, size_t count, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * count + tl + 1);
	char *p = s;
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < count; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

static void test_bounds(void)
{
	size_t len;
	char *doc = string_doc(TOML_MAX_STRING, &len);
	struct toml_table *t = parse_n(doc, len);
	CHECK(t != NULL && toml_get(t, "s")->str_len == TOML_MAX_STRING, "string of exactly 64 KiB");
	toml_free(t);
	free(doc);
	doc = string_doc(TOML_MAX_STRING + 1, &len);
	reject_n(doc, len, "1:5: string longer than 65536 bytes");
	free(doc);

	char *key = repeat("", "k", TOML_MAX_STRING + 1, " = 1");
	reject(key, "1:1: key longer than 65536 bytes");
	free(key);

	doc = repeat("a = [", "1,", TOML_MAX_ARRAY, "]");
	t = parse(doc);
	CHECK(t != NULL && toml_get(t, "a")->n_items == TOML_MAX_ARRAY, "array of exactly 4096 items");
	toml_free(t);
	free(doc);
	doc = repeat("a = [", "1,", TOML_MAX_ARRAY, "2]");
	reject(doc, "1:8198: array longer than 4096 items");
	free(doc);

	/* 16 levels: a header of 15 segments plus one key, or a key of 16. */
	reject("[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o]\np = 1\nq.r = 1\n", "3:3: nesting deeper than 16 levels");
	t = parse("x.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p = 1\n[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o]\np = 1\n"
		  "[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.z]\n");
	CHECK(t != NULL, "16 levels of tables and a 16-segment header are accepted");
	toml_free(t);
	reject("[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q]", "1:34: nesting deeper than 16 levels");
	reject("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q = 1", "1:33: nesting deeper than 16 levels");
	reject("[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p]\nq = 1", "2:1: nesting deeper than 16 levels");
	doc = repeat("a = ", "[", 15, "");
	char *closed = repeat(doc, "]", 15, "");
	t = parse(closed);
	CHECK(t != NULL, "15 nested arrays under a top-level key");
	toml_free(t);
	free(closed);
	free(doc);
	doc = repeat("a = ", "[", 16, "]");
	reject(doc, "1:20: nesting deeper than 16 levels");
	free(doc);
	reject("[a.b.c.d.e.f.g.h.i.j.k.l.m.n]\np = []\nq = [[]]", "3:6: nesting deeper than 16 levels");
	reject("[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o]\np = []", "2:5: nesting deeper than 16 levels");

	doc = malloc(TOML_MAX_INPUT + 1);
	memset(doc, '\n', TOML_MAX_INPUT + 1);
	memcpy(doc, "# big\n", 6);
	t = parse_n(doc, TOML_MAX_INPUT);
	CHECK(t != NULL, "document of exactly 1 MiB");
	toml_free(t);
	reject_n(doc, TOML_MAX_INPUT + 1, "1:1: document larger than 1048576 bytes");
	free(doc);
}

/* Many keys in one table exercise the index's growth and probing. */
static void test_many_keys(void)
{
	enum { N = 5000 };
	char *doc = malloc(N * 24 + 1);
	size_t len = 0;
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(doc + len, "k%d = %d\n", i, i);
	struct toml_table *t = parse_n(doc, len);
	bool all = t != NULL;
	for (int i = 0; all && i < N; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		all = get_int(t, key) == i && strcmp(toml_member_at(t, (size_t)i)->key, key) == 0;
	}
	CHECK(all, "5000 keys found by lookup and by position");
	CHECK(t != NULL && toml_get(t, "k5000") == NULL, "absent key among many");
	toml_free(t);
	len += (size_t)sprintf(doc + len, "k4321 = 0\n");
	reject_n(doc, len, "5001:1: duplicate key k4321");
	free(doc);
}

int main(void)
{
	test_empty_and_comments();
	test_integers();
	test_booleans_and_bad_words();
	test_strings();
	test_multiline_strings();
	test_utf8_and_columns();
	test_keys_and_tables();
	test_unsupported_values();
	test_arrays();
	test_getters();
	test_bounds();
	test_many_keys();
	return tap_done();
}
