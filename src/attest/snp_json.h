/* The SEV-SNP attestation report as JSON, in the form that virtee/sev's serde
 * derive gives its AttestationReport and that Trustee's SNP verifier reads:
 * an object of the report's fields by name, byte arrays as arrays of
 * integers, TCB versions as {"fmc","bootloader","tee","snp","microcode"}
 * (fmc null except on Turin), firmware versions as {"major","minor","build"},
 * the signature as {"r","s"} (little-endian, 72 bytes each), and the CPUID
 * bytes of version 3 reports as cpuid_fam_id/cpuid_mod_id/cpuid_step (null
 * before). Reserved bytes are not in the object, so a report that
 * round-trips must have them zero, as the firmware writes them. */
#ifndef VEIL_ATTEST_SNP_JSON_H
#define VEIL_ATTEST_SNP_JSON_H

#include <stdint.h>

#include <json-c/json.h>

#include "attest/evidence.h"
#include "lib/error.h"

json_object *veil_snp_report_to_json(const uint8_t report[VEIL_SNP_REPORT_SIZE], veil_err_t *err);
/* Rebuilds the report's bytes from that object, checking every member's
 * presence, type and size. */
int veil_snp_report_from_json(json_object *o, uint8_t report[VEIL_SNP_REPORT_SIZE], veil_err_t *err);

#endif
