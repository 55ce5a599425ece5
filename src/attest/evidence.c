#include "attest/evidence.h"

#include <string.h>

const char *veil_tee_name(enum veil_tee tee)
{
	switch (tee) {
	case VEIL_TEE_SNP:
		return "snp";
	case VEIL_TEE_TDX:
		return "tdx";
	case VEIL_TEE_EMULATED:
		return "emulated";
	}
	return "unknown";
}

enum veil_tee veil_tee_by_name(const char *name)
{
	for (enum veil_tee tee = VEIL_TEE_SNP; tee <= VEIL_TEE_EMULATED; tee++)
		if (strcmp(name, veil_tee_name(tee)) == 0)
			return tee;
	return 0;
}
