/* QEMU backend: microvm, direct kernel boot, QMP and the agent channel over
 * socketpairs handed to QEMU as fds (no socket files to protect or leak). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/emulated.h"
#include "attest/snp_launch.h"
#include "hv/hypervisor.h"
#include "hv/qemu.h"
#include "hv/qmp.h"
#include "hv/tee.h"
#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/strv.h"
#include "lib/trace.h"
#include "proto/contract.h"

extern const struct veil_hypervisor veil_hypervisor_qemu;

#define QMP_TIMEOUT_MS 10000
/* SIGKILL takes effect at once; this only bounds a QEMU stuck in the kernel. */
#define TEARDOWN_WAIT_MS 5000

/* The rootfs slot's nodes: SLOT_NODE, the disk's raw format node, reads
 * SLOT_EMPTY (null-co) or SLOT_IMAGE (the image file) as its file. */
#define SLOT_NODE "rootfs"
#define SLOT_EMPTY "rootfs-empty"
#define SLOT_IMAGE "rootfs-image"

/* QEMU's option syntax splits on commas; a literal comma is written twice. */
static char *qemu_escape(const char *s)
{
	size_t len = strlen(s), commas = 0;
	for (const char *p = s; *p; p++)
		commas += *p == ',';
	char *out = malloc(len + commas + 1);
	if (out == NULL)
		abort();
	char *o = out;
	for (const char *p = s; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

int veil_qemu_kernel_cmdline(const struct veil_vm_config *cfg, char *out, size_t size, veil_err_t *err)
{
	/* reboot=t + panic=-1 + -no-reboot: any guest reboot or panic ends QEMU at once. */
	int n = snprintf(out, size, "console=ttyS0 reboot=t panic=-1 init_on_free=1 %s%s%s%s%s",
			 cfg->guest_debug ? "veil.debug=1" : "quiet loglevel=3", cfg->tee ? " " VEIL_TEE_CMDLINE : "",
			 cfg->tee ? veil_tee_name(cfg->tee->tee) : "", cfg->kernel_params[0] ? " " : "", cfg->kernel_params);
	if (n < 0 || (size_t)n >= size)
		return veil_fail(err, E2BIG, "the kernel command line is longer than %zu bytes", size - 1);
	return 0;
}

/* The confidential guest's object and memory: the TEE's own QEMU object
 * (upstream QEMU's documented properties), its firmware, and guest RAM in a
 * private memfd, shared with no one. */
static void push_tee_machine(struct veil_strv *argv, const struct veil_vm_config *cfg, const char *machine)
{
	const struct veil_tee_config *tc = cfg->tee;
	bool snp = tc->tee == VEIL_TEE_SNP;
	uint8_t field[48];
	size_t field_len = veil_tee_config_field(tc, field);
	cleanup_free char *field_b64 = tc->init_data.text != NULL ? veil_b64_encode(VEIL_B64_STD, field, field_len) : NULL;
	veil_strv_push(argv, "-machine");
	veil_strv_pushf(argv, "%s,confidential-guest-support=%s,memory-backend=ram%s", machine, snp ? "sev0" : "tdx0",
			snp ? "" : ",kernel-irqchip=split");
	veil_strv_push(argv, "-object");
	veil_strv_pushf(argv, "memory-backend-memfd,id=ram,size=%uM,share=off", cfg->memory_mib);
	veil_strv_push(argv, "-object");
	if (snp)
		/* kernel-hashes=on: the firmware measures kernel, initrd and command line. */
		veil_strv_pushf(argv, "sev-snp-guest,id=sev0,cbitpos=%u,reduced-phys-bits=%u,policy=0x30000,kernel-hashes=on%s%s",
				tc->cbitpos, tc->reduced_phys_bits, field_b64 ? ",host-data=" : "", field_b64 ? field_b64 : "");
	else
		veil_strv_pushf(argv, "tdx-guest,id=tdx0%s%s", field_b64 ? ",mrconfigid=" : "", field_b64 ? field_b64 : "");
	cleanup_free char *firmware = qemu_escape(tc->firmware != NULL ? tc->firmware : "");
	veil_strv_push(argv, "-bios");
	veil_strv_push(argv, firmware);
}

int veil_qemu_build_argv(const struct veil_vm_config *cfg, struct veil_strv *argv, veil_err_t *err)
{
	char append[4096];
	if (veil_qemu_kernel_cmdline(cfg, append, sizeof(append), err) < 0)
		return -1;
	const struct veil_tee_config *tc = cfg->tee;
	/* SNP and TDX guests need KVM and their firmware; the emulated TEE's is an ordinary VM. */
	bool hardware_tee = tc != NULL && tc->tee != VEIL_TEE_EMULATED;
	int next_fd = VEIL_QEMU_FD_AGENT + 1;
	int tee_fd = tc != NULL ? next_fd++ : -1;
	int tap_fd = cfg->nic != NULL ? next_fd++ : -1;
	int fs_fd = cfg->fs != NULL ? next_fd++ : -1;
	cleanup_free char *kernel = qemu_escape(cfg->kernel);
	cleanup_free char *initrd = qemu_escape(cfg->initrd);
	cleanup_free char *console = qemu_escape(cfg->console_log);

	veil_strv_push(argv, cfg->vmm_path);
	veil_strv_push(argv, "-name");
	veil_strv_pushf(argv, "veil-%s,debug-threads=on", cfg->name);
	/* Root ports need PCIe. microvm's PCIe host is reachable only through ECAM,
	 * which the guest kernel lacks (CONFIG_PCI_MMCONFIG); q35 hot-plugs through
	 * ACPI with the kernel as it is. SNP and TDX boot through OVMF, on q35. */
	const char *machine = (cfg->pcie_root_ports > 0 || hardware_tee) && strcmp(cfg->machine, "microvm") == 0
				      ? "q35"
				      : cfg->machine;
	bool mmio = strcmp(machine, "microvm") == 0;
	const char *transport = mmio ? "device" : "pci";
	if (hardware_tee) {
		push_tee_machine(argv, cfg, machine);
		/* QEMU cannot DMA into memory the TEE encrypts: every virtio device,
		 * hot-plugged ones too, goes through the guest's bounce buffers,
		 * which the platform flag (a modern device only) asks for. */
		veil_strv_push(argv, "-global");
		veil_strv_push(argv, "virtio-pci.disable-legacy=on");
		veil_strv_push(argv, "-global");
		veil_strv_push(argv, "virtio-pci.iommu_platform=on");
	} else {
		veil_strv_push(argv, "-machine");
		/* microvm without ACPI finds its virtio-mmio devices on the kernel command line, which QEMU fills in.
		 * Without ACPI's MADT the guest brings up one CPU whatever -smp says; microvm with ACPI and
		 * virtio-mmio devices hung at boot here (QEMU 7.2), so SMP guests are a known gap. */
		veil_strv_pushf(argv, "%s%s", mmio ? "microvm,acpi=off,x-option-roms=off" : machine,
				cfg->memory_file != NULL || cfg->memory_shared ? ",memory-backend=ram" : "");
	}
	if (cfg->memory_file != NULL) {
		cleanup_free char *mem_path = qemu_escape(cfg->memory_file);
		veil_strv_push(argv, "-object");
		veil_strv_pushf(argv, "memory-backend-file,id=ram,size=%uM,mem-path=%s,share=%s", cfg->memory_mib,
				mem_path, cfg->memory_shared ? "on" : "off");
	} else if (cfg->memory_shared) {
		/* Anonymous memory a vhost-user daemon can map too (virtio-fs). */
		veil_strv_push(argv, "-object");
		veil_strv_pushf(argv, "memory-backend-memfd,id=ram,size=%uM,share=on", cfg->memory_mib);
	}
	if (cfg->incoming) {
		veil_strv_push(argv, "-S");
		veil_strv_push(argv, "-incoming");
		veil_strv_push(argv, "defer");
	}
	veil_strv_push(argv, "-accel");
	veil_strv_push(argv, cfg->use_kvm || hardware_tee ? "kvm" : "tcg");
	veil_strv_push(argv, "-cpu");
	if (hardware_tee)
		/* The launch digest depends on the SNP vCPU model; a TD takes the host's. */
		veil_strv_push(argv, tc->tee == VEIL_TEE_SNP ? tc->snp_vcpu_type : "host");
	else
		/* PVM rejects the arch-capabilities MSR that "host" would expose. */
		veil_strv_push(argv, !cfg->use_kvm ? "max" : cfg->pvm_host ? "host,-arch-capabilities" : "host");
	veil_strv_push(argv, "-m");
	veil_strv_pushf(argv, "%u", cfg->memory_mib);
	veil_strv_push(argv, "-smp");
	veil_strv_pushf(argv, "%u", cfg->vcpus);
	static const char *const fixed[] = {
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
		"-chardev", "socket,id=qmp,fd=3", "-mon", "chardev=qmp,mode=control",
		"-chardev", "socket,id=agent,fd=4",
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		veil_strv_push(argv, fixed[i]);
	veil_strv_push(argv, "-device");
	veil_strv_pushf(argv, "virtio-serial-%s,max_ports=%d", transport, tc != NULL ? 3 : 2);
	veil_strv_push(argv, "-device");
	veil_strv_push(argv, "virtserialport,chardev=agent,name=" VEIL_AGENT_PORT);
	if (tc != NULL) {
		veil_strv_push(argv, "-chardev");
		veil_strv_pushf(argv, "socket,id=tee,fd=%d", tee_fd);
		veil_strv_push(argv, "-device");
		veil_strv_push(argv, "virtserialport,chardev=tee,name=" VEIL_TEE_PORT);
	}
	veil_strv_push(argv, "-device");
	veil_strv_pushf(argv, "virtio-rng-%s,rng=rng0", transport);
	if (!mmio) {
		/* A fresh generation ID in every QEMU: a VM restored from a template is
		 * told it was cloned, and its kernel reseeds its RNG (needs ACPI). */
		veil_strv_push(argv, "-device");
		veil_strv_push(argv, "vmgenid,guid=auto");
	}
	for (uint32_t i = 0; i < cfg->pcie_root_ports; i++) {
		veil_strv_push(argv, "-device");
		/* Each port needs its own chassis/slot pair. */
		veil_strv_pushf(argv, "pcie-root-port,id=rp%u,chassis=%u", i, i + 1);
	}
	veil_strv_push(argv, "-chardev");
	veil_strv_pushf(argv, "file,id=console,path=%s", console);
	veil_strv_push(argv, "-serial");
	veil_strv_push(argv, "chardev:console");
	veil_strv_push(argv, "-kernel");
	veil_strv_push(argv, kernel);
	veil_strv_push(argv, "-initrd");
	veil_strv_push(argv, initrd);
	veil_strv_push(argv, "-append");
	veil_strv_push(argv, append);
	if (cfg->rootfs_slot) {
		/* Empty, it reads zeros; an image goes in by blockdev-reopen. */
		veil_strv_push(argv, "-blockdev");
		veil_strv_pushf(argv, "driver=null-co,node-name=" SLOT_EMPTY ",size=%llu,read-zeroes=on,read-only=on",
				VEIL_DISK_SLOT_BYTES);
		veil_strv_push(argv, "-blockdev");
		veil_strv_push(argv, "driver=raw,node-name=" SLOT_NODE ",read-only=on,file=" SLOT_EMPTY);
		veil_strv_push(argv, "-device");
		veil_strv_pushf(argv, "virtio-blk-%s,drive=" SLOT_NODE ",serial=" VEIL_ROOTFS_SERIAL ",id=rootfs-slot",
				transport);
	}
	for (size_t i = 0; i < cfg->n_disks; i++) {
		cleanup_free char *path = qemu_escape(cfg->disks[i].path);
		veil_strv_push(argv, "-drive");
		veil_strv_pushf(argv, "if=none,id=disk%zu,file=%s,format=raw,readonly=%s,cache=unsafe", i, path,
				cfg->disks[i].readonly ? "on" : "off");
		veil_strv_push(argv, "-device");
		veil_strv_pushf(argv, "virtio-blk-%s,drive=disk%zu,serial=%s", transport, i, cfg->disks[i].serial);
	}
	if (cfg->nic != NULL) {
		veil_strv_push(argv, "-netdev");
		veil_strv_pushf(argv, "tap,id=net0,fd=%d", tap_fd);
		veil_strv_push(argv, "-device");
		veil_strv_pushf(argv, "virtio-net-%s,netdev=net0,mac=%s", transport, cfg->nic->mac);
	}
	if (cfg->fs != NULL) {
		/* libvhost-user serves modern virtio only, and virtio-mmio is legacy unless told. */
		if (mmio) {
			veil_strv_push(argv, "-global");
			veil_strv_push(argv, "virtio-mmio.force-legacy=false");
		}
		veil_strv_push(argv, "-chardev");
		veil_strv_pushf(argv, "socket,id=fs0,fd=%d", fs_fd);
		veil_strv_push(argv, "-device");
		/* vhost-user-fs-device is the virtio-mmio flavour's name. */
		veil_strv_pushf(argv, "vhost-user-fs-%s,chardev=fs0,tag=%s", mmio ? "device" : "pci", cfg->fs->tag);
	}
	return 0;
}

/* QEMU reports why it refused to start on stderr; surface its last line. */
static int fail_with_qemu_stderr(veil_err_t *err, int stderr_fd, const char *what)
{
	char line[512];
	veil_last_line_of(stderr_fd, line, sizeof(line));
	return veil_fail(err, 0, "QEMU failed to start: %s", line[0] ? line : what);
}

/* Kills and reaps a process of ours, bounded as QEMU's. */
static void kill_child(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
}

static void qemu_teardown(struct veil_vm *vm)
{
	if (vm->pid > 0) {
		/* Through the pidfd: a cached VM's QEMU is its keeper's child, reaped
		 * there, so its pid could be reused by the time we signal it. */
		veil_kill_and_reap(vm->pid, vm->pidfd, TEARDOWN_WAIT_MS);
		vm->pid = 0;
	}
	kill_child(&vm->tee_pid);
	veil_close_fd(&vm->lifeline_fd);
	veil_close_fd(&vm->pidfd);
	veil_close_fd(&vm->agent_fd);
	veil_close_fd(&vm->control_fd);
}

static int qemu_launch_measurement(const struct veil_vm_config *cfg, uint8_t out[48], veil_err_t *err)
{
	const struct veil_tee_config *tc = cfg->tee;
	if (tc == NULL)
		return veil_fail_tagged(err, EINVAL, "an ordinary VM has no launch measurement");
	char cmdline[4096];
	if (veil_qemu_kernel_cmdline(cfg, cmdline, sizeof(cmdline), err) < 0)
		return -1;
	if (tc->tee == VEIL_TEE_EMULATED) {
		uint8_t field[48];
		size_t field_len = veil_tee_config_field(tc, field);
		const struct veil_emulated_launch launch = {
			.kernel = cfg->kernel, .initrd = cfg->initrd, .cmdline = cmdline, .vcpus = cfg->vcpus,
			.init_data_digest = tc->init_data.text != NULL ? field : NULL,
			.init_data_digest_len = tc->init_data.text != NULL ? field_len : 0,
		};
		return veil_emulated_launch_measurement(&launch, out, err);
	}
	if (tc->tee == VEIL_TEE_SNP) {
		if (tc->firmware == NULL)
			return veil_fail(err, 0, "the SNP launch digest needs the firmware ([hypervisor.qemu] firmware)");
		const struct veil_snp_launch launch = {
			.ovmf = tc->firmware, .kernel = cfg->kernel, .initrd = cfg->initrd, .cmdline = cmdline,
			.vcpus = cfg->vcpus, .vcpu_type = tc->snp_vcpu_type, .guest_features = tc->snp_guest_features,
		};
		return veil_snp_launch_digest(&launch, out, err);
	}
	return veil_fail_tagged(err, ENOTSUP, "veil does not compute TDX's MRTD and RTMRs: take them from a TD launched "
				       "with this firmware, kernel and command line");
}

/* Runs QEMU on argv with its channels (and a confidential guest's TEE port,
 * whose service starts once QEMU has a pidfd to watch), up to its QMP
 * greeting. */
static int spawn_qemu(struct veil_vm *vm, const struct veil_vm_config *cfg, struct veil_strv *argv,
		      const struct veil_emulated_chip *chip, const uint8_t measurement[48], veil_err_t *err)
{
	int qmp_pair[2], agent_pair[2], tee_pair[2] = { -1, -1 };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_pair) < 0)
		return veil_fail(err, errno, "socketpair");
	cleanup_close int qmp_child = qmp_pair[1];
	int qmp_fd = qmp_pair[0];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent_pair) < 0 ||
	    (cfg->tee != NULL && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tee_pair) < 0)) {
		int e = errno;
		close(qmp_fd);
		return veil_fail(err, e, "socketpair");
	}
	vm->agent_fd = agent_pair[0];
	cleanup_close int agent_child = agent_pair[1];
	cleanup_close int tee_host = tee_pair[0];
	cleanup_close int tee_child = tee_pair[1];

	char tmpl[] = "/tmp/veil-qemu-stderr.XXXXXX";
	cleanup_close int stderr_fd = mkostemp(tmpl, O_CLOEXEC);
	if (stderr_fd < 0) {
		close(qmp_fd);
		return veil_fail(err, errno, "mkostemp");
	}
	unlink(tmpl);

	if (veil_log_get_level() <= VEIL_LOG_DEBUG) {
		for (size_t i = 0; i < argv->len; i++)
			log_debug("qemu argv[%zu] = %s", i, argv->items[i]);
	}
	/* In the order veil_qemu_build_argv numbers them from fd 3. */
	int pass[5] = { qmp_child, agent_child }, n_pass = 2;
	if (cfg->tee != NULL)
		pass[n_pass++] = tee_child;
	if (cfg->nic != NULL)
		pass[n_pass++] = cfg->nic->tap_fd;
	if (cfg->fs != NULL)
		pass[n_pass++] = cfg->fs->vhost_fd;
	struct veil_spawn_opts opts = {
		.pass_fds = pass, .n_pass_fds = n_pass, .stdout_fd = stderr_fd, .stderr_fd = stderr_fd,
		.new_session = true, .die_with_parent = true,
		/* A clone of the template is most of the memory it costs: what its
		 * guest wrote since the restore, QEMU's heap and the code TCG
		 * translated, each sparse in its regions. Huge pages there would
		 * make whole 2 MiB resident for a few KiB (about 3 MiB per clone). */
		.no_huge_pages = cfg->memory_file != NULL && !cfg->memory_shared,
	};
	int span = veil_trace_begin("qemu.spawn");
	int spawned = veil_spawn(argv->items, &opts, &vm->pid, err);
	veil_trace_end(span);
	/* Only QEMU may hold the far ends, so that its exit reads as EOF here. */
	close(veil_steal_fd(qmp_child));
	close(veil_steal_fd(agent_child));
	veil_closep(&tee_child);
	if (spawned < 0) {
		close(qmp_fd);
		return -1;
	}
	vm->hv = &veil_hypervisor_qemu;
	vm->root_ports = cfg->pcie_root_ports;
	vm->rootfs_slot = cfg->rootfs_slot;
	vm->pidfd = veil_pidfd_open(vm->pid);
	if (vm->pidfd < 0) {
		close(qmp_fd);
		return veil_fail(err, errno, "pidfd_open");
	}
	vm->control_fd = qmp_fd;
	if (cfg->tee != NULL &&
	    veil_tee_service_start(cfg->tee, chip, measurement, cfg->name, tee_host, vm->pidfd, &vm->tee_pid, err) < 0)
		return -1;
	veil_err_t qmp_err = NULL;
	/* QEMU's own start-up: until it greets on QMP. */
	span = veil_trace_begin("qemu.init");
	int greeted = veil_qmp_handshake(vm->control_fd, QMP_TIMEOUT_MS, &qmp_err);
	veil_trace_end(span);
	if (greeted < 0) {
		int status;
		bool exited = waitpid(vm->pid, &status, WNOHANG) == vm->pid;
		if (exited)
			vm->pid = 0;
		fail_with_qemu_stderr(err, stderr_fd, qmp_err->msg);
		veil_error_free(&qmp_err);
		return -1;
	}
	log_debug("qemu pid %d started", vm->pid);
	return 0;
}

/* The confidential guest's part of a start, before QEMU runs: the hardware
 * is there (SNP, TDX), or the emulated chip is and its measurement is
 * taken. A failure here leaves no QEMU behind. */
static int prepare_tee(const struct veil_vm_config *cfg, struct veil_emulated_chip **chip, uint8_t measurement[48],
		       veil_err_t *err)
{
	const struct veil_tee_config *tc = cfg->tee;
	memset(measurement, 0, 48);
	*chip = NULL;
	if (tc->tee != VEIL_TEE_EMULATED)
		return veil_tee_host_check(tc->tee, cfg->vmm_path, tc->firmware, err);
	if (veil_emulated_chip_open(tc->chip_dir, chip, err) < 0)
		return veil_fail_context(err, "the emulated TEE's chip in %s", tc->chip_dir);
	if (qemu_launch_measurement(cfg, measurement, err) < 0) {
		veil_emulated_chip_free(*chip);
		*chip = NULL;
		return -1;
	}
	return 0;
}

static int qemu_start(struct veil_vm *vm, const struct veil_vm_config *cfg, veil_err_t *err)
{
	if (access(cfg->kernel, R_OK) < 0)
		return veil_fail(err, errno, "guest kernel %s", cfg->kernel);
	if (access(cfg->initrd, R_OK) < 0)
		return veil_fail(err, errno, "guest initrd %s", cfg->initrd);
	if (access(cfg->vmm_path, X_OK) < 0)
		return veil_fail(err, errno, "QEMU binary %s", cfg->vmm_path);
	cleanup_strv struct veil_strv argv = { 0 };
	if (veil_qemu_build_argv(cfg, &argv, err) < 0)
		return -1;
	struct veil_emulated_chip *chip = NULL;
	uint8_t measurement[48];
	if (cfg->tee != NULL && prepare_tee(cfg, &chip, measurement, err) < 0)
		return -1;
	int rc = spawn_qemu(vm, cfg, &argv, chip, measurement, err);
	veil_emulated_chip_free(chip);
	return rc;
}

/* A command that polls for progress: too frequent to trace one by one. */
static int qemu_poll(struct veil_vm *vm, const char *cmd, json_object *args, json_object **ret, veil_err_t *err)
{
	return veil_qmp_execute(vm->control_fd, cmd, args, ret, QMP_TIMEOUT_MS, err);
}

static int qemu_command(struct veil_vm *vm, const char *cmd, json_object *args, json_object **ret, veil_err_t *err)
{
	int span = -1;
	if (veil_trace_enabled()) {
		char name[48];
		snprintf(name, sizeof(name), "qmp.%s", cmd);
		span = veil_trace_begin(name);
	}
	int rc = qemu_poll(vm, cmd, args, ret, err);
	veil_trace_end(span);
	return rc;
}

static int qemu_pause(struct veil_vm *vm, veil_err_t *err)
{
	return qemu_command(vm, "stop", NULL, NULL, err);
}

static int qemu_resume(struct veil_vm *vm, veil_err_t *err)
{
	return qemu_command(vm, "cont", NULL, NULL, err);
}

#define MIGRATION_TIMEOUT_MS 30000
/* How often a QMP query repeats while QEMU or the guest works. */
#define QMP_POLL_MS 2

/* RAM in a shared file is the template's own; only device state (and the
 * small ROM blocks) go through the migration stream. */
static int ignore_shared_ram(struct veil_vm *vm, veil_err_t *err)
{
	json_object *cap = json_object_new_object();
	json_object_object_add(cap, "capability", json_object_new_string("x-ignore-shared"));
	json_object_object_add(cap, "state", json_object_new_boolean(1));
	json_object *caps = json_object_new_array();
	json_object_array_add(caps, cap);
	json_object *args = json_object_new_object();
	json_object_object_add(args, "capabilities", caps);
	int rc = qemu_command(vm, "migrate-set-capabilities", args, NULL, err);
	json_object_put(args);
	return rc;
}

/* Hands fd to QEMU as "veil-state" and runs `cmd` (migrate or migrate-incoming)
 * on it, then waits for the migration to end. */
static int migrate_over_fd(struct veil_vm *vm, const char *cmd, int fd, veil_err_t *err)
{
	if (ignore_shared_ram(vm, err) < 0)
		return -1;
	json_object *getfd = json_object_new_object();
	json_object_object_add(getfd, "fdname", json_object_new_string("veil-state"));
	int rc = veil_qmp_execute_fd(vm->control_fd, "getfd", getfd, fd, NULL, QMP_TIMEOUT_MS, err);
	json_object_put(getfd);
	if (rc < 0)
		return -1;
	json_object *args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string("fd:veil-state"));
	rc = qemu_command(vm, cmd, args, NULL, err);
	json_object_put(args);
	if (rc < 0)
		return -1;
	long long deadline = veil_now_ms() + MIGRATION_TIMEOUT_MS;
	for (;;) {
		json_object *info = NULL;
		if (qemu_poll(vm, "query-migrate", NULL, &info, err) < 0)
			return -1;
		json_object *status = json_object_object_get(info, "status");
		const char *st = status ? json_object_get_string(status) : "none";
		if (strcmp(st, "completed") == 0) {
			json_object_put(info);
			return 0;
		}
		if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0) {
			json_object *why = json_object_object_get(info, "error-desc");
			veil_fail(err, 0, "%s %s: %s", cmd, st, why ? json_object_get_string(why) : "no reason given");
			json_object_put(info);
			return -1;
		}
		json_object_put(info);
		if (veil_now_ms() > deadline)
			return veil_fail(err, ETIMEDOUT, "%s did not finish within %d ms", cmd, MIGRATION_TIMEOUT_MS);
		usleep(QMP_POLL_MS * 1000);
	}
}

static int qemu_save_state(struct veil_vm *vm, int fd, veil_err_t *err)
{
	if (migrate_over_fd(vm, "migrate", fd, err) < 0)
		return veil_fail_context(err, "saving the VM's state");
	return 0;
}

static int qemu_restore_state(struct veil_vm *vm, int fd, veil_err_t *err)
{
	int span = veil_trace_begin("qemu.restore");
	int rc = migrate_over_fd(vm, "migrate-incoming", fd, err);
	veil_trace_end(span);
	return rc < 0 ? veil_fail_context(err, "restoring the VM's state") : 0;
}

static int free_root_port(const struct veil_vm *vm, veil_err_t *err)
{
	for (uint32_t i = 0; i < vm->root_ports && i < 32; i++)
		if (!(vm->root_ports_used & (1u << i)))
			return (int)i;
	return veil_fail(err, ENOSPC, "no free PCIe root port to hot-plug into (the VM has %u)", vm->root_ports);
}

static void set_str(json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, json_object_new_string(value));
}

/* Rolls back one step of a failed hot-plug; best effort, the caller reports the failure. */
static void undo(struct veil_vm *vm, const char *cmd, const char *key, const char *value)
{
	json_object *args = json_object_new_object();
	set_str(args, key, value);
	qemu_command(vm, cmd, args, NULL, NULL);
	json_object_put(args);
}

/* device_add of a PCI device on root port `bus`, with its two own properties. */
static int device_add(struct veil_vm *vm, const char *driver, const char *id, const char *bus,
		      const char *const props[2][2], veil_err_t *err)
{
	json_object *dev = json_object_new_object();
	set_str(dev, "driver", driver);
	set_str(dev, "id", id);
	set_str(dev, "bus", bus);
	for (int i = 0; i < 2; i++)
		set_str(dev, props[i][0], props[i][1]);
	int rc = qemu_command(vm, "device_add", dev, NULL, err);
	json_object_put(dev);
	return rc;
}

/* The slot's raw node reads file (a node name) from now on. */
static int slot_reads(struct veil_vm *vm, const char *file, veil_err_t *err)
{
	json_object *node = json_object_new_object();
	set_str(node, "driver", "raw");
	set_str(node, "node-name", SLOT_NODE);
	json_object_object_add(node, "read-only", json_object_new_boolean(1));
	set_str(node, "file", file);
	json_object *options = json_object_new_array();
	json_object_array_add(options, node);
	json_object *args = json_object_new_object();
	json_object_object_add(args, "options", options);
	int rc = qemu_command(vm, "blockdev-reopen", args, NULL, err);
	json_object_put(args);
	return rc;
}

/* The image goes into the rootfs slot while the guest's view of the disk
 * stays as it was: same device, same size. The guest drops what it cached
 * of the empty slot before it mounts (agent/rootfs.c). */
static int fill_slot(struct veil_vm *vm, const struct veil_disk *disk, veil_err_t *err)
{
	struct stat st;
	if (stat(disk->path, &st) < 0)
		return veil_fail(err, errno, "rootfs image %s", disk->path);
	if ((unsigned long long)st.st_size != VEIL_DISK_SLOT_BYTES)
		return veil_fail(err, 0, "rootfs image %s has %lld bytes, not the %llu of the VM's rootfs slot", disk->path,
				 (long long)st.st_size, VEIL_DISK_SLOT_BYTES);
	json_object *file = json_object_new_object();
	set_str(file, "driver", "file");
	set_str(file, "node-name", SLOT_IMAGE);
	set_str(file, "filename", disk->path);
	json_object_object_add(file, "read-only", json_object_new_boolean(1));
	/* cache=unsafe, as the disks given at start. */
	json_object *cache = json_object_new_object();
	json_object_object_add(cache, "no-flush", json_object_new_boolean(1));
	json_object_object_add(file, "cache", cache);
	int rc = qemu_command(vm, "blockdev-add", file, NULL, err);
	json_object_put(file);
	if (rc == 0 && slot_reads(vm, SLOT_IMAGE, err) < 0) {
		undo(vm, "blockdev-del", "node-name", SLOT_IMAGE);
		rc = -1;
	}
	return rc < 0 ? veil_fail_context(err, "inserting %s into the rootfs slot", disk->path) : 0;
}

/* Back to reading zeros; the image's node, if there is one, goes. */
static int empty_slot(struct veil_vm *vm, veil_err_t *err)
{
	json_object *nodes = NULL;
	json_object *flat = json_object_new_object();
	json_object_object_add(flat, "flat", json_object_new_boolean(1));
	int rc = qemu_command(vm, "query-named-block-nodes", flat, &nodes, err);
	json_object_put(flat);
	bool filled = false;
	for (size_t i = 0; rc == 0 && json_object_is_type(nodes, json_type_array) && i < json_object_array_length(nodes);
	     i++) {
		json_object *name = json_object_object_get(json_object_array_get_idx(nodes, i), "node-name");
		filled |= name != NULL && strcmp(json_object_get_string(name), SLOT_IMAGE) == 0;
	}
	json_object_put(nodes);
	if (rc < 0 || !filled)
		return rc;
	if (slot_reads(vm, SLOT_EMPTY, err) < 0)
		return -1;
	json_object *args = json_object_new_object();
	set_str(args, "node-name", SLOT_IMAGE);
	rc = qemu_command(vm, "blockdev-del", args, NULL, err);
	json_object_put(args);
	return rc;
}

static int qemu_hotplug_disk(struct veil_vm *vm, const struct veil_disk *disk, veil_err_t *err)
{
	if (vm->rootfs_slot && strcmp(disk->serial, VEIL_ROOTFS_SERIAL) == 0)
		return fill_slot(vm, disk, err);
	int port = free_root_port(vm, err);
	if (port < 0)
		return -1;
	char node[32], id[32], bus[32];
	snprintf(node, sizeof(node), "hp-drive%d", port);
	snprintf(id, sizeof(id), "hp-disk%d", port);
	snprintf(bus, sizeof(bus), "rp%d", port);

	json_object *file = json_object_new_object();
	set_str(file, "driver", "file");
	set_str(file, "filename", disk->path);
	/* cache=unsafe, as the disks given at start. */
	json_object *cache = json_object_new_object();
	json_object_object_add(cache, "no-flush", json_object_new_boolean(1));
	json_object *drive = json_object_new_object();
	set_str(drive, "driver", "raw");
	set_str(drive, "node-name", node);
	json_object_object_add(drive, "read-only", json_object_new_boolean(disk->readonly));
	json_object_object_add(drive, "cache", cache);
	json_object_object_add(drive, "file", file);
	int rc = qemu_command(vm, "blockdev-add", drive, NULL, err);
	json_object_put(drive);
	if (rc < 0)
		return veil_fail_context(err, "hot-plugging %s", disk->path);

	const char *const blk[][2] = { { "drive", node }, { "serial", disk->serial } };
	if (device_add(vm, "virtio-blk-pci", id, bus, blk, err) < 0) {
		undo(vm, "blockdev-del", "node-name", node);
		return veil_fail_context(err, "hot-plugging %s", disk->path);
	}
	vm->root_ports_used |= 1u << port;
	return port;
}

/* The names of what a hot-plug adds on a root port: the fd handed over,
 * the backend, the device, the port. */
struct hotplug_names {
	char fdname[32], backend[32], id[32], bus[32];
};

static void hotplug_names(int port, const char *fd_prefix, const char *backend_prefix, const char *id_prefix,
			  struct hotplug_names *n)
{
	snprintf(n->fdname, sizeof(n->fdname), "%s%d", fd_prefix, port);
	snprintf(n->backend, sizeof(n->backend), "%s%d", backend_prefix, port);
	snprintf(n->id, sizeof(n->id), "%s%d", id_prefix, port);
	snprintf(n->bus, sizeof(n->bus), "rp%d", port);
}

/* Passes fd to QEMU (SCM_RIGHTS on QMP) as fdname, for a backend to take. */
static int hand_fd(struct veil_vm *vm, const char *fdname, int fd, veil_err_t *err)
{
	json_object *getfd = json_object_new_object();
	set_str(getfd, "fdname", fdname);
	int rc = veil_qmp_execute_fd(vm->control_fd, "getfd", getfd, fd, NULL, QMP_TIMEOUT_MS, err);
	json_object_put(getfd);
	return rc;
}

static int qemu_hotplug_nic(struct veil_vm *vm, const struct veil_nic *nic, veil_err_t *err)
{
	int port = free_root_port(vm, err);
	if (port < 0)
		return -1;
	struct hotplug_names n;
	hotplug_names(port, "hp-tapfd", "hp-netdev", "hp-nic", &n);
	if (hand_fd(vm, n.fdname, nic->tap_fd, err) < 0)
		return veil_fail_context(err, "hot-plugging a NIC");

	json_object *net = json_object_new_object();
	set_str(net, "type", "tap");
	set_str(net, "id", n.backend);
	set_str(net, "fd", n.fdname);
	int rc = qemu_command(vm, "netdev_add", net, NULL, err);
	json_object_put(net);
	if (rc < 0) {
		undo(vm, "closefd", "fdname", n.fdname);
		return veil_fail_context(err, "hot-plugging a NIC");
	}

	const char *const net_props[][2] = { { "netdev", n.backend }, { "mac", nic->mac } };
	if (device_add(vm, "virtio-net-pci", n.id, n.bus, net_props, err) < 0) {
		undo(vm, "netdev_del", "id", n.backend);
		return veil_fail_context(err, "hot-plugging a NIC");
	}
	vm->root_ports_used |= 1u << port;
	return 0;
}

static int qemu_hotplug_fs(struct veil_vm *vm, const struct veil_fs *fs, veil_err_t *err)
{
	int port = free_root_port(vm, err);
	if (port < 0)
		return -1;
	struct hotplug_names n;
	hotplug_names(port, "hp-vhostfd", "hp-chr", "hp-fs", &n);
	if (hand_fd(vm, n.fdname, fs->vhost_fd, err) < 0)
		return veil_fail_context(err, "hot-plugging a virtio-fs device");

	/* A socket chardev on the connection handed over: {"id": backend, "backend":
	 * {"type": "socket", "data": {"addr": {"type": "fd", "data": {"str": fdname}}, "server": false}}} */
	json_object *fd_addr = json_object_new_object();
	set_str(fd_addr, "str", n.fdname);
	json_object *addr = json_object_new_object();
	set_str(addr, "type", "fd");
	json_object_object_add(addr, "data", fd_addr);
	json_object *sock = json_object_new_object();
	json_object_object_add(sock, "addr", addr);
	json_object_object_add(sock, "server", json_object_new_boolean(0));
	json_object *backend = json_object_new_object();
	set_str(backend, "type", "socket");
	json_object_object_add(backend, "data", sock);
	json_object *chr = json_object_new_object();
	set_str(chr, "id", n.backend);
	json_object_object_add(chr, "backend", backend);
	int rc = qemu_command(vm, "chardev-add", chr, NULL, err);
	json_object_put(chr);
	if (rc < 0) {
		undo(vm, "closefd", "fdname", n.fdname);
		return veil_fail_context(err, "hot-plugging a virtio-fs device");
	}

	const char *const fs_props[][2] = { { "chardev", n.backend }, { "tag", fs->tag } };
	if (device_add(vm, "vhost-user-fs-pci", n.id, n.bus, fs_props, err) < 0) {
		undo(vm, "chardev-remove", "id", n.backend);
		return veil_fail_context(err, "hot-plugging a virtio-fs device");
	}
	vm->root_ports_used |= 1u << port;
	return 0;
}

#define UNPLUG_TIMEOUT_MS 10000

/* What hotplug_disk, hotplug_nic and hotplug_fs add on root port N: device <device>N,
 * backed by <backend>N, which <backend_del> removes by its <backend_key>. */
static const struct hotplug_kind {
	const char *device, *backend, *backend_del, *backend_key;
} hotplug_kinds[] = {
	{ "hp-disk", "hp-drive", "blockdev-del", "node-name" },
	{ "hp-nic", "hp-netdev", "netdev_del", "id" },
	{ "hp-fs", "hp-chr", "chardev-remove", "id" },
};
#define N_HOTPLUG_KINDS (sizeof(hotplug_kinds) / sizeof(hotplug_kinds[0]))

/* The hot-plugged devices still present: per kind, a bit mask of their root ports. */
static int plugged(struct veil_vm *vm, uint32_t ports[N_HOTPLUG_KINDS], veil_err_t *err)
{
	json_object *args = json_object_new_object();
	set_str(args, "path", "/machine/peripheral");
	json_object *list = NULL;
	int rc = qemu_poll(vm, "qom-list", args, &list, err);
	json_object_put(args);
	if (rc < 0)
		return -1;
	memset(ports, 0, N_HOTPLUG_KINDS * sizeof(ports[0]));
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *name = json_object_object_get(json_object_array_get_idx(list, i), "name");
		const char *id = name ? json_object_get_string(name) : "";
		for (size_t k = 0; k < N_HOTPLUG_KINDS; k++) {
			size_t len = strlen(hotplug_kinds[k].device);
			if (strncmp(id, hotplug_kinds[k].device, len) != 0 || !isdigit((unsigned char)id[len]))
				continue;
			char *end;
			unsigned long port = strtoul(id + len, &end, 10);
			if (*end == '\0' && port < 32)
				ports[k] |= 1u << port;
		}
	}
	json_object_put(list);
	return 0;
}

/* Runs cmd on {key: value} until it succeeds or the deadline passes. */
static int command_until(struct veil_vm *vm, const char *cmd, const char *key, const char *value,
			 long long deadline, veil_err_t *err)
{
	json_object *args = json_object_new_object();
	set_str(args, key, value);
	int rc;
	veil_err_t busy = NULL;
	while ((rc = qemu_command(vm, cmd, args, NULL, &busy)) < 0 && veil_now_ms() < deadline) {
		veil_error_free(&busy);
		usleep(QMP_POLL_MS * 1000);
	}
	json_object_put(args);
	if (rc < 0)
		*err = busy;
	return rc;
}

/* Removes the hot-plugged devices of want (per kind, a mask of root ports)
 * and their backends. */
static int unplug_ports(struct veil_vm *vm, const uint32_t want[N_HOTPLUG_KINDS], veil_err_t *err)
{
	uint32_t left[N_HOTPLUG_KINDS];
	char id[32];
	for (size_t k = 0; k < N_HOTPLUG_KINDS; k++) {
		for (unsigned port = 0; port < 32; port++) {
			if (!(want[k] & (1u << port)))
				continue;
			snprintf(id, sizeof(id), "%s%u", hotplug_kinds[k].device, port);
			json_object *args = json_object_new_object();
			set_str(args, "id", id);
			int rc = qemu_command(vm, "device_del", args, NULL, err);
			json_object_put(args);
			if (rc < 0)
				return -1;
		}
	}
	/* The guest ejects each device (ACPI) before QEMU lets go of it. */
	long long deadline = veil_now_ms() + UNPLUG_TIMEOUT_MS;
	for (;;) {
		if (plugged(vm, left, err) < 0)
			return -1;
		bool any = false;
		for (size_t k = 0; k < N_HOTPLUG_KINDS; k++)
			any |= (left[k] & want[k]) != 0;
		if (!any)
			break;
		if (veil_now_ms() > deadline)
			return veil_fail(err, ETIMEDOUT, "the guest did not release its hot-plugged devices within %d ms",
					 UNPLUG_TIMEOUT_MS);
		usleep(QMP_POLL_MS * 1000);
	}
	/* Their backends, the tenant's image file and tap, a little later (RCU):
	 * "in use" until then. */
	for (size_t k = 0; k < N_HOTPLUG_KINDS; k++) {
		const struct hotplug_kind *kind = &hotplug_kinds[k];
		for (unsigned port = 0; port < 32; port++) {
			snprintf(id, sizeof(id), "%s%u", kind->backend, port);
			if ((want[k] & (1u << port)) &&
			    command_until(vm, kind->backend_del, kind->backend_key, id, deadline, err) < 0)
				return -1;
			if (want[k] & (1u << port))
				vm->root_ports_used &= ~(1u << port);
		}
	}
	return 0;
}

static int qemu_unplug_all(struct veil_vm *vm, veil_err_t *err)
{
	uint32_t had[N_HOTPLUG_KINDS];
	if (plugged(vm, had, err) < 0 || unplug_ports(vm, had, err) < 0)
		return -1;
	vm->root_ports_used = 0;
	if (vm->rootfs_slot && empty_slot(vm, err) < 0)
		return veil_fail_context(err, "emptying the rootfs slot");
	return 0;
}

static int qemu_unplug_disk(struct veil_vm *vm, int port, veil_err_t *err)
{
	if (port < 0 || port >= 32 || !(vm->root_ports_used & (1u << port)))
		return veil_fail(err, EINVAL, "no hot-plugged disk on root port %d", port);
	const uint32_t want[N_HOTPLUG_KINDS] = { [0] = 1u << port };
	if (unplug_ports(vm, want, err) < 0)
		return veil_fail_context(err, "unplugging the disk on root port %d", port);
	return 0;
}

/* Writing out a whole guest's memory. */
#define DUMP_TIMEOUT_MS 120000

static int qemu_dump_memory(struct veil_vm *vm, int fd, veil_err_t *err)
{
	json_object *getfd = json_object_new_object();
	set_str(getfd, "fdname", "veil-dump");
	json_object *args = json_object_new_object();
	json_object_object_add(args, "paging", json_object_new_boolean(0));
	set_str(args, "protocol", "fd:veil-dump");
	int rc = veil_qmp_execute_fd(vm->control_fd, "getfd", getfd, fd, NULL, DUMP_TIMEOUT_MS, err);
	if (rc == 0)
		rc = veil_qmp_execute(vm->control_fd, "dump-guest-memory", args, NULL, DUMP_TIMEOUT_MS, err);
	json_object_put(getfd);
	json_object_put(args);
	return rc;
}

const struct veil_hypervisor veil_hypervisor_qemu = {
	.name = "qemu",
	.start = qemu_start,
	.pause = qemu_pause,
	.resume = qemu_resume,
	.hotplug_disk = qemu_hotplug_disk,
	.hotplug_nic = qemu_hotplug_nic,
	.hotplug_fs = qemu_hotplug_fs,
	.save_state = qemu_save_state,
	.restore_state = qemu_restore_state,
	.unplug_all = qemu_unplug_all,
	.unplug_disk = qemu_unplug_disk,
	.dump_memory = qemu_dump_memory,
	.teardown = qemu_teardown,
	.launch_measurement = qemu_launch_measurement,
};
