/* init-data: parsing, digests (checked against Python's hashlib), the TEE
 * fields, and Kata's annotation form (checked against Python's gzip). */
#include <stdlib.h>
#include <string.h>

#include "attest/initdata.h"
#include "lib/cleanup.h"
#include "lib/hex.h"
#include "tap.h"

static const char coco[] = "algorithm = \"sha384\"\nversion = \"0.1.0\"\n\n[data]\n\"aa.toml\" = '''\n[token_configs]\n"
			   "[token_configs.kbs]\nurl = 'http://127.0.0.1:8080'\n'''\n\n\"policy.rego\" = '''\n"
			   "package agent_policy\ndefault ExecProcessRequest := false\n'''\n";
/* gzip (mtime 0) then base64 of `coco`, by Python, as Kata's runtime writes it. */
static const char coco_annotation[] =
	"H4sIAAAAAAAC/12MvQ6CMBSF9z5F04WtFDWRkDi6G1dCyLVcSkNpsb0YfXtB42JOznB+8oEzIVoaJn7iIg2wLw+CPTAmG/xWKVlIJRirOyBomACQ"
	"FCYn1i3LMlZTGNG3OvjemtT8ZTne1m6JbnsPRHOV58XuKNWqoipVqTK2UZiYg7P6JSOa8EPPoEcwyFd7ar8H1mEPiyN+fqK+xKAxpSveF0zEqxPv"
	"wSX8EN8z01p31wAAAA==";

static void check_digest(const char *algorithm, const char *want_hex)
{
	char doc[512];
	snprintf(doc, sizeof(doc), "%s", coco);
	memcpy(strstr(doc, "sha384"), algorithm, 6);
	struct veil_initdata d;
	veil_err_t err = NULL;
	char hex[2 * VEIL_INITDATA_MAX_DIGEST + 1] = "";
	if (veil_initdata_parse(doc, strlen(doc), &d, &err) == 0) {
		veil_hex_encode(d.digest, d.digest_len, hex);
		veil_initdata_free(&d);
	} else {
		printf("# %s\n", err->msg);
	}
	veil_error_free(&err);
	CHECK(strcmp(hex, want_hex) == 0, "%s digest of the document's bytes", algorithm);
}

static void test_parse_and_digest(void)
{
	struct veil_initdata d;
	veil_err_t err = NULL;
	CHECK(veil_initdata_parse(coco, strlen(coco), &d, &err) == 0, "CoCo's init-data example parses");
	CHECK(strcmp(d.algorithm, "sha384") == 0 && d.digest_len == 48, "sha384, 48 bytes");
	CHECK(strcmp(veil_initdata_get(&d, "aa.toml"), "[token_configs]\n[token_configs.kbs]\nurl = 'http://127.0.0.1:8080'\n") == 0 &&
		      strcmp(veil_initdata_get(&d, "policy.rego"), "package agent_policy\ndefault ExecProcessRequest := false\n") == 0 &&
		      veil_initdata_get(&d, "cdh.toml") == NULL,
	      "[data] entries as multi-line literal strings");
	uint8_t snp[VEIL_SNP_HOST_DATA_SIZE], tdx[VEIL_TDX_MRCONFIGID_SIZE], wide[64];
	veil_initdata_tee_field(&d, snp, sizeof(snp));
	veil_initdata_tee_field(&d, tdx, sizeof(tdx));
	veil_initdata_tee_field(&d, wide, sizeof(wide));
	static const uint8_t zeros[16];
	CHECK(memcmp(snp, d.digest, 32) == 0, "SNP HOST_DATA: the digest truncated to 32 bytes");
	CHECK(memcmp(tdx, d.digest, 48) == 0, "TDX MRCONFIGID: the whole sha384 digest");
	CHECK(memcmp(wide, d.digest, 48) == 0 && memcmp(wide + 48, zeros, 16) == 0, "a longer field is zero-padded");
	veil_initdata_free(&d);
	check_digest("sha384", "996576d04dba1b5719fc007788f046494aee40368c112598c4135ec4a17900d9026750b6af6b9714a20b3f62d92a560b");
	check_digest("sha256", "a6602eecd3d1705bb2d44220921a0b4e801d6427e69fd219bdb5d019dce6c89c");
	check_digest("sha512", "b33a7e17cd96af385644030460d8287068e933eed4023bcacafdf382b3577d59264cf0120115234f3bbe061ea3abfc90de1afee9a8c22fcca3e38fa965d634ed");

	static const struct {
		const char *doc, *msg;
	} bad[] = {
		{ "algorithm = \"sha384\"\n[data]\n", "init-data: version \"\", expected \"0.1.0\"" },
		{ "version = \"0.2.0\"\nalgorithm = \"sha384\"\n", "init-data: version \"0.2.0\", expected \"0.1.0\"" },
		{ "version = \"0.1.0\"\nalgorithm = \"sha-384\"\n",
		  "init-data: algorithm \"sha-384\" is not supported (sha256, sha384, sha512)" },
		{ "version = \"0.1.0\"\nalgorithm = \"md5\"\n", "init-data: algorithm \"md5\" is not supported (sha256, sha384, sha512)" },
		{ "version = 1\n", "init-data: 1:11: version: expected string, found integer" },
		{ "version = \"0.1.0\"\nalgorithm = \"sha256\"\nextra = 1\n",
		  "init-data: 3:1: unknown key \"extra\" (expected version, algorithm, [data])" },
		{ "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\nn = 5\n", "init-data: 4:5: data.n: expected string, found integer" },
		{ "version = \"0.1.0\"\nalgorithm = \"sha256\"\ndata = \"x\"\n", "init-data: 3:8: data: expected table, found string" },
		{ "version = '''0.1.0", "init-data: 1:11: unterminated multi-line string" },
		{ "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"a\\u0000b\" = \"x\"\n",
		  "init-data: 4:1: a [data] entry's name holds U+0000" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = veil_initdata_parse(bad[i].doc, strlen(bad[i].doc), &d, &err);
		if (!CHECK(rc < 0 && strcmp(err->msg, bad[i].msg) == 0, "refused: %s", bad[i].msg))
			printf("#   got %s\n", err ? err->msg : "(accepted)");
		veil_error_free(&err);
	}
	char *big = calloc(1, VEIL_INITDATA_MAX + 2);
	memset(big, '#', VEIL_INITDATA_MAX + 1);
	CHECK(veil_initdata_parse(big, VEIL_INITDATA_MAX + 1, &d, &err) < 0 &&
		      strcmp(err->msg, "init-data: 262145 bytes, at most 262144") == 0,
	      "oversize init-data refused");
	veil_error_free(&err);
	free(big);
}

static void test_annotation(void)
{
	char *toml = NULL;
	size_t len = 0;
	veil_err_t err = NULL;
	CHECK(veil_initdata_from_annotation(coco_annotation, strlen(coco_annotation), &toml, &len, &err) == 0 &&
		      len == strlen(coco) && memcmp(toml, coco, len) == 0,
	      "a Kata annotation (base64 of gzip) decodes to the TOML");
	free(toml);
	char spaced[sizeof(coco_annotation) + 8];
	snprintf(spaced, sizeof(spaced), " %.40s\n\t%s ", coco_annotation, coco_annotation + 40);
	CHECK(veil_initdata_from_annotation(spaced, strlen(spaced), &toml, &len, &err) == 0 && len == strlen(coco),
	      "whitespace in the annotation is ignored, as Kata does");
	free(toml);
	cleanup_free char *encoded = veil_initdata_to_annotation(coco, strlen(coco), &err);
	CHECK(encoded != NULL && veil_initdata_from_annotation(encoded, strlen(encoded), &toml, &len, &err) == 0 &&
		      len == strlen(coco) && memcmp(toml, coco, len) == 0,
	      "encode then decode");
	free(toml);

	/* 300 KiB of 'a', gzipped by Python: more than the limit once inflated. */
	static const char bomb_head[] = "H4sIAAAAAAAC/+3BAQ0AAADCoKzvX8IcbkAB";
	static const char bomb_tail[] = "ADAnwG2EmogALAEAA==";
	size_t as = 704 - strlen(bomb_head) - strlen(bomb_tail);
	char bomb[800];
	snprintf(bomb, sizeof(bomb), "%s%.*s%s", bomb_head, (int)as,
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 bomb_tail);
	CHECK(veil_initdata_from_annotation(bomb, strlen(bomb), &toml, &len, &err) < 0 &&
		      strcmp(err->msg, VEIL_INITDATA_ANNOTATION ": inflates to more than the init-data limit (262144 bytes)") == 0,
	      "a gzip bomb stops at the limit");
	veil_error_free(&err);
	static const struct {
		const char *value, *msg;
	} bad[] = {
		{ "not base64!", VEIL_INITDATA_ANNOTATION ": base64 length 10 is not a multiple of 4" },
		{ "dG9tbA==", VEIL_INITDATA_ANNOTATION ": is not valid gzip" },
		{ "H4sIAAAAAAAC/0tMBgDDv6Q1AQAAAA==", VEIL_INITDATA_ANNOTATION ": is not valid gzip" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = veil_initdata_from_annotation(bad[i].value, strlen(bad[i].value), &toml, &len, &err);
		if (!CHECK(rc < 0 && strcmp(err->msg, bad[i].msg) == 0, "refused: %s", bad[i].msg))
			printf("#   got %s\n", err ? err->msg : "(accepted)");
		veil_error_free(&err);
	}
}

int main(void)
{
	test_parse_and_digest();
	test_annotation();
	return tap_done();
}
