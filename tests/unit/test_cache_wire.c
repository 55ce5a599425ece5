/* The VM cache's messages (claim requests come from any process of a
 * permitted uid) and its instance lock. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/instance.h"
#include "cache/wire.h"
#include "tap.h"

static const struct cache_shape shape = {
	.kernel = "/k/vmlinux", .initrd = "/k/initrd.img", .machine = "microvm", .kernel_params = "quiet",
	.memory_mib = 256, .vcpus = 1, .tee = "",
};

/* Decodes text as a request; returns the decoder's result. */
static int decode_text(const char *text, struct cache_request *req)
{
	json_object *msg = json_tokener_parse(text);
	veil_err_t err = NULL;
	int rc = msg ? cache_request_decode(msg, req, &err) : -1;
	veil_error_free(&err);
	json_object_put(msg);
	return rc;
}

static void test_request_roundtrip(void)
{
	json_object *msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_CLAIM, .shape = shape });
	struct cache_request req;
	veil_err_t err = NULL;
	CHECK(cache_request_decode(msg, &req, &err) == 0 && req.op == CACHE_OP_CLAIM, "claim request decodes");
	CHECK(cache_shape_equal(&req.shape, &shape), "its shape survives the round trip");
	json_object_put(msg);

	msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_STATUS });
	CHECK(cache_request_decode(msg, &req, &err) == 0 && req.op == CACHE_OP_STATUS, "status request decodes");
	json_object_put(msg);

	msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_RETURN, .shape = shape, .qemu_pid = 4242 });
	CHECK(cache_request_decode(msg, &req, &err) == 0 && req.op == CACHE_OP_RETURN && req.qemu_pid == 4242 &&
		      cache_shape_equal(&req.shape, &shape),
	      "return request decodes with its shape and QEMU pid");
	json_object_put(msg);

	msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_DUMP, .qemu_pid = 0 });
	CHECK(cache_request_decode(msg, &req, &err) == 0 && req.op == CACHE_OP_DUMP && req.qemu_pid == 0,
	      "dump request for any pooled VM decodes");
	json_object_put(msg);
	veil_error_free(&err);
}

static void test_request_rejects(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "[]", "an array" },
		{ "{}", "no op" },
		{ "{\"op\":7}", "a numeric op" },
		{ "{\"op\":\"launch\"}", "an unknown op" },
		{ "{\"op\":\"dump\"}", "a dump without qemu_pid" },
		{ "{\"op\":\"dump\",\"qemu_pid\":-1}", "a dump of a negative pid" },
		{ "{\"op\":\"dump\",\"qemu_pid\":1,\"path\":\"/etc\"}", "a dump naming a path" },
		{ "{\"op\":\"return\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":1,\"vcpus\":1,\"shared_memory\":false}}", "a return without its QEMU pid" },
		{ "{\"op\":\"claim\",\"qemu_pid\":1,\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\","
		  "\"kernel_params\":\"\",\"memory_mib\":1,\"vcpus\":1,\"shared_memory\":false}}", "a claim with a return's field" },
		{ "{\"op\":\"status\",\"x\":1}", "an unknown field in status" },
		{ "{\"op\":\"claim\"}", "a claim without shape" },
		{ "{\"op\":\"claim\",\"shape\":[]}", "a shape that is not an object" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":1,\"shared_memory\":false}}", "a shape without vcpus" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":-1,\"vcpus\":1,\"shared_memory\":false}}", "negative memory" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":4294967296,\"vcpus\":1,\"shared_memory\":false}}", "memory beyond 32 bits" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":99999999999999999999999,\"vcpus\":1,\"shared_memory\":false}}", "a number json-c saturates" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\\u0000/evil\",\"initrd\":\"/i\",\"machine\":\"m\","
		  "\"kernel_params\":\"\",\"memory_mib\":1,\"vcpus\":1,\"shared_memory\":false}}", "a NUL hidden in a string" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":1,\"kernel_params\":\"\","
		  "\"memory_mib\":1,\"vcpus\":1,\"shared_memory\":false}}", "a numeric machine" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":1,\"vcpus\":1,\"gpu\":true}}", "an unknown shape field" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":1,\"vcpus\":1,\"shared_memory\":false},\"more\":1}", "an unknown request field" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":1,\"vcpus\":1}}", "a shape that does not say whether its memory is shared" },
		{ "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\",\"kernel_params\":\"\","
		  "\"memory_mib\":1,\"vcpus\":1,\"shared_memory\":1}}", "a numeric shared_memory" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cache_request req;
		CHECK(decode_text(bad[i].text, &req) < 0, "refused: %s", bad[i].why);
	}

	/* Exactly the limit passes, one more byte does not. */
	char *path = malloc(CACHE_PATH_MAX + 2);
	memset(path, 'a', CACHE_PATH_MAX + 1);
	path[0] = '/';
	path[CACHE_PATH_MAX] = '\0';
	struct cache_shape s = shape;
	s.kernel = path;
	json_object *msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_CLAIM, .shape = s });
	struct cache_request req;
	veil_err_t err = NULL;
	CHECK(cache_request_decode(msg, &req, &err) == 0, "a kernel path of exactly %d bytes is accepted", CACHE_PATH_MAX);
	json_object_put(msg);
	path[CACHE_PATH_MAX] = 'a';
	path[CACHE_PATH_MAX + 1] = '\0';
	msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_CLAIM, .shape = s });
	CHECK(cache_request_decode(msg, &req, &err) < 0 && strstr(err->msg, "kernel") != NULL,
	      "one byte longer is refused, naming the field");
	json_object_put(msg);
	veil_error_free(&err);
	free(path);
}

static void test_shape(void)
{
	struct cache_shape other = shape;
	char why[256];
	veil_err_t err = NULL;
	other.memory_mib = 512;
	CHECK(!cache_shape_equal(&shape, &other), "memory is part of the shape");
	cache_shape_diff(&other, &shape, why, sizeof(why));
	CHECK(strcmp(why, "512 MiB wanted, cached VMs have 256 MiB") == 0, "the difference is named: %s", why);
	other = shape;
	other.kernel_params = "loud";
	CHECK(!cache_shape_equal(&shape, &other), "kernel parameters are part of the shape");
	other = shape;
	other.shared_memory = !shape.shared_memory;
	CHECK(!cache_shape_equal(&shape, &other), "shared memory (virtio-fs) is part of the shape");
	cache_shape_diff(&other, &shape, why, sizeof(why));
	CHECK(strcmp(why, "shared memory wanted (shared_fs), cached VMs have private memory") == 0,
	      "the difference is named: %s", why);

	/* A confidential guest's TEE and init-data are fixed at its launch. */
	struct cache_shape cvm = shape;
	cvm.tee = "emulated";
	memset(cvm.init_data, 'a', 64);
	CHECK(!cache_shape_equal(&shape, &cvm), "the TEE is part of the shape");
	cache_shape_diff(&cvm, &shape, why, sizeof(why));
	CHECK(strcmp(why, "a confidential guest, tee emulated wanted, cached VMs are ordinary VMs") == 0,
	      "the difference is named: %s", why);
	other = cvm;
	other.init_data[0] = 'b';
	CHECK(!cache_shape_equal(&cvm, &other), "the init-data digest is part of the shape");
	cache_shape_diff(&other, &cvm, why, sizeof(why));
	CHECK(strcmp(why, "init-data baaaaaaaaaaaaaaa..., cached VMs were launched with aaaaaaaaaaaaaaaa...") == 0,
	      "the difference is named: %s", why);
	json_object *msg = cache_request_encode(&(struct cache_request){ .op = CACHE_OP_CLAIM, .shape = cvm });
	struct cache_request req;
	CHECK(cache_request_decode(msg, &req, &err) == 0 && cache_shape_equal(&req.shape, &cvm),
	      "a confidential shape survives the round trip");
	json_object_put(msg);
	const char *not_hex = "{\"op\":\"claim\",\"shape\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"machine\":\"m\","
			      "\"kernel_params\":\"\",\"memory_mib\":1,\"vcpus\":1,\"tee\":\"snp\",\"init_data\":\"xyz\"}}";
	CHECK(decode_text(not_hex, &req) < 0, "init-data that is not hex is refused");

	struct veil_vm_config vmc = {
		.kernel = "/k", .initrd = "/i", .machine = "microvm", .kernel_params = "", .memory_mib = 256, .vcpus = 2,
	};
	struct cache_shape s;
	CHECK(cache_shape_of(&vmc, &s, &err) == 0 && strcmp(s.kernel, "/k") == 0 && s.memory_mib == 256 && s.vcpus == 2 &&
		      !s.shared_memory,
	      "the shape of a VM");
	vmc.memory_shared = true;
	CHECK(cache_shape_of(&vmc, &s, &err) == 0 && s.shared_memory, "a VM with its memory in a shared memfd");
	vmc.memory_file = "/t/memory";
	CHECK(cache_shape_of(&vmc, &s, &err) == 0 && !s.shared_memory,
	      "a template's, whose file is shared with its clones, is no vhost-user VM");
	vmc.memory_file = NULL;
	vmc.memory_shared = false;
	char params[CACHE_PARAMS_MAX + 2];
	memset(params, 'p', sizeof(params) - 1);
	params[sizeof(params) - 1] = '\0';
	vmc.kernel_params = params;
	CHECK(cache_shape_of(&vmc, &s, &err) < 0, "kernel_params longer than a command line are refused");
	veil_error_free(&err);
}

static void test_replies(void)
{
	veil_err_t err = NULL;
	struct cache_claim_reply in = { .granted = false, .reason = "pool empty" }, out;
	json_object *msg = cache_claim_reply_encode(&in);
	CHECK(cache_claim_reply_decode(msg, &out, &err) == 0 && !out.granted && strcmp(out.reason, "pool empty") == 0,
	      "a refusal carries its reason");
	json_object_put(msg);
	in = (struct cache_claim_reply){ .granted = true, .root_ports = 2 };
	msg = cache_claim_reply_encode(&in);
	CHECK(cache_claim_reply_decode(msg, &out, &err) == 0 && out.granted && out.root_ports == 2,
	      "a grant carries the root ports");
	json_object_put(msg);

	static struct cache_status st, back;
	st = (struct cache_status){ .pid = 42, .target = 2, .claimed = 7, .failures = 1, .returned = 3, .n_vms = 2,
				    .template_state = CACHE_TEMPLATE_READY, .template_build_ms = 2500 };
	memset(st.template_hash, 'a', sizeof(st.template_hash) - 1);
	st.vms[0] = (struct cache_vm_status){ .state = CACHE_VM_PAUSED, .qemu_pid = 100, .keeper_pid = 99,
					      .age_ms = 5000, .boot_ms = 1400, .vcpus = 1, .memory_mib = 256,
					      .cloned = true, .scrubs = 4, .warmed = true };
	st.vms[1] = (struct cache_vm_status){ .state = CACHE_VM_LOANED, .keeper_pid = 101, .age_ms = 10 };
	msg = cache_status_encode(&st);
	CHECK(cache_status_decode(msg, &back, &err) == 0 && back.n_vms == 2 && back.vms[0].qemu_pid == 100 &&
		      back.vms[0].boot_ms == 1400 && back.vms[0].cloned && back.vms[0].scrubs == 4 &&
		      back.vms[0].warmed && !back.vms[1].warmed &&
		      back.vms[1].state == CACHE_VM_LOANED && !back.vms[1].cloned && back.claimed == 7 &&
		      back.returned == 3 && back.template_state == CACHE_TEMPLATE_READY &&
		      strcmp(back.template_hash, st.template_hash) == 0 && back.template_build_ms == 2500,
	      "status survives the round trip, template, reuse and warm-up included");
	json_object_put(msg);
	st.template_state = CACHE_TEMPLATE_BUILDING;
	msg = cache_status_encode(&st);
	CHECK(cache_status_decode(msg, &back, &err) == 0 && back.template_state == CACHE_TEMPLATE_BUILDING &&
		      back.template_hash[0] == '\0',
	      "a template being built has no hash yet");
	json_object *vms = json_object_object_get(msg, "vms");
	for (int i = 0; i < CACHE_MAX_VMS; i++)
		json_object_array_add(vms, json_object_get(json_object_array_get_idx(vms, 0)));
	CHECK(cache_status_decode(msg, &back, &err) < 0, "a status listing more than %d VMs is refused", CACHE_MAX_VMS);
	veil_error_free(&err);
	json_object_put(msg);

	struct cache_ready ready = { .name = "vm", .qemu_pid = 0, .boot_ms = 1 };
	msg = cache_ready_encode(&ready);
	CHECK(cache_ready_decode(msg, &ready, &err) < 0, "a keeper's ready without a QEMU pid is refused");
	veil_error_free(&err);
	json_object_put(msg);
	ready = (struct cache_ready){ .name = "cache-1", .qemu_pid = 7, .boot_ms = 90, .root_ports = 2, .cloned = true,
				      .scrubs = 2, .warmed = true };
	msg = cache_ready_encode(&ready);
	struct cache_ready got;
	CHECK(cache_ready_decode(msg, &got, &err) == 0 && strcmp(got.name, "cache-1") == 0 && got.cloned &&
		      got.scrubs == 2 && got.warmed && got.qemu_pid == 7,
	      "a keeper's ready carries its name, origin, scrubs and warm-up");
	json_object_object_add(msg, "warmed", json_object_new_string("yes"));
	CHECK(cache_ready_decode(msg, &got, &err) < 0, "a keeper's ready whose warmed is no boolean is refused");
	veil_error_free(&err);
	json_object_put(msg);
}

static void test_instance(void)
{
	struct cache_instance a, b;
	veil_err_t err = NULL;
	CHECK(cache_instance_init(&a, "/run/veil/cache.sock", &err) == 0 &&
		      strcmp(a.lock_path, "/run/veil/cache.sock.d/lock") == 0,
	      "the lock lives next to the socket");
	cache_instance_init(&b, "/tmp/other.sock", &err);
	CHECK(strcmp(a.tag, b.tag) != 0 && strlen(a.tag) == 8, "endpoints get distinct tags");
	CHECK(cache_instance_init(&b, "relative.sock", &err) < 0, "a relative endpoint is refused");
	veil_error_free(&err);
	char name[96];
	cache_vm_name(&a, 123, 4, name, sizeof(name));
	char want[96];
	snprintf(want, sizeof(want), "cache-%s-123-4", a.tag);
	CHECK(strcmp(name, want) == 0, "VM names carry the tag, the daemon's pid and a counter");

	char dir[] = "/tmp/veil-test-cache.XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	char endpoint[108];
	snprintf(endpoint, sizeof(endpoint), "%s/cache.sock", dir);
	cache_instance_init(&a, endpoint, &err);
	pid_t holder = 0;
	int fd = cache_lock(&a, &holder, &err);
	CHECK(fd >= 0 && cache_lock_set_pid(fd, 4242, &err) == 0, "the first taker gets the lock");
	CHECK(cache_lock_holder(&a) == 4242, "the holder's pid can be read");
	CHECK(cache_lock(&a, &holder, &err) < 0 && holder == 4242 &&
		      strcmp(err->msg, "factory is already running (pid 4242)") == 0,
	      "a second taker is told who runs");
	veil_error_free(&err);
	cache_remove_files(&a);
	close(fd);
	CHECK(cache_lock_holder(&a) == 0 && access(a.dir, F_OK) < 0, "released and removed, nothing is left");
	fd = cache_lock(&a, &holder, &err);
	CHECK(fd >= 0, "the lock can be taken again");
	cache_remove_files(&a);
	close(fd);
	rmdir(dir);
}

int main(void)
{
	test_request_roundtrip();
	test_request_rejects();
	test_shape();
	test_replies();
	test_instance();
	return tap_done();
}
