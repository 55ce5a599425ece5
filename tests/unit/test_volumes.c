/* What becomes of each spec mount (runtime/volumes.c), by shared_fs and
 * confidentiality, with real host paths: directories, files, a FIFO, a
 * missing source, podman's /dev/shm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/fsutil.h"
#include "lib/oci_spec.h"
#include "runtime/volumes.h"
#include "tap.h"

static char tmp[] = "/tmp/veil-test-volumes.XXXXXX";
static char dir[128], file[128], fifo[128], missing[128];

static const struct veil_mount_rules shared = { .shared_fs = true };
static const struct veil_mount_rules none = { .shared_fs = false };
/* A confidential guest whose init-data allows a host file on /etc/motd and /data. */
static const struct veil_mount_policy allowed = { .n = 2, .destinations = { "/etc/motd", "/data" } };
static const struct veil_mount_rules confidential = { .confidential = &allowed };

/* The route of a bind mount of source on destination, or -1 with the error in msg. */
static int route(const char *source, const char *destination, const struct veil_mount_rules *rules,
		 struct veil_mount_plan *plan, char *msg, size_t size)
{
	char *options[] = { "rbind", "ro" };
	const struct oci_mount m = {
		.destination = (char *)destination, .type = "bind", .source = (char *)source, .options = options,
		.n_options = 2,
	};
	veil_err_t err = NULL;
	int rc = veil_mount_route(&m, rules, plan, &err);
	snprintf(msg, size, "%.500s", err != NULL ? err->msg : "");
	veil_error_free(&err);
	return rc < 0 ? -1 : (int)plan->route;
}

static void test_routes(void)
{
	struct veil_mount_plan plan;
	char msg[512];
	const struct oci_mount proc = { .destination = "/proc", .type = "proc", .source = "proc" };
	veil_err_t err = NULL;
	CHECK(veil_mount_route(&proc, &none, &plan, &err) == 0 && plan.route == VEIL_MOUNT_AS_IS,
	      "a proc mount is made in the guest as it is");

	CHECK(route(dir, "/data", &shared, &plan, msg, sizeof(msg)) == VEIL_MOUNT_SHARED,
	      "virtio-fs: a directory is shared");
	CHECK(route(file, "/etc/motd", &shared, &plan, msg, sizeof(msg)) == VEIL_MOUNT_SHARED,
	      "virtio-fs: a file is shared");
	CHECK(route(fifo, "/fifo", &shared, &plan, msg, sizeof(msg)) == VEIL_MOUNT_SKIP,
	      "virtio-fs: a FIFO is skipped (nothing can cross into a VM through it)");
	char want[512];
	snprintf(want, sizeof(want), "bind mount source %s (for /data): No such file or directory", missing);
	CHECK(route(missing, "/data", &shared, &plan, msg, sizeof(msg)) < 0 && strcmp(msg, want) == 0,
	      "virtio-fs: a missing source fails, as runc's does: %s", msg);

	snprintf(want, sizeof(want),
		 "bind mount of directory %s on /data refused: no host directory reaches the guest with shared_fs = "
		 "\"none\"; set shared_fs = \"virtio-fs\" in [hypervisor.qemu] to share it",
		 dir);
	CHECK(route(dir, "/data", &none, &plan, msg, sizeof(msg)) < 0 && strcmp(msg, want) == 0,
	      "none: a directory is refused in one line naming it and how to share it");
	CHECK(route(file, "/etc/motd", &none, &plan, msg, sizeof(msg)) == VEIL_MOUNT_COPY,
	      "none: a file is copied in (host_files decides whether it is small enough)");
	CHECK(route(missing, "/data", &none, &plan, msg, sizeof(msg)) == VEIL_MOUNT_SKIP,
	      "none: a missing source is skipped, as before");

	/* A container in another container's VM: the VM's shared tree is not its own. */
	const struct veil_mount_rules joined = { .joined = true };
	snprintf(want, sizeof(want),
		 "bind mount of directory %s on /data refused: a container that joins another container's VM gets no host "
		 "directory (the VM's volumes are its first container's)",
		 dir);
	CHECK(route(dir, "/data", &joined, &plan, msg, sizeof(msg)) < 0 && strcmp(msg, want) == 0,
	      "joined: a directory is refused in one line naming it");
	CHECK(route(file, "/etc/motd", &joined, &plan, msg, sizeof(msg)) == VEIL_MOUNT_COPY,
	      "joined: a file is copied in");
	CHECK(route(dir, "/dev/shm", &joined, &plan, msg, sizeof(msg)) == VEIL_MOUNT_TMPFS,
	      "joined: /dev/shm is a guest tmpfs");

	snprintf(want, sizeof(want),
		 "bind mount of %s on /etc/issue refused: a confidential container gets no host file that its "
		 "measured init-data does not name (veil.toml [mounts] allow)",
		 file);
	CHECK(route(file, "/etc/issue", &confidential, &plan, msg, sizeof(msg)) < 0 && strcmp(msg, want) == 0,
	      "confidential: a host file the policy does not name is refused, in one line naming it");
	CHECK(route(file, "/etc//motd", &confidential, &plan, msg, sizeof(msg)) < 0 && strstr(msg, "refused") != NULL,
	      "confidential: the destination is matched as written (the guest sees it so)");
	CHECK(route(dir, "/srv", &confidential, &plan, msg, sizeof(msg)) < 0 && strstr(msg, "does not name") != NULL,
	      "confidential: so is a directory it does not name");
	CHECK(route(file, "/etc/motd", &confidential, &plan, msg, sizeof(msg)) == VEIL_MOUNT_COPY,
	      "confidential: a host file the policy names is copied in");
	snprintf(want, sizeof(want),
		 "bind mount of directory %s on /data refused: a confidential guest shares no directory with the host", dir);
	CHECK(route(dir, "/data", &confidential, &plan, msg, sizeof(msg)) < 0 && strcmp(msg, want) == 0,
	      "confidential: a directory is refused even where the policy names its destination");

	CHECK(route(missing, "/dev/shm", &confidential, &plan, msg, sizeof(msg)) == VEIL_MOUNT_TMPFS &&
		      plan.tmpfs_bytes == VEIL_DEFAULT_SHM_BYTES,
	      "/dev/shm is a guest tmpfs, for a confidential container too; podman's default size without a tmpfs source");
	struct statfs fs;
	if (statfs("/dev/shm", &fs) == 0 && fs.f_type == 0x01021994) {
		CHECK(route("/dev/shm", "/dev/shm", &shared, &plan, msg, sizeof(msg)) == VEIL_MOUNT_TMPFS &&
			      plan.tmpfs_bytes == (uint64_t)fs.f_blocks * fs.f_bsize,
		      "/dev/shm of a tmpfs source: a guest tmpfs of that size (%llu bytes)",
		      (unsigned long long)plan.tmpfs_bytes);
	}
}

static void test_plan(void)
{
	char json[2048];
	snprintf(json, sizeof(json),
		 "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
		 " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
		 "  {\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"rbind\", \"ro\", \"rw\"]},"
		 "  {\"destination\": \"/b\", \"type\": \"none\", \"source\": \"%s\", \"options\": [\"bind\", \"ro\", \"z\"]}]}",
		 dir, file);
	struct oci_spec spec;
	veil_err_t err = NULL;
	CHECK(oci_spec_parse(json, strlen(json), &spec, &err) == 0, "a spec with two bind mounts");
	struct veil_config cfg;
	const char *text = "[hypervisor.qemu]\nshared_fs = \"virtio-fs\"\n";
	CHECK(veil_config_parse(text, strlen(text), "t", &cfg, &err) == 0, "a virtio-fs configuration");
	struct veil_volumes v;
	CHECK(veil_volumes_plan(&cfg, &spec, "/r/rootfs", NULL, &v, &err) == 0, "planned");
	CHECK(v.shared && v.n_exports == 3, "a shared tree of three: the rootfs and both sources");
	CHECK(strcmp(v.exports[0].name, "rootfs") == 0 && strcmp(v.exports[0].host_path, "/r/rootfs") == 0 &&
		      !v.exports[0].readonly && v.exports[0].recursive,
	      "the rootfs, writable for the guest's mount points whatever root.readonly says, with what is mounted below it");
	CHECK(v.mounts[0].route == VEIL_MOUNT_AS_IS && v.mounts[1].route == VEIL_MOUNT_SHARED &&
		      v.mounts[2].route == VEIL_MOUNT_SHARED,
	      "proc as it is, both binds shared");
	CHECK(strcmp(v.mounts[1].shared_name, "m1") == 0 && strcmp(v.exports[1].name, "m1") == 0 &&
		      !v.exports[1].readonly && v.exports[1].recursive,
	      "the first under m1: rw (the last of ro and rw), recursive (rbind)");
	CHECK(strcmp(v.mounts[2].shared_name, "m2") == 0 && strcmp(v.exports[2].host_path, file) == 0 &&
		      v.exports[2].readonly && !v.exports[2].recursive,
	      "the second under m2: read-only, not recursive (bind)");
	veil_volumes_free(&v);
	veil_config_free(&cfg);

	CHECK(veil_config_parse("", 0, "t", &cfg, &err) == 0, "the default configuration");
	CHECK(veil_volumes_plan(&cfg, &spec, "/r/rootfs", NULL, &v, &err) < 0 && strstr(err->msg, "refused") != NULL,
	      "with shared_fs = \"none\" the directory is refused: %s", err ? err->msg : "planned");
	CHECK(v.mounts == NULL && v.exports == NULL, "and nothing is left to free");
	veil_error_free(&err);
	veil_config_free(&cfg);
	oci_spec_free(&spec);
}

/* A confidential container's plan: files its init-data names are copied in;
 * without a policy from the caller, none is. */
static void test_confidential_plan(void)
{
	char json[2048];
	snprintf(json, sizeof(json),
		 "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"},"
		 " \"mounts\": [{\"destination\": \"/dev/shm\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"bind\"]},"
		 "  {\"destination\": \"/etc/motd\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"bind\", \"ro\"]}]}",
		 missing, file);
	struct oci_spec spec;
	struct veil_config cfg;
	struct veil_volumes v;
	veil_err_t err = NULL;
	const char *text = "[hypervisor.qemu]\nconfidential_guest = true\ntee = \"emulated\"\n";
	CHECK(oci_spec_parse(json, strlen(json), &spec, &err) == 0 && veil_config_parse(text, strlen(text), "t", &cfg, &err) == 0,
	      "a confidential configuration and a spec with podman's /dev/shm and a host file");
	CHECK(veil_volumes_plan(&cfg, &spec, "/r/rootfs", &allowed, &v, &err) == 0 && !v.shared && v.n_exports == 0 &&
		      v.mounts[0].route == VEIL_MOUNT_TMPFS && v.mounts[1].route == VEIL_MOUNT_COPY,
	      "the policy names /etc/motd: a guest tmpfs and a copied file, no shared tree");
	veil_volumes_free(&v);
	CHECK(veil_volumes_plan(&cfg, &spec, "/r/rootfs", NULL, &v, &err) < 0 && strstr(err->msg, "/etc/motd refused") != NULL,
	      "a confidential guest planned without its policy gets no host file: %s", err ? err->msg : "planned");
	veil_error_free(&err);
	/* A pod's later container: its routes alone, by the VM's policy. */
	struct veil_mount_plan *plans = veil_mounts_route(&spec, &confidential, &err);
	CHECK(plans != NULL && plans[0].route == VEIL_MOUNT_TMPFS && plans[1].route == VEIL_MOUNT_COPY,
	      "routes by the policy: a guest tmpfs and a copied file");
	free(plans);
	static const struct veil_mount_policy only_hosts = { .n = 1, .destinations = { "/etc/hosts" } };
	const struct veil_mount_rules strict = { .confidential = &only_hosts };
	CHECK(veil_mounts_route(&spec, &strict, &err) == NULL && strstr(err->msg, "on /etc/motd refused") != NULL,
	      "and the first refusal when the policy does not name a file: %s", err ? err->msg : "routed");
	veil_error_free(&err);
	veil_config_free(&cfg);
	oci_spec_free(&spec);
}

int main(void)
{
	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/dir", tmp);
	snprintf(file, sizeof(file), "%s/file", tmp);
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp);
	snprintf(missing, sizeof(missing), "%s/missing", tmp);
	veil_err_t err = NULL;
	CHECK(veil_mkdir_p(dir, 0755, &err) == 0 && veil_write_file_atomic(file, "x", 1, &err) == 0 &&
		      mkfifo(fifo, 0600) == 0,
	      "a directory, a file and a FIFO");
	test_routes();
	test_plan();
	test_confidential_plan();
	veil_remove_tree(tmp);
	return tap_done();
}
