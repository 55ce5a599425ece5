/* OpenSSL helpers shared by the evidence verifiers and the emulated chip:
 * strict DER certificates, issuer checks, raw ECDSA signatures, digests.
 * Every failure is one line that names what was being checked. */
#ifndef VEIL_ATTEST_PKI_H
#define VEIL_ATTEST_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/error.h"

/* Parses one DER certificate that must fill exactly len bytes. */
X509 *veil_x509_from_der(const uint8_t *der, size_t len, const char *what, veil_err_t *err);

/* Checks that child names parent as its issuer and carries parent's
 * signature; with pss_sha384, also that the signature is RSASSA-PSS with
 * SHA-384, as AMD's ARK, ASK and VCEK certificates are signed. */
int veil_x509_check_issued(X509 *child, const char *child_name, X509 *parent, const char *parent_name,
			   bool pss_sha384, veil_err_t *err);

/* Copies the certificate's subject as one line, for messages. */
void veil_x509_subject(X509 *cert, char *out, size_t size);

/* Verifies an ECDSA signature given as big-endian r and s of n bytes each
 * over msg, hashed with md. Returns 0 if valid; -1 naming `what` otherwise. */
int veil_ecdsa_verify_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msg_len, const uint8_t *r,
			  const uint8_t *s, size_t n, const char *what, veil_err_t *err);

/* Signs msg with key (hashed with md) and returns r and s big-endian in n bytes each. */
int veil_ecdsa_sign_raw(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msg_len, uint8_t *r, uint8_t *s,
			size_t n, veil_err_t *err);

/* Digests a whole file (kernel, initrd, firmware) with md into out
 * (EVP_MD_get_size(md) bytes), streaming. */
int veil_digest_file(const char *path, const EVP_MD *md, uint8_t *out, veil_err_t *err);

/* True if key is an EC key on the named curve (e.g. "secp384r1"). */
bool veil_pkey_is_ec_curve(EVP_PKEY *key, const char *curve);

/* Reverses n bytes in place: SNP reports store integers little-endian. */
void veil_reverse_bytes(uint8_t *p, size_t n);

/* Compares in constant time; for digests and bindings. */
bool veil_bytes_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* Writes up to max_bytes of bytes as hex into out (size >= 2 * max_bytes + 4),
 * with "..." when truncated: for expected/actual values in messages. */
const char *veil_hex_brief(const uint8_t *bytes, size_t n, size_t max_bytes, char *out, size_t size);

#endif
