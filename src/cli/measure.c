/* veil measure: the reference values the configured confidential guest will
 * produce, as a reference-values.toml for `veil-kbs reference set -`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "lib/hex.h"
#include "runtime/confidential.h"

static int usage(void)
{
	fprintf(stderr, "usage: veil measure [--vcpus N] [--init-data FILE]\n");
	return 1;
}

int veil_verb_measure(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vcpus", required_argument, NULL, 'v' },
		{ "init-data", required_argument, NULL, 'i' },
		{ 0 },
	};
	uint32_t vcpus = 0;
	const char *init_data = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'v') {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end != '\0' || n == 0 || n > 64) {
				fprintf(stderr, "veil measure: --vcpus takes 1 to 64\n");
				return 1;
			}
			vcpus = (uint32_t)n;
		} else if (c == 'i') {
			init_data = optarg;
		} else {
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	veil_err_t err = NULL;
	struct veil_reference_values ref;
	if (veil_cli_config(cli, &err) < 0 || veil_reference_values(&cli->cfg, vcpus, init_data, &ref, &err) < 0)
		return veil_cli_report(&err);
	const char *tee = veil_tee_name(ref.tee);
	char hex[2 * VEIL_INITDATA_MAX_DIGEST + 1];
	veil_hex_encode(ref.measurement, sizeof(ref.measurement), hex);
	printf("# veil measure: what a confidential guest of %s will measure, for `veil-kbs reference set -`\n",
	       cli->cfg.path);
	printf("# tee %s%s, %u vCPU(s) (a container's CPU limit adds vCPUs: measure with --vcpus then)\n", tee,
	       ref.tee == VEIL_TEE_EMULATED ? ", which protects nothing (development and CI only)" : "", ref.vcpus);
	if (ref.tee == VEIL_TEE_EMULATED)
		printf("# veil-kbs trusts the emulated root only if its configuration says so:\n"
		       "#   [emulated]\n#   ark = \"%s/ark.der\"\n#   ask = \"%s/ask.der\"\n",
		       cli->cfg.qemu.emulated_tee_dir, cli->cfg.qemu.emulated_tee_dir);
	printf("[%s]\nmeasurements = [\"%s\"]\n", tee, hex);
	if (ref.has_init_data) {
		veil_hex_encode(ref.init_data_digest, ref.init_data_digest_len, hex);
		printf("init_data = [\"%s\"]  # %s of the init-data\n", hex, ref.init_data_algorithm);
	}
	return 0;
}
