/* libFuzzer target for the JOSE parsers: the input is tried as a tee-pubkey
 * JWK and as a flattened JWE (decrypted with fixed EC and RSA keys). Any input
 * must be refused with a message or, for a JWE, decrypt; nothing may crash. */
#include <stdlib.h>
#include <string.h>

#include "attest/jose.h"
#include "lib/json.h"

static EVP_PKEY *ec_key, *rsa_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ec_key = veil_jose_generate_key(VEIL_JWE_ECDH_ES_A256KW, NULL);
	rsa_key = veil_jose_generate_key(VEIL_JWE_RSA_OAEP_256, NULL);
	return ec_key != NULL && rsa_key != NULL ? 0 : -1;
}

static void check_refusal(int rc, veil_err_t *err)
{
	if (rc < 0 && (*err == NULL || (*err)->msg[0] == '\0'))
		abort();
	veil_error_free(err);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	veil_err_t err = NULL;
	json_object *doc = NULL;
	if (veil_json_parse((const char *)data, size, "fuzz", &doc, &err) == 0) {
		EVP_PKEY *key = NULL;
		enum veil_jwe_alg alg;
		int rc = veil_jwk_parse(doc, &key, &alg, &err);
		if ((rc == 0) != (key != NULL))
			abort();
		check_refusal(rc, &err);
		EVP_PKEY_free(key);
		json_object_put(doc);
	}
	veil_error_free(&err);
	EVP_PKEY *keys[] = { ec_key, rsa_key };
	for (size_t i = 0; i < 2; i++) {
		uint8_t *plain = NULL;
		size_t len = 0;
		int rc = veil_jwe_decrypt(keys[i], (const char *)data, size, &plain, &len, &err);
		if (rc == 0 && (plain == NULL || plain[len] != 0))
			abort();
		check_refusal(rc, &err);
		free(plain);
	}
	return 0;
}
