#include "attest/emulated.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "attest/pki.h"
#include "attest/snp.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"

#define ARK_FILE "ark.der"
#define ASK_FILE "ask.der"
#define VCEK_FILE "vcek.der"
#define KEY_FILE "vcek.key" /* written last: its presence means the chip is complete */
#define MAX_FILE (64 * 1024)
#define CERT_DAYS (25 * 365)
#define ORGANIZATION "veil emulated TEE (development and CI only)"

struct veil_emulated_chip {
	uint8_t *ark, *ask, *vcek;
	size_t ark_len, ask_len, vcek_len;
	EVP_PKEY *key;
	uint8_t chip_id[64];
};

void veil_emulated_chip_free(struct veil_emulated_chip *chip)
{
	if (chip == NULL)
		return;
	free(chip->ark);
	free(chip->ask);
	free(chip->vcek);
	EVP_PKEY_free(chip->key);
	free(chip);
}

struct veil_snp_anchor veil_emulated_chip_anchor(const struct veil_emulated_chip *chip)
{
	return (struct veil_snp_anchor){ VEIL_EMULATED_PRODUCT, chip->ark, chip->ark_len, chip->ask, chip->ask_len };
}

const uint8_t *veil_emulated_chip_vcek(const struct veil_emulated_chip *chip, size_t *len)
{
	*len = chip->vcek_len;
	return chip->vcek;
}

const uint8_t *veil_emulated_chip_id(const struct veil_emulated_chip *chip)
{
	return chip->chip_id;
}

int veil_emulated_chip_sign(const struct veil_emulated_chip *chip, const struct veil_emulated_report_request *req,
			    uint8_t report[VEIL_SNP_REPORT_SIZE], veil_err_t *err)
{
	struct veil_snp_report r = {
		.version = 2,
		.policy = req->policy,
		.vmpl = req->vmpl,
		.signature_algo = VEIL_SNP_SIG_ALGO_ECDSA_P384_SHA384,
		.current_tcb = VEIL_EMULATED_TCB,
		.committed_tcb = VEIL_EMULATED_TCB,
		.launch_tcb = VEIL_EMULATED_TCB,
		.reported_tcb = req->reported_tcb,
	};
	memcpy(r.measurement, req->measurement, sizeof(r.measurement));
	memcpy(r.host_data, req->host_data, sizeof(r.host_data));
	memcpy(r.report_data, req->report_data, sizeof(r.report_data));
	memcpy(r.chip_id, chip->chip_id, sizeof(r.chip_id));
	memset(r.report_id_ma, 0xff, sizeof(r.report_id_ma)); /* no migration agent, as real firmware says */
	veil_snp_report_encode(&r, report);
	uint8_t rr[48], ss[48];
	if (veil_ecdsa_sign_raw(chip->key, EVP_sha384(), report, VEIL_SNP_SIGNED_SIZE, rr, ss, sizeof(rr), err) < 0)
		return veil_fail_context(err, "emulated chip");
	veil_reverse_bytes(rr, sizeof(rr));
	veil_reverse_bytes(ss, sizeof(ss));
	memcpy(r.signature_r, rr, sizeof(rr));
	memcpy(r.signature_s, ss, sizeof(ss));
	veil_snp_report_encode(&r, report);
	return 0;
}

/* ---- creating a chip ---- */

static int openssl_failed(veil_err_t *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char detail[256] = "unknown error";
	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	return veil_fail(err, EIO, "emulated chip: %s: %s", what, detail);
}

static int add_ext_nid(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* An extension whose value is given as its encoded bytes, as AMD's are. */
static int add_ext_raw(X509 *cert, const char *oid, const uint8_t *value, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *data = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	if (obj != NULL && data != NULL && ASN1_OCTET_STRING_set(data, value, (int)len) == 1)
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, data);
	int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(data);
	ASN1_OBJECT_free(obj);
	return ok ? 0 : -1;
}

static int add_ext_integer(X509 *cert, const char *oid, uint8_t value)
{
	uint8_t der[4] = { V_ASN1_INTEGER, 1, value };
	if (value < 0x80)
		return add_ext_raw(cert, oid, der, 3);
	der[1] = 2;
	der[2] = 0;
	der[3] = value;
	return add_ext_raw(cert, oid, der, 4);
}

static X509 *new_cert(const char *common_name, X509 *issuer, EVP_PKEY *subject_key)
{
	X509 *cert = X509_new();
	uint8_t serial[8];
	BIGNUM *bn = NULL;
	if (cert == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_NAME *name = X509_get_subject_name(cert);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL || X509_set_version(cert, 2) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)ORGANIZATION, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, X509_get_subject_name(issuer != NULL ? issuer : cert)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), CERT_DAYS, 0, NULL) == NULL ||
	    X509_set_pubkey(cert, subject_key) != 1)
		goto fail;
	BN_free(bn);
	return cert;
fail:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

/* RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt: AMD's scheme. */
static int sign_pss(X509 *cert, EVP_PKEY *issuer_key)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = ctx != NULL && EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), NULL, issuer_key) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 &&
		 X509_sign_ctx(cert, ctx) > 0;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int add_vcek_extensions(X509 *vcek, const uint8_t chip_id[64])
{
	static const uint8_t product[] = { V_ASN1_IA5STRING, 13, 'v', 'e', 'i', 'l', '-', 'e', 'm', 'u', 'l', 'a', 't', 'e', 'd' };
	struct veil_snp_tcb tcb = veil_snp_tcb_decode(VEIL_EMULATED_TCB, VEIL_SNP_TCB_MILAN);
	return add_ext_integer(vcek, VEIL_VCEK_OID_STRUCT_VERSION, 0) < 0 ||
			       add_ext_raw(vcek, VEIL_VCEK_OID_PRODUCT_NAME, product, sizeof(product)) < 0 ||
			       add_ext_integer(vcek, VEIL_VCEK_OID_BL_SPL, tcb.bootloader) < 0 ||
			       add_ext_integer(vcek, VEIL_VCEK_OID_TEE_SPL, tcb.tee) < 0 ||
			       add_ext_integer(vcek, VEIL_VCEK_OID_SNP_SPL, tcb.snp) < 0 ||
			       add_ext_integer(vcek, VEIL_VCEK_OID_UCODE_SPL, tcb.microcode) < 0 ||
			       add_ext_raw(vcek, VEIL_VCEK_OID_HWID, chip_id, 64) < 0
		       ? -1
		       : 0;
}

static int write_der(const char *dir, const char *name, const uint8_t *der, size_t len, veil_err_t *err)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return veil_fail(err, ENAMETOOLONG, "%s", dir);
	return veil_write_file_atomic(path, der, len, err);
}

static int write_cert(const char *dir, const char *name, X509 *cert, veil_err_t *err)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	if (len <= 0)
		return openssl_failed(err, "encoding a certificate");
	int rc = write_der(dir, name, der, (size_t)len, err);
	OPENSSL_free(der);
	return rc;
}

static int write_key(const char *dir, EVP_PKEY *key, veil_err_t *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *der = NULL;
	int len = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (len <= 0)
		return openssl_failed(err, "encoding the chip key");
	int rc = write_der(dir, KEY_FILE, der, (size_t)len, err);
	OPENSSL_clear_free(der, (size_t)len);
	return rc;
}

static int create_chip(int dirfd, const char *dir, veil_err_t *err)
{
	EVP_PKEY *ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	EVP_PKEY *ask_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	EVP_PKEY *vcek_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	X509 *ark = NULL, *ask = NULL, *vcek = NULL;
	uint8_t chip_id[64];
	int rc = -1;
	if (ark_key == NULL || ask_key == NULL || vcek_key == NULL) {
		openssl_failed(err, "generating keys");
		goto out;
	}
	if (RAND_bytes(chip_id, sizeof(chip_id)) != 1) {
		openssl_failed(err, "choosing a CHIP_ID");
		goto out;
	}
	ark = new_cert(VEIL_EMULATED_NAME_MARK " ARK - protects nothing", NULL, ark_key);
	if (ark == NULL || add_ext_nid(ark, ark, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext_nid(ark, ark, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 || sign_pss(ark, ark_key) < 0) {
		openssl_failed(err, "making the ARK");
		goto out;
	}
	ask = new_cert(VEIL_EMULATED_NAME_MARK " ASK - protects nothing", ark, ask_key);
	if (ask == NULL || add_ext_nid(ask, ark, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext_nid(ask, ark, NID_key_usage, "critical,keyCertSign") < 0 || sign_pss(ask, ark_key) < 0) {
		openssl_failed(err, "making the ASK");
		goto out;
	}
	vcek = new_cert(VEIL_EMULATED_NAME_MARK " VCEK - protects nothing", ask, vcek_key);
	if (vcek == NULL || add_vcek_extensions(vcek, chip_id) < 0 || sign_pss(vcek, ask_key) < 0) {
		openssl_failed(err, "making the VCEK");
		goto out;
	}
	/* The key last, after the certificates are durable: it marks the chip complete. */
	if (write_cert(dir, ARK_FILE, ark, err) < 0 || write_cert(dir, ASK_FILE, ask, err) < 0 ||
	    write_cert(dir, VCEK_FILE, vcek, err) < 0 || fsync(dirfd) < 0 || write_key(dir, vcek_key, err) < 0 ||
	    fsync(dirfd) < 0) {
		veil_fail(err, errno, "emulated chip: syncing %s", dir);
		goto out;
	}
	rc = 0;
out:
	X509_free(ark);
	X509_free(ask);
	X509_free(vcek);
	EVP_PKEY_free(ark_key);
	EVP_PKEY_free(ask_key);
	EVP_PKEY_free(vcek_key);
	return rc;
}

/* ---- loading and checking a chip ---- */

/* Reads dir/name, which must be a regular file of ours with mode 0600. */
static uint8_t *read_private_file(int dirfd, const char *dir, const char *name, size_t *len, veil_err_t *err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		veil_fail(err, errno, "emulated chip: %s/%s", dir, name);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0600) {
		veil_fail(err, EPERM, "emulated chip: %s/%s must be a regular file of uid %u with mode 0600 (is uid %u, mode %04o)",
			  dir, name, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	if (st.st_size <= 0 || st.st_size > MAX_FILE) {
		veil_fail(err, EINVAL, "emulated chip: %s/%s: %lld bytes", dir, name, (long long)st.st_size);
		return NULL;
	}
	cleanup_free uint8_t *buf = malloc((size_t)st.st_size);
	size_t have = 0;
	while (buf != NULL && have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			veil_fail(err, n < 0 ? errno : EIO, "emulated chip: reading %s/%s", dir, name);
			return NULL;
		}
		have += (size_t)n;
	}
	if (buf == NULL) {
		veil_fail(err, ENOMEM, "emulated chip: %s/%s", dir, name);
		return NULL;
	}
	*len = have;
	return veil_steal_ptr(buf);
}

static EVP_PKEY *parse_key(const uint8_t *der, size_t len, veil_err_t *err)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	EVP_PKEY *key = p8 != NULL && p == der + len ? EVP_PKCS82PKEY(p8) : NULL;
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (key == NULL || !veil_pkey_is_ec_curve(key, "secp384r1")) {
		EVP_PKEY_free(key);
		ERR_clear_error();
		veil_fail(err, EINVAL, "emulated chip: %s is not a PKCS#8 P-384 key", KEY_FILE);
		return NULL;
	}
	return key;
}

/* The certificates must be veil's emulated ones, chained, with the key. */
static int check_chip(struct veil_emulated_chip *chip, veil_err_t *err)
{
	X509 *ark = veil_x509_from_der(chip->ark, chip->ark_len, "emulated ARK", err);
	X509 *vcek = ark != NULL ? veil_x509_from_der(chip->vcek, chip->vcek_len, "emulated VCEK", err) : NULL;
	int rc = -1;
	char subject[256];
	if (vcek == NULL)
		goto out;
	veil_x509_subject(ark, subject, sizeof(subject));
	if (strstr(subject, VEIL_EMULATED_NAME_MARK) == NULL) {
		veil_fail(err, EINVAL, "emulated chip: %s is not veil's emulated ARK (subject \"%s\")", ARK_FILE, subject);
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(vcek), chip->key) != 1) {
		ERR_clear_error();
		veil_fail(err, EINVAL, "emulated chip: %s is not the key of %s", KEY_FILE, VCEK_FILE);
		goto out;
	}
	if (veil_snp_vcek_hwid(vcek, chip->chip_id, err) < 0)
		goto out;
	/* A probe report through the real verifier checks the rest: the chain
	 * with its PSS signatures, the TCB extensions, the hwID. */
	struct veil_emulated_report_request probe = { .reported_tcb = VEIL_EMULATED_TCB,
						      .policy = VEIL_SNP_POLICY_RESERVED_ONE };
	uint8_t report[VEIL_SNP_REPORT_SIZE];
	struct veil_snp_anchor anchor = veil_emulated_chip_anchor(chip);
	struct veil_evidence_claims claims;
	if (veil_emulated_chip_sign(chip, &probe, report, err) < 0 ||
	    veil_snp_verify(report, sizeof(report), chip->vcek, chip->vcek_len, &anchor, 1, &claims, err) < 0)
		goto out;
	rc = 0;
out:
	X509_free(ark);
	X509_free(vcek);
	return rc < 0 ? veil_fail_context(err, "emulated chip invalid") : 0;
}

static int load_chip(int dirfd, const char *dir, struct veil_emulated_chip *chip, veil_err_t *err)
{
	size_t key_len = 0;
	uint8_t *key_der = read_private_file(dirfd, dir, KEY_FILE, &key_len, err);
	if (key_der == NULL)
		return -1;
	chip->key = parse_key(key_der, key_len, err);
	OPENSSL_clear_free(key_der, key_len);
	if (chip->key == NULL)
		return -1;
	chip->ark = read_private_file(dirfd, dir, ARK_FILE, &chip->ark_len, err);
	chip->ask = chip->ark ? read_private_file(dirfd, dir, ASK_FILE, &chip->ask_len, err) : NULL;
	chip->vcek = chip->ask ? read_private_file(dirfd, dir, VCEK_FILE, &chip->vcek_len, err) : NULL;
	if (chip->vcek == NULL)
		return -1;
	return check_chip(chip, err);
}

static int open_private_dir(const char *dir, veil_err_t *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "emulated chip: creating %s", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return veil_fail(err, e, "emulated chip: %s", dir);
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return veil_fail(err, EPERM, "emulated chip: %s must be a directory of uid %u with mode 0700 (is uid %u, mode %04o)",
				 dir, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

int veil_emulated_chip_open(const char *dir, struct veil_emulated_chip **out, veil_err_t *err)
{
	cleanup_close int dirfd = open_private_dir(dir, err);
	if (dirfd < 0)
		return -1;
	if (flock(dirfd, LOCK_EX) < 0)
		return veil_fail(err, errno, "emulated chip: locking %s", dir);
	if (faccessat(dirfd, KEY_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return veil_fail(err, errno, "emulated chip: %s/%s", dir, KEY_FILE);
		if (create_chip(dirfd, dir, err) < 0)
			return -1;
	}
	struct veil_emulated_chip *chip = calloc(1, sizeof(*chip));
	if (chip == NULL)
		return veil_fail(err, ENOMEM, "emulated chip");
	if (load_chip(dirfd, dir, chip, err) < 0) {
		veil_emulated_chip_free(chip);
		return -1;
	}
	*out = chip;
	return 0;
}

/* ---- the emulated launch measurement ---- */

#define LAUNCH_DOMAIN "veil-emulated-launch-v1"

int veil_emulated_launch_measurement(const struct veil_emulated_launch *launch, uint8_t out[48], veil_err_t *err)
{
	if (launch->kernel == NULL)
		return veil_fail(err, EINVAL, "emulated launch measurement: no kernel");
	if (launch->vcpus == 0)
		return veil_fail(err, EINVAL, "emulated launch measurement: no vCPUs");
	size_t dlen = launch->init_data_digest_len;
	if ((dlen != 0 && dlen != 32 && dlen != 48) || (dlen != 0 && launch->init_data_digest == NULL))
		return veil_fail(err, EINVAL, "emulated launch measurement: init-data digest of %zu bytes (expected 0, 32 or 48)",
				 dlen);
	uint8_t buf[sizeof(LAUNCH_DOMAIN) - 1 + 3 * 48 + 4 + 1 + 48];
	size_t n = 0;
	memcpy(buf, LAUNCH_DOMAIN, sizeof(LAUNCH_DOMAIN) - 1);
	n += sizeof(LAUNCH_DOMAIN) - 1;
	if (veil_digest_file(launch->kernel, EVP_sha384(), buf + n, err) < 0)
		return veil_fail_context(err, "emulated launch measurement: kernel");
	n += 48;
	if (launch->initrd != NULL) {
		if (veil_digest_file(launch->initrd, EVP_sha384(), buf + n, err) < 0)
			return veil_fail_context(err, "emulated launch measurement: initrd");
	} else if (EVP_Digest("", 0, buf + n, NULL, EVP_sha384(), NULL) != 1) {
		return openssl_failed(err, "hashing");
	}
	n += 48;
	const char *cmdline = launch->cmdline != NULL ? launch->cmdline : "";
	if (EVP_Digest(cmdline, strlen(cmdline), buf + n, NULL, EVP_sha384(), NULL) != 1)
		return openssl_failed(err, "hashing");
	n += 48;
	for (int i = 0; i < 4; i++)
		buf[n++] = (uint8_t)(launch->vcpus >> (8 * i));
	buf[n++] = (uint8_t)dlen;
	if (dlen != 0)
		memcpy(buf + n, launch->init_data_digest, dlen);
	n += dlen;
	if (EVP_Digest(buf, n, out, NULL, EVP_sha384(), NULL) != 1)
		return openssl_failed(err, "hashing");
	return 0;
}
