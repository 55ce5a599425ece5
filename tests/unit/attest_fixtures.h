/* Loading the attestation fixtures in tests/data/attest (see SOURCES.md
 * there), found relative to this source file like test_config's template. */
#ifndef VEIL_TEST_ATTEST_FIXTURES_H
#define VEIL_TEST_ATTEST_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/fsutil.h"
#include "lib/hex.h"

struct fixture {
	uint8_t *data;
	size_t len;
};

static inline void fixture_path(const char *name, char *out, size_t size)
{
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	snprintf(out, size, "%.*s/../data/attest/%s", slash ? (int)(slash - file) : 1, slash ? file : ".", name);
}

/* The whole file; exits the test if it is missing, as every check would fail. */
static inline struct fixture fixture_load(const char *name)
{
	char path[4096];
	fixture_path(name, path, sizeof(path));
	veil_err_t err = NULL;
	size_t len = 0;
	char *data = veil_read_file(path, 1 << 20, &len, &err);
	if (data == NULL) {
		printf("Bail out! fixture %s: %s\n", name, err->msg);
		exit(1);
	}
	return (struct fixture){ (uint8_t *)data, len };
}

/* A file of hex digits (whitespace ignored), decoded. */
static inline struct fixture fixture_load_hex(const char *name)
{
	struct fixture text = fixture_load(name);
	struct fixture bin = { malloc(text.len / 2 + 1), 0 };
	int high = -1;
	for (size_t i = 0; i < text.len; i++) {
		int v = veil_hex_value(text.data[i]);
		if (v < 0)
			continue;
		if (high < 0) {
			high = v;
		} else {
			bin.data[bin.len++] = (uint8_t)(high << 4 | v);
			high = -1;
		}
	}
	free(text.data);
	return bin;
}

/* A PEM certificate, as DER. */
static inline struct fixture fixture_load_pem_cert(const char *name)
{
	struct fixture pem = fixture_load(name);
	BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	free(pem.data);
	unsigned char *der = NULL;
	int len = cert != NULL ? i2d_X509(cert, &der) : -1;
	X509_free(cert);
	if (len <= 0) {
		printf("Bail out! fixture %s: not a PEM certificate\n", name);
		exit(1);
	}
	struct fixture out = { malloc((size_t)len), (size_t)len };
	memcpy(out.data, der, (size_t)len);
	OPENSSL_free(der);
	return out;
}

static inline void fixture_free(struct fixture *f)
{
	free(f->data);
	f->data = NULL;
}

#endif
