#include "attest/evidence.h"

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
