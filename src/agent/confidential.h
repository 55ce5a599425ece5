/* The agent of a confidential guest (docs/confidential.md). The guest knows
 * it is one from veil.tee= on its measured command line. At boot it takes
 * the init-data from the host's TEE service and checks it against the
 * HOST_DATA / MRCONFIGID its TEE was launched with; until that holds, it runs
 * nothing. The init-data gives the agent policy (exec), the key broker and
 * the secrets every container gets; containers' secrets are fetched after a
 * fresh attestation and put on a tmpfs at /run/secrets. The VM's tenancy
 * history goes into the attestation. An ordinary VM's agent refuses secrets. */
#ifndef VEIL_AGENT_CONFIDENTIAL_H
#define VEIL_AGENT_CONFIDENTIAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent/container.h"
#include "attest/initdata_config.h"
#include "lib/error.h"
#include "proto/rpc.h"

/* Reads veil.tee= and, in a confidential guest, checks the init-data.
 * Problems are not fatal: they are logged, and the guest then refuses to run
 * anything, saying why. */
void agent_confidential_boot(void);

/* Before a container is created: refuses in a confidential guest whose
 * init-data is not known good, or host files it does not allow (below), and
 * secrets in an ordinary VM. */
int agent_confidential_check_create(const Veil__Agent__V1__CreateContainerRequest *req, int *code, veil_err_t *err);
/* A confidential guest's rule for the host's files in req: no shared tree,
 * no bind mount of one, no writable layer on a host disk, and a copied-in
 * file ("file" mount) only at a destination allowed names. */
int agent_confidential_check_mounts(const Veil__Agent__V1__CreateContainerRequest *req,
				    const struct veil_mount_policy *allowed, int *code, veil_err_t *err);
/* Whether a container created by req gets secrets. */
bool agent_confidential_has_secrets(const Veil__Agent__V1__CreateContainerRequest *req);
/* Once container c exists: attests to the KBS with a fresh nonce and puts
 * every secret of the init-data and of req on a tmpfs for c (c->secrets).
 * On failure the error carries the KBS's reason; the caller removes c. */
int agent_confidential_fetch_secrets(struct agent_container *c, const Veil__Agent__V1__CreateContainerRequest *req,
				     int *code, veil_err_t *err);
/* The container's secrets become its init's user's, before the init starts. */
int agent_confidential_own_secrets(const struct agent_container *c, uid_t uid, gid_t gid, int *code, veil_err_t *err);
/* The path of c's secrets, or NULL when it has none. */
const char *agent_confidential_secrets_dir(const struct agent_container *c, char *buf, size_t size);

/* The agent policy's answer for ExecProcess into a running container. */
int agent_confidential_exec_allowed(int *code, veil_err_t *err);

/* The tenancy history: a container was created; a Scrub ended the tenancy
 * (clean: nothing was left). */
void agent_confidential_container_created(void);
void agent_confidential_scrubbed(bool clean);

#endif
