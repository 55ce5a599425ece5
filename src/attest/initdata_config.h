/* What init-data configures in a confidential guest, read from its [data]
 * entries (attest/initdata.h) the way CoCo's guest components read them:
 *
 *   "cdh.toml"    [kbc] url, kbs_cert          the key broker (guest-components' CDH)
 *   "aa.toml"     [token_configs.kbs] url, cert    (its attestation agent; used
 *                                              when cdh.toml names no KBS)
 *   "policy.rego" the agent policy: Kata's Rego, of which veil reads the
 *                 `default NAME := true|false` lines (see veil_initdata_policy)
 *   "veil.toml"   [secrets] NAME = "kbs:///repo/type/tag": secrets every
 *                 container of the VM gets under /run/secrets/NAME;
 *                 [mounts] allow = ["/etc/hosts", ...]: the destinations at
 *                 which a container may have a file of the host's
 *
 * The host reads them to relay the guest's connection to the KBS and to
 * report mistakes before a VM starts; the guest reads them from the init-data
 * it has checked against its TEE's HOST_DATA / MRCONFIGID, and acts on them. */
#ifndef VEIL_ATTEST_INITDATA_CONFIG_H
#define VEIL_ATTEST_INITDATA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/initdata.h"
#include "lib/error.h"

/* ---- the key broker ---- */

#define VEIL_KBS_HOST_MAX 253

struct veil_kbs_address {
	bool https;
	char host[VEIL_KBS_HOST_MAX + 1];  /* a DNS name, or an IPv4 or IPv6 address (without brackets) */
	uint16_t port;                     /* the URL's, or 80 / 443 */
	char authority[VEIL_KBS_HOST_MAX + 9]; /* the Host header: host[:port], IPv6 in brackets */
	char *cert_pem;                    /* the KBS's certificate (kbs_cert / cert), or NULL */
};

/* Parses "http://HOST[:PORT]" or "https://...", without path, query or user. */
int veil_kbs_url_parse(const char *url, struct veil_kbs_address *kbs, veil_err_t *err);
/* 1 with *kbs filled from cdh.toml, else aa.toml; 0 if neither names a KBS. */
int veil_initdata_kbs(const struct veil_initdata *d, struct veil_kbs_address *kbs, veil_err_t *err);
void veil_kbs_address_free(struct veil_kbs_address *kbs);

/* ---- the agent policy ---- */

struct veil_agent_policy {
	bool exec; /* ExecProcessRequest: processes may be started in a running container */
};

/* policy.rego, in the subset veil reads: `package agent_policy`, `import`
 * lines, comments, blank lines and `default NAME := true` or `:= false` (or
 * `= ...`). Any other rule is refused rather than half-understood, and so is
 * a false default for a request veil does not enforce yet (only
 * ExecProcessRequest is enforced). Without policy.rego: exec is denied. */
int veil_initdata_policy(const struct veil_initdata *d, struct veil_agent_policy *p, veil_err_t *err);
/* The same for a policy given as text (tests, fuzzing). */
int veil_agent_policy_parse(const char *rego, struct veil_agent_policy *p, veil_err_t *err);

/* ---- secrets ---- */

#define VEIL_SECRET_NAME_MAX 64
#define VEIL_SECRET_PATH_MAX (3 * 64 + 2)
#define VEIL_MAX_SECRETS 64

/* A secret a container gets: /run/secrets/NAME holds KBS resource PATH. */
struct veil_secret_ref {
	char name[VEIL_SECRET_NAME_MAX + 1]; /* [A-Za-z0-9._-], not "." or ".." */
	char path[VEIL_SECRET_PATH_MAX + 1]; /* repo/type/tag (veil_kbs_resource_path_check) */
};

/* name and "kbs:///repo/type/tag" into *ref; the messages name the secret. */
int veil_secret_ref_parse(const char *name, const char *uri, struct veil_secret_ref *ref, veil_err_t *err);
/* veil.toml's [secrets] into refs (at most max), *n of them. */
int veil_initdata_secrets(const struct veil_initdata *d, struct veil_secret_ref *refs, size_t max, size_t *n,
			  veil_err_t *err);
/* Adds ref to refs[0..*n) unless a secret of its name is there: the same
 * resource is no error, another one is. */
int veil_secret_refs_add(struct veil_secret_ref *refs, size_t max, size_t *n, const struct veil_secret_ref *ref,
			 veil_err_t *err);

/* ---- host files ---- */

#define VEIL_MOUNT_ALLOW_MAX 32
#define VEIL_MOUNT_PATH_MAX 255

/* The destinations at which a confidential container may have a host file,
 * copied in (a confidential guest shares no directory with the host). The
 * host can read and alter what it puts there. */
struct veil_mount_policy {
	size_t n;
	char destinations[VEIL_MOUNT_ALLOW_MAX][VEIL_MOUNT_PATH_MAX + 1];
};

/* veil.toml's [mounts] allow: at most VEIL_MOUNT_ALLOW_MAX absolute,
 * normalised paths (no empty, "." or ".." component, no trailing '/', no
 * control character), each once. Without a [mounts] table (or without
 * veil.toml, or init-data) the default: the files podman makes for every
 * container, /etc/hosts, /etc/hostname, /etc/resolv.conf and
 * /run/.containerenv, which say only what the host decides anyway (names,
 * resolvers, the container's name); `allow = []` allows none. */
int veil_initdata_mounts(const struct veil_initdata *d, struct veil_mount_policy *p, veil_err_t *err);
/* Whether p names destination, exactly as written. */
bool veil_mount_policy_allows(const struct veil_mount_policy *p, const char *destination);

#endif
