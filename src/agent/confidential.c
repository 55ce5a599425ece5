#include "agent/confidential.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "agent/attester.h"
#include "agent/kfile.h"
#include "agent/log.h"
#include "agent/rootfs.h"
#include "agent/tee_port.h"
#include "agent/wipe.h"
#include "attest/initdata.h"
#include "attest/initdata_config.h"
#include "attest/jose.h"
#include "attest/kbs_client.h"
#include "lib/cleanup.h"
#include "lib/hex.h"
#include "proto/contract.h"

#define TEE_TIMEOUT_MS 10000
#define KBS_TIMEOUT_MS 30000
/* Bytes of the tmpfs for each secret (veil-kbs's bound on a resource), plus its inodes' room. */
#define SECRET_MAX (1u << 20)
#define TENANCY_DOMAIN "veil-tenancy-v1"

static struct {
	enum veil_tee tee;             /* 0: an ordinary VM */
	bool verified;                 /* the init-data is the one the TEE was launched with */
	char why[512];                 /* why not */
	struct veil_initdata init_data; /* .text NULL: none */
	struct veil_kbs_address kbs;
	struct veil_agent_policy policy;
	struct veil_secret_ref secrets[VEIL_MAX_SECRETS];
	size_t n_secrets;
	struct veil_mount_policy mounts; /* the host files a container may have */
	struct veil_tenancy tenancy;
} conf;

/* ---- the tenancy history ---- */

/* history = SHA-384(history || event || tenants || scrubbed || containers),
 * the counts as they are after the event, 32-bit big-endian. */
static void history_extend(char event)
{
	const struct veil_tenancy *t = &conf.tenancy;
	uint8_t rec[1 + 12];
	rec[0] = (uint8_t)event;
	const uint32_t counts[3] = { t->tenants, t->scrubbed, t->containers };
	for (int i = 0; i < 3; i++)
		for (int b = 0; b < 4; b++)
			rec[1 + 4 * i + b] = (uint8_t)(counts[i] >> (24 - 8 * b));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 0;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, conf.tenancy.history, sizeof(conf.tenancy.history)) != 1 ||
	    EVP_DigestUpdate(ctx, rec, sizeof(rec)) != 1 || EVP_DigestFinal_ex(ctx, conf.tenancy.history, &len) != 1)
		agent_fatal("hashing the tenancy history failed");
	EVP_MD_CTX_free(ctx);
}

void agent_confidential_container_created(void)
{
	if (conf.tee == 0)
		return;
	conf.tenancy.containers++;
	history_extend('C');
}

void agent_confidential_scrubbed(bool clean)
{
	if (conf.tee == 0)
		return;
	/* A scrub of a VM that ran nothing since the last one ends no tenancy. */
	if (conf.tenancy.containers == 0)
		return;
	conf.tenancy.tenants++;
	conf.tenancy.scrubbed += clean;
	conf.tenancy.containers = 0;
	history_extend(clean ? 'S' : 'U');
}

/* ---- boot: the TEE and its init-data ---- */

__attribute__((format(printf, 1, 2))) static void refuse_all(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(conf.why, sizeof(conf.why), fmt, ap);
	va_end(ap);
	conf.verified = false;
	agent_log_error("confidential guest: %s; nothing will run in this VM", conf.why);
}

/* The TEE veil.tee= names on the kernel command line, 0 for none. */
static enum veil_tee tee_from_cmdline(void)
{
	char line[4096];
	if (agent_read_file("/proc/cmdline", line, sizeof(line)) < 0)
		return 0;
	for (char *save = NULL, *tok = strtok_r(line, " \n", &save); tok != NULL; tok = strtok_r(NULL, " \n", &save)) {
		if (strncmp(tok, VEIL_TEE_CMDLINE, strlen(VEIL_TEE_CMDLINE)) != 0)
			continue;
		enum veil_tee tee = veil_tee_by_name(tok + strlen(VEIL_TEE_CMDLINE));
		/* Measured, yet not a TEE veil knows: still no ordinary VM. */
		return tee != 0 ? tee : VEIL_TEE_EMULATED + 1;
	}
	return 0;
}

/* The init-data's settings, once it is known good. */
static int read_settings(veil_err_t *err)
{
	conf.policy = (struct veil_agent_policy){ .exec = false };
	if (veil_initdata_mounts(&conf.init_data, &conf.mounts, err) < 0)
		return -1;
	if (conf.init_data.text == NULL)
		return 0;
	if (veil_initdata_policy(&conf.init_data, &conf.policy, err) < 0 ||
	    veil_initdata_secrets(&conf.init_data, conf.secrets, VEIL_MAX_SECRETS, &conf.n_secrets, err) < 0 ||
	    veil_initdata_kbs(&conf.init_data, &conf.kbs, err) < 0)
		return -1;
	return 0;
}

/* The host's init-data, hashed again and compared with what the TEE holds. */
static int check_init_data(veil_err_t *err)
{
	const struct veil_tee_request req = { .op = VEIL_TEE_OP_INIT_DATA };
	cleanup_wipe uint8_t *payload = NULL;
	struct veil_tee_response resp;
	if (agent_tee_port_call(&req, &payload, &resp, TEE_TIMEOUT_MS, err) < 0)
		return veil_fail_context(err, "the init-data");
	if (resp.len > 0 && veil_initdata_parse((const char *)resp.data, resp.len, &conf.init_data, err) < 0)
		return -1;
	static const uint8_t zero_report_data[64];
	uint8_t held[48], expected[48] = { 0 };
	size_t len;
	if (agent_attester_evidence(conf.tee, zero_report_data, NULL, held, &len, err) < 0)
		return -1;
	if (conf.init_data.text != NULL)
		veil_initdata_tee_field(&conf.init_data, expected, len);
	const char *field = conf.tee == VEIL_TEE_TDX ? "MRCONFIGID" : "HOST_DATA";
	if (memcmp(expected, held, len) != 0) {
		char want[97], got[97];
		veil_hex_encode(expected, len, want);
		veil_hex_encode(held, len, got);
		return veil_fail_tagged(err, EPERM, "the init-data the host gave %s to %s, but the TEE's %s holds %s: the host "
					     "altered it", conf.init_data.text != NULL ? "hashes" : "(none) amounts", want,
				 field, got);
	}
	return read_settings(err);
}

/* OpenSSL 3 builds its tables of an algorithm's implementations the first
 * time one of its kind is fetched, and under TCG that is most of what a TEE
 * key pair and a JWE cost (about 110 ms and 50 ms). A round trip through a
 * throwaway key here moves it to boot, before a pooled VM is claimed. The
 * keys made for attestations stay fresh: this one is freed at once. */
static void warm_up_crypto(void)
{
	static const uint8_t probe[] = "veil";
	veil_err_t err = NULL;
	cleanup_free char *jwe = NULL;
	uint8_t *plain = NULL;
	size_t len = 0;
	EVP_PKEY *key = veil_jose_generate_key(VEIL_JWE_ECDH_ES_A256KW, &err);
	if (key == NULL || (jwe = veil_jwe_encrypt(key, VEIL_JWE_ECDH_ES_A256KW, probe, sizeof(probe), &err)) == NULL ||
	    veil_jwe_decrypt(key, jwe, strlen(jwe), &plain, &len, &err) < 0) {
		/* The attestation will meet the same failure and report it. */
		agent_log_debug("warming up OpenSSL: %s", err->msg);
		veil_error_free(&err);
	}
	free(plain);
	EVP_PKEY_free(key);
}

void agent_confidential_boot(void)
{
	conf.tee = tee_from_cmdline();
	if (conf.tee == 0)
		return;
	memset(conf.tenancy.history, 0, sizeof(conf.tenancy.history));
	memcpy(conf.tenancy.history, TENANCY_DOMAIN, strlen(TENANCY_DOMAIN));
	history_extend('B');
	if (conf.tee > VEIL_TEE_EMULATED) {
		refuse_all("veil.tee= names a TEE this agent does not know");
		return;
	}
	veil_err_t err = NULL;
	if (agent_tee_port_open(&err) < 0 || check_init_data(&err) < 0) {
		refuse_all("%s", err->msg);
		agent_wipe_error(&err);
		return;
	}
	conf.verified = true;
	warm_up_crypto();
	agent_log_debug("confidential guest (%s): init-data %s, %zu secret(s), exec %s, %zu host file(s) allowed",
			veil_tee_name(conf.tee), conf.init_data.text != NULL ? "checked against the TEE" : "none",
			conf.n_secrets, conf.policy.exec ? "allowed" : "denied", conf.mounts.n);
	if (conf.tee == VEIL_TEE_EMULATED)
		agent_log_debug("the emulated TEE protects nothing: its host signs the reports");
}

/* ---- containers ---- */

int agent_confidential_check_create(const Veil__Agent__V1__CreateContainerRequest *req, int *code, veil_err_t *err)
{
	*code = VEIL_RPC_FAILED_PRECONDITION;
	if (conf.tee == 0) {
		if (req->n_secrets > 0) {
			*code = VEIL_RPC_INVALID_ARGUMENT;
			return veil_fail(err, 0, "secrets need a confidential guest: this VM runs on no TEE");
		}
		return 0;
	}
	if (!conf.verified)
		return veil_fail(err, 0, "this confidential guest runs nothing: %s", conf.why);
	return agent_confidential_check_mounts(req, &conf.mounts, code, err);
}

int agent_confidential_check_mounts(const Veil__Agent__V1__CreateContainerRequest *req,
				    const struct veil_mount_policy *allowed, int *code, veil_err_t *err)
{
	*code = VEIL_RPC_PERMISSION_DENIED;
	if (req->shared_fs_tag[0] != '\0')
		return veil_fail(err, 0, "a confidential guest shares no filesystem with the host (shared tree \"%.64s\" "
					 "refused)", req->shared_fs_tag);
	/* The host would read every byte the container writes. */
	if (req->upper_serial[0] != '\0')
		return veil_fail(err, 0, "a confidential container's writable layer stays in guest memory (disk \"%.64s\" "
					 "refused)", req->upper_serial);
	for (size_t i = 0; i < req->n_mounts; i++) {
		const Veil__Agent__V1__Mount *m = req->mounts[i];
		if (strcmp(m->type, "bind") == 0)
			return veil_fail(err, 0, "mount on %.255s: a confidential guest shares no filesystem with the host",
					 m->destination);
		if (strcmp(m->type, "file") == 0 && !veil_mount_policy_allows(allowed, m->destination))
			return veil_fail(err, 0, "host file on %.255s refused: the init-data this guest checked does not name "
						 "it (veil.toml [mounts] allow)", m->destination);
	}
	return 0;
}

/* The secrets the container gets: the init-data's and the request's, each name once. */
static int container_secrets(const Veil__Agent__V1__CreateContainerRequest *req, struct veil_secret_ref *refs, size_t *n,
			     int *code, veil_err_t *err)
{
	memcpy(refs, conf.secrets, conf.n_secrets * sizeof(*refs));
	*n = conf.n_secrets;
	for (size_t i = 0; i < req->n_secrets; i++) {
		char uri[8 + VEIL_SECRET_PATH_MAX + 1];
		struct veil_secret_ref ref;
		snprintf(uri, sizeof(uri), "kbs:///%.*s", (int)VEIL_SECRET_PATH_MAX, req->secrets[i]->resource);
		if (strlen(req->secrets[i]->resource) > VEIL_SECRET_PATH_MAX ||
		    veil_secret_ref_parse(req->secrets[i]->name, uri, &ref, err) < 0) {
			*code = VEIL_RPC_INVALID_ARGUMENT;
			return veil_fail(err, 0, "secret %.64s: not a name and KBS resource path", req->secrets[i]->name);
		}
		if (veil_secret_refs_add(refs, VEIL_MAX_SECRETS, n, &ref, err) < 0) {
			*code = VEIL_RPC_INVALID_ARGUMENT;
			return -1;
		}
	}
	return 0;
}

const char *agent_confidential_secrets_dir(const struct agent_container *c, char *buf, size_t size)
{
	if (!c->secrets)
		return NULL;
	snprintf(buf, size, AGENT_CONTAINERS_DIR "/%s/secrets", c->id);
	return buf;
}

static int evidence(void *ctx, const uint8_t report_data[64], json_object **ev, veil_err_t *err)
{
	(void)ctx;
	uint8_t field[48];
	size_t len;
	return agent_attester_evidence(conf.tee, report_data, ev, field, &len, err);
}

static int write_secret(int dir, const char *name, const uint8_t *data, size_t len, veil_err_t *err)
{
	cleanup_close int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return veil_fail(err, errno, "/run/secrets/%s", name);
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return veil_fail(err, errno, "writing /run/secrets/%s", name);
		done += (size_t)n;
	}
	return 0;
}

/* Attestation with a fresh nonce, then each secret from the KBS into dir. */
static int fetch(const struct veil_secret_ref *refs, size_t n, int dir, veil_err_t *err)
{
	if (conf.kbs.host[0] == '\0')
		return veil_fail(err, 0, "the VM's init-data names no KBS (cdh.toml [kbc] url, aa.toml [token_configs.kbs] url)");
	if (conf.kbs.https)
		return veil_fail_tagged(err, ENOTSUP, "the KBS is https://%s: TLS in the guest is not supported yet (use http://; "
					       "docs/confidential.md says what the relaying host can and cannot do)",
				 conf.kbs.authority);
	if (agent_tee_port_kbs_connect(TEE_TIMEOUT_MS, err) < 0)
		return -1;
	const struct veil_kbs_transport t = agent_tee_port_kbs_transport();
	const char *paths[VEIL_MAX_SECRETS];
	for (size_t i = 0; i < n; i++)
		paths[i] = refs[i].path;
	const struct veil_kbs_client_opts o = {
		.tee = conf.tee == VEIL_TEE_TDX ? VEIL_KBS_TEE_TDX : VEIL_KBS_TEE_SNP,
		/* What Trustee's KBS speaks today; veil-kbs speaks it too. */
		.version = VEIL_KBS_V0_4_0,
		.host = conf.kbs.authority,
		.init_data = conf.init_data.text,
		.init_data_len = conf.init_data.text != NULL ? conf.init_data.len : 0,
		.evidence = evidence,
		.tenancy = &conf.tenancy,
		/* In the attestation's round trip. */
		.prefetch = paths,
		.n_prefetch = n,
		.timeout_ms = KBS_TIMEOUT_MS,
	};
	struct veil_kbs_client *client = NULL;
	int rc = veil_kbs_client_attest(&t, &o, &client, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint8_t *data = NULL;
		size_t len = 0;
		rc = veil_kbs_client_get_resource(client, refs[i].path, &data, &len, err);
		if (rc == 0)
			rc = write_secret(dir, refs[i].name, data, len, err);
		if (data != NULL)
			OPENSSL_cleanse(data, len);
		agent_wipe_free(data);
		if (rc < 0)
			veil_fail_context(err, "secret %s", refs[i].name);
	}
	veil_kbs_client_free(client);
	agent_tee_port_kbs_close();
	return rc;
}

bool agent_confidential_has_secrets(const Veil__Agent__V1__CreateContainerRequest *req)
{
	return conf.tee != 0 && conf.n_secrets + req->n_secrets > 0;
}

int agent_confidential_fetch_secrets(struct agent_container *c, const Veil__Agent__V1__CreateContainerRequest *req,
				     int *code, veil_err_t *err)
{
	if (conf.tee == 0)
		return 0;
	struct veil_secret_ref refs[VEIL_MAX_SECRETS];
	size_t n;
	if (container_secrets(req, refs, &n, code, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	*code = VEIL_RPC_FAILED_PRECONDITION;
	char dir[PATH_MAX], options[64];
	agent_confidential_secrets_dir(c, dir, sizeof(dir));
	/* In guest memory only; the container sees it read-only (mountns.c). */
	snprintf(options, sizeof(options), "mode=0755,size=%zuk,nr_inodes=%zu", n * (SECRET_MAX / 1024) + 64, n + 16);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "mkdir %s", dir);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) < 0)
		return veil_fail(err, errno, "mounting the secrets' tmpfs");
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return veil_fail(err, errno, "%s", dir);
	if (fetch(refs, n, dfd, err) < 0)
		return veil_fail_context(err, "fetching the container's secrets");
	agent_log_debug("container %s: %zu secret(s) fetched after attestation", c->id, n);
	return 0;
}

struct owner {
	int dir;
	uid_t uid;
	gid_t gid;
};

static int chown_entry(const char *name, unsigned char type, void *arg)
{
	(void)type;
	const struct owner *o = arg;
	return fchownat(o->dir, name, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
}

int agent_confidential_own_secrets(const struct agent_container *c, uid_t uid, gid_t gid, int *code, veil_err_t *err)
{
	char dir[PATH_MAX];
	if (agent_confidential_secrets_dir(c, dir, sizeof(dir)) == NULL)
		return 0;
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct owner o = { dfd, uid, gid };
	if (dfd < 0 || agent_each_entry(dir, chown_entry, &o) != 0) {
		*code = VEIL_RPC_INTERNAL;
		return veil_fail(err, errno, "giving the secrets to uid %u", (unsigned)uid);
	}
	return 0;
}

int agent_confidential_exec_allowed(int *code, veil_err_t *err)
{
	if (conf.tee == 0 || conf.policy.exec)
		return 0;
	*code = VEIL_RPC_PERMISSION_DENIED;
	return veil_fail(err, 0, "exec into a confidential container is denied by the agent policy (init-data's "
				 "policy.rego: default ExecProcessRequest := true allows it)");
}
