/* libFuzzer target for init-data: the input as TOML init-data and as Kata's
 * annotation (base64 of gzip). Either parses with a digest of the right
 * length, or fails with a message. */
#include <stdlib.h>
#include <string.h>

#include "attest/initdata.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	veil_err_t err = NULL;
	struct veil_initdata d;
	if (veil_initdata_parse((const char *)data, size, &d, &err) == 0) {
		if (d.digest_len != 32 && d.digest_len != 48 && d.digest_len != 64)
			abort();
		uint8_t field[48];
		veil_initdata_tee_field(&d, field, sizeof(field));
		veil_initdata_get(&d, "aa.toml");
		veil_initdata_free(&d);
	} else if (err == NULL || err->msg[0] == '\0') {
		abort();
	}
	veil_error_free(&err);
	char *toml = NULL;
	size_t len = 0;
	if (veil_initdata_from_annotation((const char *)data, size, &toml, &len, &err) == 0) {
		if (len > VEIL_INITDATA_MAX || toml[len] != '\0')
			abort();
		free(toml);
	} else if (err == NULL) {
		abort();
	}
	veil_error_free(&err);
	return 0;
}
