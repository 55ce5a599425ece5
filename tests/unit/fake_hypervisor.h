/* A hypervisor backend without a VMM, for unit tests of the sandbox, the
 * monitor and veil_vm_get: start hands out a socketpair whose far end a
 * thread serves as a fake guest agent with canned answers, and records what
 * it was asked. One fake VM at a time. */
#ifndef VEIL_TEST_FAKE_HYPERVISOR_H
#define VEIL_TEST_FAKE_HYPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hypervisor.h"

/* Every process the fake agent runs writes this and exits with this code. */
#define FAKE_STDOUT "hello from the fake guest\n"
#define FAKE_EXIT_CODE 42

extern const struct veil_hypervisor fake_hypervisor;

/* How the next fake VMs behave. */
struct fake_script {
	bool fail_start;  /* start fails, as a VMM that cannot run */
	bool mute_agent;  /* the agent reads requests and never answers */
};

/* What the fake saw since the last fake_reset. */
struct fake_record {
	unsigned starts, teardowns;
	char name[64];
	uint32_t memory_mib, vcpus;
	size_t n_disks;
	char disk_path[256], disk_serial[32], disk2_serial[32];
	unsigned hellos;
	char container_id[64], rootfs_serial[32], upper_serial[32];
	char namespaces[128]; /* space-separated, as sent */
	size_t n_mounts;
	char exec_args[256];  /* the last exec's, space-separated */
	unsigned waits;
	unsigned creates;     /* CreateContainer requests */
	char hotplugged_serial[32]; /* the last disk hot-plugged */
	unsigned hotplugs, unplugs;
	char destroyed[64];   /* the last container destroyed */
	uint32_t pcie_root_ports;
};

/* Registers the backend (once) and sets how the next fake VMs behave. */
void fake_reset(const struct fake_script *script);
void fake_get_record(struct fake_record *out);

#endif
