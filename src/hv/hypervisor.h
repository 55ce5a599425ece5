/* The small interface every VMM backend implements: nothing above hv/ knows
 * which VMM runs a VM. A backend is one file that defines a
 * `struct veil_hypervisor` and is listed in hypervisor.c's table; the
 * configuration picks one by name (docs/architecture.md). */
#ifndef VEIL_HV_HYPERVISOR_H
#define VEIL_HV_HYPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

struct veil_tee_config;

/* A VM's rootfs slot: a read-only disk present from the VM's start, empty
 * (zeros) until an image is inserted, and this large whatever it holds, so
 * that the guest never sees its size change. Rootfs images are padded to it. */
#define VEIL_DISK_SLOT_BYTES (1ull << 40)

struct veil_disk {
	const char *path;
	const char *serial; /* how the guest finds it: /sys/block/vdX/serial */
	bool readonly;
};

struct veil_nic {
	int tap_fd;      /* borrowed: the VMM gets its own copy */
	const char *mac; /* "aa:bb:cc:dd:ee:ff", the guest NIC's */
};

/* A virtio-fs device (vhost-user-fs): the guest mounts the tree its daemon
 * (virtiofsd, hv/virtiofsd.h) serves by the tag. vhost-user needs the guest's
 * RAM in shared memory: a VM with one has memory_shared. */
struct veil_fs {
	int vhost_fd;    /* borrowed: our end of the vhost-user socket; the VMM gets its own copy */
	const char *tag; /* at most VEIL_FS_TAG_MAX (36) characters of [A-Za-z0-9_-] */
};

struct veil_vm_config {
	const char *name;
	const char *vmm_path;
	const char *kernel;
	const char *initrd;
	const char *machine;
	uint32_t memory_mib;
	uint32_t vcpus;
	const char *kernel_params; /* appended to veil's own */
	bool use_kvm;
	bool pvm_host;            /* KVM is PVM: needs a CPU model PVM accepts */
	bool guest_debug;         /* veil.debug=1 for the agent */
	const char *console_log;  /* serial console goes here */
	const struct veil_disk *disks;
	size_t n_disks;
	const struct veil_nic *nic; /* NULL: no network */
	const struct veil_fs *fs;   /* NULL: no virtio-fs */
	/* Spare pcie-root-port devices for disks hot-plugged later (VM cache).
	 * Hot-plug needs PCIe: with any, a microvm becomes a q35 board. */
	uint32_t pcie_root_ports;
	/* An empty rootfs slot (serial VEIL_ROOTFS_SERIAL) that hotplug_disk
	 * fills later: no hot-plug, so nothing new for the guest to probe. */
	bool rootfs_slot;
	/* Guest RAM in this file instead of anonymous memory (VM templates,
	 * docs/templates-and-reset.md): shared, the guest writes the file (the
	 * template); private, the file is mapped copy-on-write (its clones).
	 * Without a file, memory_shared puts RAM in a shared memfd, which a
	 * vhost-user daemon can map (virtio-fs). */
	const char *memory_file;
	bool memory_shared;
	/* Start paused, waiting for restore_state instead of booting the kernel. */
	bool incoming;
	/* A confidential guest: its TEE, init-data and key broker (hv/tee.h);
	 * NULL for an ordinary VM. */
	const struct veil_tee_config *tee;
};

/* A running VM as its holder sees it. Its fds are all there is to it: the VM
 * cache hands a VM from process to process as its pidfd, control and agent
 * channels (and lifeline), and the receiver fills a veil_vm with them. */
struct veil_vm {
	const struct veil_hypervisor *hv;
	pid_t pid;          /* VMM process, 0 when none */
	int pidfd;          /* readable when the VMM exits */
	int agent_fd;       /* host end of the agent channel */
	int control_fd;     /* the VMM's management channel (QMP for QEMU), only its backend speaks on it */
	int lifeline_fd;    /* cached VM: its keeper kills it once no process holds this; -1 if none */
	uint32_t root_ports;      /* spare PCIe root ports, rp0.. */
	uint32_t root_ports_used; /* bit i: rp<i> holds a hot-plugged device */
	/* A confidential VM's TEE service (hv/tee.h): a child of the process
	 * that started the VM, which alone knows it; 0 elsewhere and for none. */
	pid_t tee_pid;
	bool rootfs_slot;         /* started with an empty rootfs slot */
};

struct veil_hypervisor {
	const char *name;
	/* Starts the VMM running the guest; on return the agent channel is open. */
	int (*start)(struct veil_vm *vm, const struct veil_vm_config *cfg, veil_err_t *err);
	int (*pause)(struct veil_vm *vm, veil_err_t *err);
	int (*resume)(struct veil_vm *vm, veil_err_t *err);
	/* Adds a disk: into the rootfs slot if the VM has one and the disk is
	 * the rootfs (an image of VEIL_DISK_SLOT_BYTES), else on a free root
	 * port of a VM started with pcie_root_ports; returns the port (for
	 * unplug_disk), or -1. */
	int (*hotplug_disk)(struct veil_vm *vm, const struct veil_disk *disk, veil_err_t *err);
	/* Adds a virtio-net NIC backed by a tap fd on a free root port, as hotplug_disk. */
	int (*hotplug_nic)(struct veil_vm *vm, const struct veil_nic *nic, veil_err_t *err);
	/* Adds a virtio-fs device on a free root port, as hotplug_disk; the VM's
	 * memory must be shared. */
	int (*hotplug_fs)(struct veil_vm *vm, const struct veil_fs *fs, veil_err_t *err);
	/* Writes a paused VM's device state to fd (borrowed). RAM in a shared
	 * memory_file is not copied: the file already holds it. */
	int (*save_state)(struct veil_vm *vm, int fd, veil_err_t *err);
	/* Loads device state saved by save_state into a VM started with incoming
	 * and the same configuration; the VM stays paused. */
	int (*restore_state)(struct veil_vm *vm, int fd, veil_err_t *err);
	/* Removes every hot-plugged device and its backend, and empties the
	 * rootfs slot. The guest must be running and have let go of the slot's
	 * filesystem: it has to let go of each device. */
	int (*unplug_all)(struct veil_vm *vm, veil_err_t *err);
	/* Removes the disk hot-plugged on root port port, and its backend, once
	 * the guest has let go of it (a container of a pod is gone); the port is
	 * free again. */
	int (*unplug_disk)(struct veil_vm *vm, int port, veil_err_t *err);
	/* Writes the guest's memory to fd (borrowed) as an ELF core: for checking
	 * what a reset left behind (veil factory dump-memory). */
	int (*dump_memory)(struct veil_vm *vm, int fd, veil_err_t *err);
	/* Kills and reaps the VMM, closes every fd. Idempotent, never fails. */
	void (*teardown)(struct veil_vm *vm);
	/* The launch measurement cfg's confidential guest will report: exact
	 * for the emulated TEE, the SEV-SNP launch digest for SNP. Fails where
	 * the backend cannot compute it (NULL: it never can). */
	int (*launch_measurement)(const struct veil_vm_config *cfg, uint8_t out[48], veil_err_t *err);
};

void veil_vm_init(struct veil_vm *vm);
/* The backend called name; NULL with *err naming the built-in ones if none is. */
const struct veil_hypervisor *veil_hypervisor_lookup(const char *name, veil_err_t *err);
/* Adds a backend that is not in the built-in table (a test double); -1 if
 * there is no room. */
int veil_hypervisor_register(const struct veil_hypervisor *hv);

#endif
