/* libFuzzer target for linux.seccomp, from config.json to the BPF the agent
 * loads: the input is the seccomp object, parsed inside a minimal
 * config.json as the host parses it, built into a CreateContainerRequest,
 * packed and decoded as the agent decodes requests, validated, and
 * compiled with libseccomp as the agent compiles it. Besides memory errors
 * it checks that what the host accepts the agent accepts and compiles. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/seccomp.h"
#include "agent/validate.h"
#include "hv/guest_spec.h"
#include "lib/oci_spec.h"
#include "proto/rpc.h"

/* An invariant broken: named on stderr, so the crash says which. */
#define require(cond)                                                                            \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, __LINE__, #cond); \
			abort();                                                                 \
		}                                                                                \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"}, \"linux\": {\"seccomp\": ";
	if (size > (1u << 20))
		return 0;
	char *doc = malloc(sizeof(head) + size + 2);
	if (doc == NULL)
		return 0;
	memcpy(doc, head, sizeof(head) - 1);
	memcpy(doc + sizeof(head) - 1, data, size);
	memcpy(doc + sizeof(head) - 1 + size, "}}", 2);
	struct oci_spec spec;
	veil_err_t err = NULL;
	int rc = oci_spec_parse(doc, sizeof(head) - 1 + size + 2, &spec, &err);
	free(doc);
	if (rc < 0) {
		require(err != NULL && strchr(err->msg, '\n') == NULL);
		veil_error_free(&err);
		return 0;
	}
	struct veil_guest_request g;
	if (spec.seccomp == NULL || veil_guest_request_build(&g, "fuzz", &(struct veil_container_fs){ .rootfs_serial = "rootfs0" }, &spec, false, NULL, &err) < 0) {
		veil_error_free(&err);
		oci_spec_free(&spec);
		return 0;
	}
	size_t len;
	uint8_t *packed = veil_rpc_pack_request(VEIL_METHOD_CREATE_CONTAINER, &g.req.base, 0, &len);
	veil_guest_request_release(&g);
	oci_spec_free(&spec);
	if (packed == NULL)
		return 0;
	int method, code;
	char why[160];
	ProtobufCMessage *msg = veil_rpc_unpack_request(NULL, packed, len, &method, &code, why, sizeof(why));
	free(packed);
	require(msg != NULL);
	/* The host's bounds are the agent's: a profile the host took is valid there. */
	require(agent_validate_request(method, msg, &code, &err) == 0);
	const Veil__Agent__V1__CreateContainerRequest *req = (const void *)msg;
	struct agent_seccomp *filter = agent_seccomp_compile(req->seccomp, agent_seccomp_absent_archs(), &err);
	if (filter != NULL)
		require(agent_seccomp_length(filter) > 0);
	agent_seccomp_free(filter);
	veil_error_free(&err);
	protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}
