#include "hv/hypervisor.h"

#include <stdio.h>
#include <string.h>

/* The backends veil is built with. A new one is one more line here. */
extern const struct veil_hypervisor veil_hypervisor_qemu;

static const struct veil_hypervisor *const backends[] = {
	&veil_hypervisor_qemu,
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Backends built outside veil, such as the unit tests' fake. */
#define MAX_REGISTERED 4
static const struct veil_hypervisor *registered[MAX_REGISTERED];
static size_t n_registered;

int veil_hypervisor_register(const struct veil_hypervisor *hv)
{
	if (n_registered == MAX_REGISTERED)
		return -1;
	registered[n_registered++] = hv;
	return 0;
}

void veil_vm_init(struct veil_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->pidfd = -1;
	vm->agent_fd = -1;
	vm->control_fd = -1;
	vm->lifeline_fd = -1;
}

const struct veil_hypervisor *veil_hypervisor_lookup(const char *name, veil_err_t *err)
{
	for (size_t i = 0; i < n_registered; i++)
		if (strcmp(registered[i]->name, name) == 0)
			return registered[i];
	char known[256] = "";
	for (size_t i = 0, len = 0; i < N_BACKENDS; i++) {
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
		if (len < sizeof(known))
			len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", backends[i]->name);
	}
	veil_fail(err, 0, "no hypervisor backend \"%s\" in this build (it has %s)", name, known);
	return NULL;
}
