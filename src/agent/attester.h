/* Evidence from this guest's TEE: an SNP report (/dev/sev-guest's extended
 * report, or configfs-tsm where the kernel has it), a TDX quote (configfs-
 * tsm), or the emulated TEE's report through the TEE port. */
#ifndef VEIL_AGENT_ATTESTER_H
#define VEIL_AGENT_ATTESTER_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "attest/evidence.h"
#include "lib/error.h"

/* Evidence whose REPORT_DATA is report_data, in the KBS's JSON form (NULL
 * evidence: not wanted), and the init-data digest the TEE holds
 * (HOST_DATA, 32 bytes, or MRCONFIGID, 48) in field. */
int agent_attester_evidence(enum veil_tee tee, const uint8_t report_data[64], json_object **evidence, uint8_t field[48],
			    size_t *field_len, veil_err_t *err);

#endif
