/* The JOSE subset of Trustee's KBS protocol, on OpenSSL: the TEE key as a JWK
 * (EC P-256 for ECDH-ES+A256KW, RSA for RSA-OAEP-256), and the flattened JWE
 * (RFC 7516 7.2.2) with A256GCM content encryption in which the KBS sends a
 * resource. Parsers are strict: exactly the members below, right lengths,
 * keys that OpenSSL accepts as valid. */
#ifndef VEIL_ATTEST_JOSE_H
#define VEIL_ATTEST_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "lib/error.h"

enum veil_jwe_alg {
	VEIL_JWE_ECDH_ES_A256KW = 1, /* P-256, Concat KDF (SHA-256), AES-256 key wrap */
	VEIL_JWE_RSA_OAEP_256,       /* RSA-OAEP with SHA-256 and MGF1-SHA-256 */
};
const char *veil_jwe_alg_name(enum veil_jwe_alg alg); /* "ECDH-ES+A256KW", "RSA-OAEP-256" */

#define VEIL_JWE_MAX_PLAINTEXT (1u << 20)
#define VEIL_RSA_MIN_BITS 2048
#define VEIL_RSA_MAX_BITS 8192

/* A fresh TEE key pair for alg (P-256, or RSA-3072 with e = 65537). */
EVP_PKEY *veil_jose_generate_key(enum veil_jwe_alg alg, veil_err_t *err);

/* The public half as the KBS protocol's tee-pubkey JWK:
 * {"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":..,"y":..} or
 * {"kty":"RSA","alg":"RSA-OAEP-256","n":..,"e":..}. */
json_object *veil_jwk_from_key(EVP_PKEY *key, enum veil_jwe_alg alg, veil_err_t *err);

/* Parses a tee-pubkey JWK: only the members above, "alg" required and
 * consistent with "kty", coordinates of exactly 32 bytes on the curve, RSA
 * modulus of 2048..8192 bits without leading zeros and an odd exponent > 1. */
int veil_jwk_parse(json_object *jwk, EVP_PKEY **key, enum veil_jwe_alg *alg, veil_err_t *err);

/* Encrypts plain to the recipient's public key: returns the flattened JWE as
 * compact JSON text {"protected","encrypted_key","iv","ciphertext","tag"}
 * (malloc'd), its protected header {"alg","enc":"A256GCM"[,"epk"]}. */
char *veil_jwe_encrypt(EVP_PKEY *recipient, enum veil_jwe_alg alg, const uint8_t *plain, size_t len,
		       veil_err_t *err);

/* Decrypts a flattened JWE with the TEE's private key, which decides the
 * one alg accepted. "aad" is honoured if present; any other member, header
 * parameter ("zip", "crit", ...), or algorithm is refused. *plain is malloc'd
 * (NUL-terminated; *plain_len excludes it); the caller cleanses it. */
int veil_jwe_decrypt(EVP_PKEY *key, const char *jwe, size_t jwe_len, uint8_t **plain, size_t *plain_len,
		     veil_err_t *err);

#endif
