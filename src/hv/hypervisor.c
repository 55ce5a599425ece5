#include "hv/hypervisor.h"

#include <string.h>

static const struct veil_hypervisor *const backends[] = {
	&veil_hypervisor_qemu,
};

void veil_vm_init(struct veil_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->pidfd = -1;
	vm->agent_fd = -1;
	vm->lifeline_fd = -1;
	veil_qmp_init(&vm->qmp);
}

const struct veil_hypervisor *veil_hypervisor_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
