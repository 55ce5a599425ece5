/* veil features: what this runtime implements, in the OCI features format. */
#include <stdio.h>

#include "cli/cli.h"
#include "lib/oci_spec.h"

static const char features_json[] =
	"{\n"
	"  \"ociVersionMin\": \"1.0.0\",\n"
	"  \"ociVersionMax\": \"" OCI_SPEC_VERSION "\",\n"
	"  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"poststart\", \"poststop\"],\n"
	"  \"mountOptions\": [\"ro\", \"rw\", \"nosuid\", \"nodev\", \"noexec\", \"relatime\", \"strictatime\", "
	"\"noatime\", \"newinstance\", \"mode\", \"size\", \"ptmxmode\", \"gid\", \"uid\", \"nr_inodes\"],\n"
	"  \"linux\": {\n"
	"    \"namespaces\": [\"mount\", \"pid\", \"uts\", \"ipc\", \"network\", \"cgroup\"],\n"
	"    \"capabilities\": [],\n"
	"    \"cgroup\": {\"v1\": false, \"v2\": true, \"systemd\": false, \"systemdUser\": false},\n"
	"    \"seccomp\": {\"enabled\": false},\n"
	"    \"apparmor\": {\"enabled\": false},\n"
	"    \"selinux\": {\"enabled\": false}\n"
	"  },\n"
	"  \"annotations\": {\n"
	"    \"org.veil.isolation\": \"microvm\",\n"
	"    \"org.veil.rootfs\": \"erofs-block-image\",\n"
	"    \"org.veil.shared-filesystem\": \"none\"\n"
	"  }\n"
	"}\n";

int veil_verb_features(struct veil_cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "veil features: takes no arguments\n");
		return 1;
	}
	fputs(features_json, stdout);
	return 0;
}
