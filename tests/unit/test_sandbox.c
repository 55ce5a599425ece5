/* The sandbox, veil_vm_get and the monitor against the fake hypervisor: a
 * container is created, a process runs and is waited for, and everything
 * goes again, with no VMM involved. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/vm.h"
#include "fake_hypervisor.h"
#include "lib/config.h"
#include "lib/fsutil.h"
#include "lib/oci_spec.h"
#include "runtime/monitor.h"
#include "runtime/sandbox.h"
#include "runtime/state.h"
#include "runtime/stdio_relay.h"
#include "tap.h"

static char tmp[] = "/tmp/veil-test-sandbox.XXXXXX";
static char state[128], rootfs[128], kernel[128], initrd[128], upper[128];

/* %s: the source of a bind mount on /data. */
static const char spec_format[] =
	"{\"ociVersion\": \"1.0.2\","
	" \"process\": {\"args\": [\"sh\", \"-c\", \"echo hi\"], \"cwd\": \"/\"},"
	" \"root\": {\"path\": \"rootfs\"},"
	" \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
	"            {\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"rbind\"]}],"
	" \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"user\"}, {\"type\": \"network\"}],"
	"           \"resources\": {\"memory\": {\"limit\": 67108864}}}}";

static int parse_spec(const char *bind_source, struct oci_spec *spec, veil_err_t *err)
{
	char text[sizeof(spec_format) + 256];
	snprintf(text, sizeof(text), spec_format, bind_source);
	return oci_spec_parse(text, strlen(text), spec, err);
}

/* A configuration whose hypervisor is the fake; [factory] lines may follow. */
static void load_config(struct veil_config *cfg, const char *factory)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "[hypervisor.qemu]\nkernel = \"%s\"\ninitrd = \"%s\"\ndefault_memory = 128\n"
		 "[agent]\ndial_timeout = 1\nrequest_timeout = 5\n[runtime]\nstate_dir = \"%s\"\n"
		 "image_cache_size = 0\n%s", /* nothing kept outside the test's directory */
		 kernel, initrd, state, factory);
	veil_err_t err = NULL;
	if (veil_config_parse(text, strlen(text), "test", cfg, &err) < 0) {
		printf("# %s\n", err->msg);
		abort();
	}
	cfg->hypervisor = "fake";
}

/* A lone container's sandbox, as the CLI's monitor makes it. */
static struct veil_sandbox_opts lone(const char *id, const struct oci_spec *spec)
{
	return (struct veil_sandbox_opts){
		.id = id, .spec = spec, .rootfs = rootfs, .memory_limit = spec->resources.memory_limit,
		.cpu_quota = spec->resources.cpu_quota, .cpu_period = spec->resources.cpu_period, .signal_fd = -1,
	};
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void test_create_exec_wait_destroy(const struct veil_config *cfg, const struct oci_spec *spec)
{
	fake_reset(&(struct fake_script){ 0 });
	veil_err_t err = NULL;
	CHECK(veil_claim_id(state, "c1", &err) == 0, "the ID is claimed");
	struct veil_sandbox sb;
	const struct veil_sandbox_opts opts = lone("c1", spec);
	int rc = veil_sandbox_create(&sb, cfg, state, &opts, &err);
	CHECK(rc == 0, "sandbox created: %s", rc == 0 ? "ok" : err->msg);
	if (rc < 0)
		return;
	struct fake_record r;
	fake_get_record(&r);
	CHECK(r.starts == 1 && strcmp(r.name, "c1") == 0, "one VM, named after the container");
	CHECK(r.memory_mib == 128 + 64, "sized as the default plus the container's memory limit (%u MiB)", r.memory_mib);
	const char *image = sb.containers[0].image_path;
	CHECK(r.n_disks == 2 && strcmp(r.disk_serial, "veil-rootfs") == 0 && strcmp(r.disk_path, image) == 0,
	      "its first disk is the rootfs image, with the serial the guest looks for");
	CHECK(strcmp(r.disk2_serial, "veil-upper") == 0 && exists(upper),
	      "its second, the writable layer's image, made beside the rootfs");
	CHECK(exists(image), "the rootfs image was built");
	CHECK(r.pcie_root_ports == 0, "a lone container's VM has no root ports to hot-plug into");
	CHECK(r.hellos == 1, "the agent was greeted once");
	CHECK(strcmp(r.container_id, "c1") == 0 && strcmp(r.rootfs_serial, "veil-rootfs") == 0 &&
		      strcmp(r.upper_serial, "veil-upper") == 0,
	      "the container was created in the guest on the rootfs disk, its writable layer on the other");
	CHECK(strcmp(r.namespaces, "pid mount user network") == 0, "every namespace goes to the guest, user included: %s",
	      r.namespaces);
	CHECK(r.n_mounts == 2, "the proc mount, and the bind mount of a small file copied in");

	int out[2];
	CHECK(pipe(out) == 0, "pipe");
	struct veil_relay relay;
	veil_relay_init(&relay, &sb.agent, sb.id, "", false, -1, out[1], out[1]);
	CHECK(veil_sandbox_exec(&sb, &relay, spec->process, NULL, &err) == 0, "the process is started and waited for");
	while (!relay.exited && veil_sandbox_pump(&sb, &err) == 0)
		;
	CHECK(relay.exited && veil_exit_status_code(&relay.status) == FAKE_EXIT_CODE, "its exit status arrives: %d",
	      veil_exit_status_code(&relay.status));
	char buf[128] = "";
	ssize_t n = read(out[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strcmp(buf, FAKE_STDOUT) == 0, "its output is relayed");
	fake_get_record(&r);
	CHECK(strcmp(r.exec_args, "sh -c echo hi") == 0 && r.waits == 1, "the guest ran the container's process");
	close(out[0]);
	close(out[1]);

	char image_copy[256];
	snprintf(image_copy, sizeof(image_copy), "%s", image);
	veil_sandbox_detach(&sb, &relay);
	veil_sandbox_destroy(&sb);
	fake_get_record(&r);
	CHECK(r.teardowns == 1 && !exists(image_copy), "destroy tears the VM down and removes the image");
	CHECK(exists(upper), "and keeps the writable layer for the container's next start");
	CHECK(veil_sandbox_create(&sb, cfg, state, &opts, &err) == 0 && exists(upper), "which finds it there");
	fake_get_record(&r);
	CHECK(strcmp(r.disk2_serial, "veil-upper") == 0, "and gives it to its VM");
	veil_sandbox_destroy(&sb);
	unlink(upper);
	veil_error_free(&err);
}

static void test_failures(const struct veil_config *cfg, const struct oci_spec *spec)
{
	veil_err_t err = NULL;
	struct veil_sandbox sb;
	char image[256];
	snprintf(image, sizeof(image), "%s/c2/rootfs.erofs", state);

	const struct veil_sandbox_opts opts = lone("c2", spec);
	fake_reset(&(struct fake_script){ .fail_start = true });
	CHECK(veil_claim_id(state, "c2", &err) == 0, "another ID is claimed");
	int rc = veil_sandbox_create(&sb, cfg, state, &opts, &err);
	CHECK(rc < 0 && strstr(err->msg, "the fake VMM refuses to start") != NULL,
	      "a VMM that does not start fails the sandbox, saying why: %s", rc < 0 ? err->msg : "created");
	CHECK(!exists(image), "and leaves no image behind");
	veil_error_free(&err);

	fake_reset(&(struct fake_script){ .mute_agent = true });
	rc = veil_sandbox_create(&sb, cfg, state, &opts, &err);
	CHECK(rc < 0 && strstr(err->msg, "guest never reported ready (agent.dial_timeout = 1 s)") != NULL,
	      "an agent that never answers fails the sandbox after dial_timeout: %s", rc < 0 ? err->msg : "created");
	struct fake_record r;
	fake_get_record(&r);
	CHECK(r.starts == 1 && r.teardowns == 1 && !exists(image), "its VM is torn down and its image removed");
	char upper2[256];
	snprintf(upper2, sizeof(upper2), "%s/veil-c2.upper.ext4", tmp);
	CHECK(!exists(upper2), "and the writable layer it made for nothing");
	veil_error_free(&err);

	struct oci_spec dir_bind;
	CHECK(parse_spec(tmp, &dir_bind, &err) == 0, "a spec with a bind mount of a directory");
	fake_reset(&(struct fake_script){ 0 });
	const struct veil_sandbox_opts dir_opts = lone("c2", &dir_bind);
	CHECK(veil_sandbox_create(&sb, cfg, state, &dir_opts, &err) < 0 && err != NULL &&
		      strstr(err->msg, "on /data refused") != NULL &&
		      strstr(err->msg, "set shared_fs = \"virtio-fs\"") != NULL,
	      "with shared_fs = \"none\" it is refused, saying how to share it: %s", err ? err->msg : "created");
	fake_get_record(&r);
	CHECK(r.starts == 0 && !exists(image) && !exists(upper2), "before any VM or image is made");
	oci_spec_free(&dir_bind);
	veil_error_free(&err);
}

/* A pod: one VM, later containers hot-plugged and unplugged, one network. */
static void test_pod(const struct veil_config *cfg, const struct oci_spec *spec)
{
	fake_reset(&(struct fake_script){ 0 });
	veil_err_t err = NULL;
	CHECK(veil_claim_id(state, "pod1", &err) == 0, "the pod's ID is claimed");
	struct veil_sandbox sb;
	const struct veil_sandbox_opts opts = {
		.id = "pod1", .spec = spec, .rootfs = rootfs, .pod = true, .memory_limit = 128 << 20, .signal_fd = -1,
	};
	int rc = veil_sandbox_create(&sb, cfg, state, &opts, &err);
	CHECK(rc == 0, "the pod's sandbox is created: %s", rc == 0 ? "ok" : err->msg);
	if (rc < 0)
		return;
	struct fake_record r;
	fake_get_record(&r);
	CHECK(r.memory_mib == 128 + 128, "the pod's VM is sized from the pod's limits, not a container's (%u MiB)",
	      r.memory_mib);
	CHECK(r.pcie_root_ports == cfg->factory.pcie_root_port, "it has [factory] pcie_root_port root ports (%u)",
	      r.pcie_root_ports);
	CHECK(strcmp(r.namespaces, "pid mount user") == 0, "its containers share the guest's network: %s", r.namespaces);

	CHECK(veil_sandbox_add_container(&sb, "c1", spec, rootfs, NULL, &err) == 0, "a second container joins");
	fake_get_record(&r);
	CHECK(r.starts == 1 && r.hotplugs == 1 && strcmp(r.hotplugged_serial, "veil-rootfs-1") == 0,
	      "in the same VM, its image hot-plugged with a serial of its own");
	CHECK(r.creates == 2 && strcmp(r.container_id, "c1") == 0 && strcmp(r.rootfs_serial, "veil-rootfs-1") == 0,
	      "and the container created in the guest on that disk");
	CHECK(strcmp(r.namespaces, "pid mount user") == 0, "sharing the pod's network");
	char image[256];
	snprintf(image, sizeof(image), "%s/pod1/rootfs-1.erofs", state);
	CHECK(exists(image) && veil_sandbox_container_count(&sb) == 2, "its image is in the pod's state directory");
	CHECK(veil_sandbox_add_container(&sb, "c1", spec, rootfs, NULL, &err) < 0 &&
		      strstr(err->msg, "container with id exists: c1") != NULL,
	      "a container ID is taken once per sandbox");
	veil_error_free(&err);

	CHECK(veil_sandbox_remove_container(&sb, "c1", &err) == 0, "the second container goes");
	fake_get_record(&r);
	CHECK(strcmp(r.destroyed, "c1") == 0 && r.unplugs == 1 && !exists(image) && sb.vm.root_ports_used == 0,
	      "destroyed in the guest, its disk unplugged and its image removed");
	CHECK(veil_sandbox_add_container(&sb, "c2", spec, rootfs, NULL, &err) == 0, "a third container joins");
	fake_get_record(&r);
	CHECK(strcmp(r.hotplugged_serial, "veil-rootfs-2") == 0, "on a serial never used before in the VM");
	CHECK(veil_sandbox_remove_container(&sb, "nope", &err) < 0 && strstr(err->msg, "not in sandbox pod1"),
	      "removing an unknown container fails, saying so");
	veil_error_free(&err);

	for (uint32_t i = 1; i < cfg->factory.pcie_root_port; i++) {
		char id[16];
		snprintf(id, sizeof(id), "more%u", i);
		veil_sandbox_add_container(&sb, id, spec, rootfs, NULL, &err);
	}
	rc = veil_sandbox_add_container(&sb, "toomany", spec, rootfs, NULL, &err);
	CHECK(rc < 0 && strstr(err->msg, "no free PCIe root port") != NULL && veil_sandbox_has_container(&sb, "c2") &&
		      !veil_sandbox_has_container(&sb, "toomany"),
	      "past the VM's root ports a container is refused and nothing of it stays: %s", rc < 0 ? err->msg : "added");
	veil_error_free(&err);
	veil_sandbox_destroy(&sb);
	fake_get_record(&r);
	CHECK(r.teardowns == 1 && !exists(image), "the pod's VM goes with the sandbox");
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/pod1", state);
	veil_remove_tree(dir);
}

static void test_vm_sources(void)
{
	char factory[1024];
	snprintf(factory, sizeof(factory),
		 "[factory]\nvm_cache_number = 1\nvm_cache_endpoint = \"%s/cache.sock\"\nenable_template = true\n"
		 "template_path = \"%s/template\"\n",
		 tmp, tmp);
	struct veil_config cfg;
	load_config(&cfg, factory);
	fake_reset(&(struct fake_script){ 0 });
	veil_err_t err = NULL;
	struct veil_vm_shape shape;
	CHECK(veil_vm_shape_from_config(&cfg, "v1", "", &shape, &err) == 0 && shape.hv == &fake_hypervisor,
	      "the configuration picks the backend");
	struct veil_vm vm;
	struct veil_vm_origin origin;
	CHECK(veil_vm_get(&shape, &vm, &origin, &err) == 0 && origin.source == VEIL_VM_BOOTED,
	      "with no factory running and no template, the VM is booted");
	char want[256];
	snprintf(want, sizeof(want), "factory not running on %s/cache.sock", tmp);
	CHECK(strcmp(origin.pool_skipped, want) == 0, "why not from the pool: %s", origin.pool_skipped);
	CHECK(strcmp(origin.template_skipped, "no template built yet") == 0, "why not a clone: %s",
	      origin.template_skipped);
	struct fake_record r;
	fake_get_record(&r);
	CHECK(r.hellos == 1, "the booted VM's agent was greeted");
	vm.hv->teardown(&vm);
	veil_config_free(&cfg);

	load_config(&cfg, "");
	CHECK(veil_vm_shape_from_config(&cfg, "v2", "", &shape, &err) == 0 && shape.cache_endpoint == NULL &&
		      shape.template_dir == NULL,
	      "without [factory], neither faster path is tried");
	free(cfg.qemu.kernel);
	cfg.qemu.kernel = NULL;
	CHECK(veil_vm_shape_from_config(&cfg, "v3", "", &shape, &err) < 0 &&
		      strcmp(err->msg, "no guest kernel configured ([hypervisor.qemu] kernel)") == 0,
	      "a configuration without a kernel describes no VM");
	veil_error_free(&err);
	veil_config_free(&cfg);
}

static void test_monitor(const struct veil_config *cfg, const struct oci_spec *spec)
{
	fake_reset(&(struct fake_script){ 0 });
	veil_err_t err = NULL;
	CHECK(veil_claim_id(state, "m1", &err) == 0, "the monitor's ID is claimed");
	int out[2];
	CHECK(pipe(out) == 0, "pipe");
	char bundle[128];
	snprintf(bundle, sizeof(bundle), "%s", tmp);
	const struct veil_monitor_opts o = {
		.cfg = cfg, .root = state, .id = "m1", .bundle = bundle, .spec = spec, .rootfs = rootfs,
		.stdio = { -1, out[1], out[1] }, .start_now = true, .creator_fd = -1, .signal_fd = -1,
	};
	int rc = veil_monitor_run(&o, &err);
	CHECK(rc == FAKE_EXIT_CODE, "veil run's monitor exits with the container's status: %d", rc);
	char buf[128] = "";
	ssize_t n = read(out[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strcmp(buf, FAKE_STDOUT) == 0, "and relayed its output");
	struct fake_record r;
	fake_get_record(&r);
	CHECK(r.starts == 1 && r.teardowns == 1, "its VM is gone with it");
	char path[256];
	snprintf(path, sizeof(path), "%s/m1/state.json", state);
	CHECK(exists(path), "it recorded the container's state");
	snprintf(path, sizeof(path), "%s/m1/monitor.sock", state);
	CHECK(!exists(path), "and removed its control socket");
	close(out[0]);
	close(out[1]);
	veil_error_free(&err);
}

/* What the shim's delete asks of a recorded pid: this very process, alive. */
static void test_process_alive(void)
{
	pid_t self = getpid();
	unsigned long long start = veil_process_start_time(self);
	CHECK(start != 0 && veil_process_alive(self, start), "a live process with its start time is alive");
	CHECK(!veil_process_alive(self, start + 1), "another start time: a reused pid is not the process recorded");
	CHECK(!veil_process_alive(0, start), "pid 0 is nobody");
	int gate[2];
	CHECK(pipe(gate) == 0, "a pipe to hold a child");
	pid_t child = fork();
	if (child == 0) {
		char c;
		close(gate[1]);
		_exit(read(gate[0], &c, 1) == 0 ? 0 : 1);
	}
	close(gate[0]);
	unsigned long long child_start = veil_process_start_time(child);
	CHECK(child_start != 0 && veil_process_alive(child, child_start), "a running child is alive");
	close(gate[1]);
	siginfo_t info;
	/* Until it is a zombie, not reaped. */
	waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT);
	CHECK(!veil_process_alive(child, child_start), "a process that has exited (a zombie) is not alive");
	waitpid(child, NULL, 0);
	CHECK(!veil_process_alive(child, child_start), "nor once it is reaped");
}

int main(void)
{
	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", tmp);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", tmp);
	snprintf(upper, sizeof(upper), "%s/veil-c1.upper.ext4", tmp);
	veil_err_t err = NULL;
	/* Never run: the fake has no VMM. The template's check looks at their identity. */
	CHECK(veil_write_file_atomic(kernel, "", 0, &err) == 0 && veil_write_file_atomic(initrd, "", 0, &err) == 0,
	      "a guest kernel and initrd");
	char file[256];
	snprintf(file, sizeof(file), "%s/hello", rootfs);
	CHECK(veil_mkdir_p(rootfs, 0755, &err) == 0 && veil_write_file_atomic(file, "hi\n", 3, &err) == 0,
	      "a rootfs to build an image of");
	struct oci_spec spec;
	CHECK(parse_spec(kernel, &spec, &err) == 0, "the container's spec");
	struct veil_config cfg;
	load_config(&cfg, "");

	test_create_exec_wait_destroy(&cfg, &spec);
	test_failures(&cfg, &spec);
	test_pod(&cfg, &spec);
	test_vm_sources();
	test_monitor(&cfg, &spec);
	test_process_alive();

	oci_spec_free(&spec);
	veil_config_free(&cfg);
	veil_remove_tree(tmp);
	return tap_done();
}
