/* The attestation fixtures the fuzz targets verify against, found relative
 * to this file: run the targets from the source tree. */
#ifndef VEIL_FUZZ_ATTEST_FIXTURE_H
#define VEIL_FUZZ_ATTEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

/* The PEM certificate tests/data/attest/NAME as DER; aborts if missing. */
static uint8_t *fuzz_fixture_cert(const char *name, size_t *len)
{
	char path[4096];
	const char *file = __FILE__, *slash = strrchr(file, '/');
	snprintf(path, sizeof(path), "%.*s/../data/attest/%s", slash ? (int)(slash - file) : 1, slash ? file : ".", name);
	FILE *f = fopen(path, "r");
	X509 *cert = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	unsigned char *der = NULL;
	int n = cert != NULL ? i2d_X509(cert, &der) : -1;
	X509_free(cert);
	if (n <= 0) {
		fprintf(stderr, "cannot read %s (run from the source tree)\n", path);
		abort();
	}
	*len = (size_t)n;
	return der;
}

#endif
