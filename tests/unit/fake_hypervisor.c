#include "fake_hypervisor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "proto/frame.h"
#include "proto/rpc.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_script script;
static struct fake_record record;

static struct {
	bool running;
	pthread_t thread;
	int guest_fd;
} agent;

void fake_reset(const struct fake_script *s)
{
	static bool registered;
	if (!registered)
		registered = veil_hypervisor_register(&fake_hypervisor) == 0;
	pthread_mutex_lock(&lock);
	script = *s;
	memset(&record, 0, sizeof(record));
	pthread_mutex_unlock(&lock);
}

void fake_get_record(struct fake_record *out)
{
	pthread_mutex_lock(&lock);
	*out = record;
	pthread_mutex_unlock(&lock);
}

static void join_words(char *out, size_t size, char *const *words, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "", words[i]);
}

static void respond_with(int fd, uint32_t id, int32_t code, const char *why, const ProtobufCMessage *inner)
{
	size_t len;
	uint8_t *payload = veil_rpc_pack_response(code, why, inner, &len);
	veil_frame_write(fd, VEIL_FRAME_RESPONSE, 0, id, payload, len);
	free(payload);
}

static void respond(int fd, uint32_t id, const ProtobufCMessage *inner)
{
	respond_with(fd, id, VEIL_RPC_OK, "", inner);
}

/* Answers one request as a healthy agent would, and notes it. */
static void serve(int fd, uint32_t id, int method, const ProtobufCMessage *msg)
{
	switch (method) {
	case VEIL_METHOD_HELLO: {
		record.hellos++;
		Veil__Agent__V1__HelloResponse resp = VEIL__AGENT__V1__HELLO_RESPONSE__INIT;
		resp.protocol_version = VEIL_PROTOCOL_VERSION;
		respond(fd, id, &resp.base);
		return;
	}
	case VEIL_METHOD_CREATE_CONTAINER: {
		const Veil__Agent__V1__CreateContainerRequest *req = (const void *)msg;
		snprintf(record.container_id, sizeof(record.container_id), "%s", req->container_id);
		snprintf(record.rootfs_serial, sizeof(record.rootfs_serial), "%s", req->rootfs_serial);
		snprintf(record.upper_serial, sizeof(record.upper_serial), "%s", req->upper_serial);
		join_words(record.namespaces, sizeof(record.namespaces), req->namespaces, req->n_namespaces);
		record.n_mounts = req->n_mounts;
		record.creates++;
		Veil__Agent__V1__CreateContainerResponse resp = VEIL__AGENT__V1__CREATE_CONTAINER_RESPONSE__INIT;
		respond(fd, id, &resp.base);
		return;
	}
	case VEIL_METHOD_EXEC_PROCESS: {
		const Veil__Agent__V1__ExecProcessRequest *req = (const void *)msg;
		join_words(record.exec_args, sizeof(record.exec_args), req->process->args, req->process->n_args);
		/* Output before the answer, as a quick process's can be. */
		veil_frame_write(fd, VEIL_FRAME_DATA, 0, req->stdout_stream, FAKE_STDOUT, strlen(FAKE_STDOUT));
		veil_frame_write(fd, VEIL_FRAME_DATA, VEIL_FRAME_FLAG_CLOSED, req->stdout_stream, NULL, 0);
		Veil__Agent__V1__ExecProcessResponse resp = VEIL__AGENT__V1__EXEC_PROCESS_RESPONSE__INIT;
		respond(fd, id, &resp.base);
		return;
	}
	case VEIL_METHOD_WAIT_PROCESS: {
		record.waits++;
		Veil__Agent__V1__WaitProcessResponse resp = VEIL__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;
		resp.exit_code = FAKE_EXIT_CODE;
		respond(fd, id, &resp.base);
		return;
	}
	case VEIL_METHOD_DESTROY_CONTAINER: {
		const Veil__Agent__V1__DestroyContainerRequest *req = (const void *)msg;
		snprintf(record.destroyed, sizeof(record.destroyed), "%s", req->container_id);
		Veil__Agent__V1__DestroyContainerResponse resp = VEIL__AGENT__V1__DESTROY_CONTAINER_RESPONSE__INIT;
		respond(fd, id, &resp.base);
		return;
	}
	default:
		respond_with(fd, id, VEIL_RPC_UNIMPLEMENTED, "not in the fake", NULL);
	}
}

/* The fake guest: until the host closes the channel. */
static void *agent_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct veil_frame_reader r;
	veil_frame_reader_init(&r);
	for (;;) {
		size_t room;
		uint8_t *space = veil_frame_reader_space(&r, &room);
		ssize_t n = space != NULL ? read(fd, space, room) : -1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		veil_frame_reader_commit(&r, (size_t)n);
		struct veil_frame_header h;
		const uint8_t *payload;
		while (veil_frame_reader_next(&r, &h, &payload) == 1) {
			if (h.type != VEIL_FRAME_REQUEST)
				continue;
			int method, code;
			char why[256];
			ProtobufCMessage *msg =
				veil_rpc_unpack_request(NULL, payload, h.length, &method, &code, why, sizeof(why));
			pthread_mutex_lock(&lock);
			if (msg != NULL && !script.mute_agent)
				serve(fd, h.stream_id, method, msg);
			pthread_mutex_unlock(&lock);
			if (msg != NULL)
				protobuf_c_message_free_unpacked(msg, NULL);
		}
	}
	veil_frame_reader_release(&r);
	return NULL;
}

static int fake_start(struct veil_vm *vm, const struct veil_vm_config *cfg, veil_err_t *err)
{
	pthread_mutex_lock(&lock);
	record.starts++;
	snprintf(record.name, sizeof(record.name), "%s", cfg->name);
	record.memory_mib = cfg->memory_mib;
	record.vcpus = cfg->vcpus;
	record.pcie_root_ports = cfg->pcie_root_ports;
	record.n_disks = cfg->n_disks;
	if (cfg->n_disks > 1)
		snprintf(record.disk2_serial, sizeof(record.disk2_serial), "%s", cfg->disks[1].serial);
	if (cfg->n_disks > 0) {
		snprintf(record.disk_path, sizeof(record.disk_path), "%s", cfg->disks[0].path);
		snprintf(record.disk_serial, sizeof(record.disk_serial), "%s", cfg->disks[0].serial);
	}
	bool fail = script.fail_start;
	pthread_mutex_unlock(&lock);
	if (fail)
		return veil_fail(err, 0, "the fake VMM refuses to start");
	int pair[2];
	if (agent.running || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return veil_fail(err, EBUSY, "fake VM");
	/* Readable only if written: the fake VMM never exits on its own. */
	vm->pidfd = eventfd(0, EFD_CLOEXEC);
	vm->agent_fd = pair[0];
	vm->hv = &fake_hypervisor;
	vm->root_ports = cfg->pcie_root_ports;
	agent.guest_fd = pair[1];
	agent.running = pthread_create(&agent.thread, NULL, agent_main, (void *)(intptr_t)pair[1]) == 0;
	return agent.running ? 0 : veil_fail(err, EAGAIN, "fake agent thread");
}

static void fake_teardown(struct veil_vm *vm)
{
	pthread_mutex_lock(&lock);
	record.teardowns++;
	pthread_mutex_unlock(&lock);
	/* The agent reads EOF once the host end closes, and ends. */
	veil_close_fd(&vm->agent_fd);
	if (agent.running) {
		pthread_join(agent.thread, NULL);
		close(agent.guest_fd);
		agent.running = false;
	}
	veil_close_fd(&vm->pidfd);
	veil_close_fd(&vm->control_fd);
	veil_close_fd(&vm->lifeline_fd);
}

/* Hot-plugging takes a free root port and notes the disk; the fake agent
 * finds any disk. */
static int fake_hotplug_disk(struct veil_vm *vm, const struct veil_disk *disk, veil_err_t *err)
{
	for (int port = 0; port < (int)vm->root_ports && port < 32; port++) {
		if (vm->root_ports_used & (1u << port))
			continue;
		vm->root_ports_used |= 1u << port;
		pthread_mutex_lock(&lock);
		record.hotplugs++;
		snprintf(record.hotplugged_serial, sizeof(record.hotplugged_serial), "%s", disk->serial);
		pthread_mutex_unlock(&lock);
		return port;
	}
	return veil_fail(err, ENOSPC, "no free PCIe root port to hot-plug into (the VM has %u)", vm->root_ports);
}

static int fake_unplug_disk(struct veil_vm *vm, int port, veil_err_t *err)
{
	if (port < 0 || port >= 32 || !(vm->root_ports_used & (1u << port)))
		return veil_fail(err, EINVAL, "no hot-plugged disk on root port %d", port);
	vm->root_ports_used &= ~(1u << port);
	pthread_mutex_lock(&lock);
	record.unplugs++;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* What the fake cannot do: the VM cache's pausing, state and dumps. */
static int refuse(struct veil_vm *vm, veil_err_t *err)
{
	(void)vm;
	return veil_fail(err, ENOTSUP, "not in the fake");
}

static int refuse_nic(struct veil_vm *vm, const struct veil_nic *nic, veil_err_t *err)
{
	(void)nic;
	return refuse(vm, err);
}

static int refuse_fs(struct veil_vm *vm, const struct veil_fs *fs, veil_err_t *err)
{
	(void)fs;
	return refuse(vm, err);
}

static int refuse_fd(struct veil_vm *vm, int fd, veil_err_t *err)
{
	(void)fd;
	return refuse(vm, err);
}

const struct veil_hypervisor fake_hypervisor = {
	.name = "fake",
	.start = fake_start,
	.pause = refuse,
	.resume = refuse,
	.hotplug_disk = fake_hotplug_disk,
	.hotplug_nic = refuse_nic,
	.hotplug_fs = refuse_fs,
	.save_state = refuse_fd,
	.restore_state = refuse_fd,
	.unplug_all = refuse,
	.unplug_disk = fake_unplug_disk,
	.dump_memory = refuse_fd,
	.teardown = fake_teardown,
};
