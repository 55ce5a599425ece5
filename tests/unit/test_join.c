/* runtime/join.c: which namespace paths name a veil container of the root,
 * taken against this process standing in for a monitor (its pid in a
 * state.json, its binary the one running). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "runtime/join.h"
#include "runtime/state.h"
#include "tap.h"

static char root[] = "/tmp/veil-test-join.XXXXXX";

/* A spec whose namespaces are given as JSON array elements. */
static int spec_with(struct oci_spec *spec, const char *namespaces)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, \"process\": {\"args\": [\"sh\"], "
		 "\"cwd\": \"/\"}, \"linux\": {\"namespaces\": [%s]}}",
		 namespaces);
	veil_err_t err = NULL;
	int rc = oci_spec_parse(text, strlen(text), spec, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	veil_error_free(&err);
	return rc;
}

static void test_paths_of_a_container(void)
{
	int me = getpid();
	char ns[512];
	snprintf(ns, sizeof(ns),
		 "{\"type\": \"network\", \"path\": \"/proc/%d/ns/net\"}, {\"type\": \"ipc\", \"path\": \"/proc/%d/ns/ipc\"}, "
		 "{\"type\": \"uts\", \"path\": \"/proc/%d/ns/uts\"}, {\"type\": \"mount\"}, {\"type\": \"pid\"}",
		 me, me, me);
	struct oci_spec spec;
	struct veil_join j;
	veil_err_t err = NULL;
	CHECK(spec_with(&spec, ns) == 0 && veil_join_find(root, &spec, &j, &err) == 0, "the paths are accepted");
	CHECK(strcmp(j.owner, "owner") == 0 && j.n_shared == 3 && strcmp(j.shared[0], "network") == 0 &&
		      strcmp(j.shared[1], "ipc") == 0 && strcmp(j.shared[2], "uts") == 0,
	      "they name container owner, whose network, ipc and uts namespaces are shared");
	bool cleared = spec.netns_path == NULL;
	for (size_t i = 0; i < spec.n_namespaces; i++)
		cleared = cleared && spec.namespace_paths[i] == NULL;
	CHECK(cleared, "the paths are out of the spec, the netns to take over too");
	oci_spec_free(&spec);

	CHECK(spec_with(&spec, "{\"type\": \"network\", \"path\": \"/proc/1/ns/net\"}, {\"type\": \"mount\"}") == 0 &&
		      veil_join_find(root, &spec, &j, &err) == 0 && j.owner[0] == '\0' && spec.netns_path != NULL,
	      "a path to another process is left for veil_check_namespace_paths to judge");
	oci_spec_free(&spec);
}

static void test_refused(void)
{
	int me = getpid();
	char ns[512];
	static const struct {
		const char *type, *file, *why;
	} bad[] = {
		{ "mount", "mnt", "cannot share the mount namespace" },
		{ "network", "ipc", "is not a network namespace" },
		{ "network", "net/", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(ns, sizeof(ns), "{\"type\": \"%s\", \"path\": \"/proc/%d/ns/%s\"}", bad[i].type, me, bad[i].file);
		struct oci_spec spec;
		struct veil_join j;
		veil_err_t err = NULL;
		int parsed = spec_with(&spec, ns);
		int rc = parsed == 0 ? veil_join_find(root, &spec, &j, &err) : 0;
		if (bad[i].why != NULL)
			CHECK(rc < 0 && strstr(err->msg, bad[i].why) != NULL, "%s is refused: %s", ns, err ? err->msg : "accepted");
		else
			CHECK(rc == 0 && j.owner[0] == '\0', "%s, not of the /proc/PID/ns/NAME form, is not a container's", ns);
		veil_error_free(&err);
		if (parsed == 0)
			oci_spec_free(&spec);
	}
	/* The same paths from another root: the process is a veil binary there. */
	snprintf(ns, sizeof(ns), "{\"type\": \"network\", \"path\": \"/proc/%d/ns/net\"}", me);
	struct oci_spec spec;
	struct veil_join j;
	veil_err_t err = NULL;
	int rc = spec_with(&spec, ns) == 0 ? veil_join_find("/nonexistent-root", &spec, &j, &err) : 0;
	CHECK(rc < 0 && strstr(err->msg, "under another --root") != NULL,
	      "a veil process that is no container of this root is refused: %s", err ? err->msg : "accepted");
	veil_error_free(&err);
	oci_spec_free(&spec);
}

static void test_infra(void)
{
	struct oci_spec spec;
	CHECK(spec_with(&spec, "{\"type\": \"mount\"}") == 0 && !veil_join_is_infra(&spec), "sh is no pod's infra");
	free(spec.process->args[0]);
	spec.process->args[0] = strdup("/catatonit");
	char **args = realloc(spec.process->args, 3 * sizeof(char *));
	spec.process->args = args;
	args[1] = strdup("-P");
	args[2] = NULL;
	spec.process->n_args = 2;
	CHECK(veil_join_is_infra(&spec), "podman's pause process, catatonit -P, is");
	oci_spec_free(&spec);
}

int main(void)
{
	if (mkdtemp(root) == NULL)
		return 1;
	veil_err_t err = NULL;
	char dir[sizeof(root) + 16];
	snprintf(dir, sizeof(dir), "%s/owner", root);
	const struct veil_state s = {
		.id = (char *)"owner", .bundle = (char *)"/b", .rootfs = (char *)"/b/rootfs", .created = (char *)"",
		.pid = getpid(), .pid_start = veil_process_start_time(getpid()),
	};
	if (mkdir(dir, 0700) < 0 || veil_state_write(root, &s, &err) < 0) {
		printf("Bail out! %s\n", err ? err->msg : "mkdir");
		return 1;
	}
	test_paths_of_a_container();
	test_refused();
	test_infra();
	veil_remove_tree(root);
	return tap_done();
}
