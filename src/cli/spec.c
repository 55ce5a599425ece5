/* veil spec: write runc's default config.json into the bundle directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/oci_spec.h"

int veil_verb_spec(struct veil_cli *cli, int argc, char **argv)
{
	(void)cli;
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "rootless", no_argument, NULL, 'r' },
		{ 0 },
	};
	const char *bundle = ".";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		if (c == 'b') {
			bundle = optarg;
		} else if (c != 'r') {
			fprintf(stderr, "usage: veil spec [--bundle DIR]\n");
			return 1;
		}
	}
	veil_err_t err = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *json = oci_spec_default_json();
	if (asprintf(&path, "%s/config.json", bundle) < 0 || json == NULL) {
		veil_fail(&err, ENOMEM, "spec");
		return veil_cli_report(&err);
	}
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			veil_fail(&err, 0, "File %s exists. Remove it first", path);
		else
			veil_fail(&err, errno, "%s", path);
		return veil_cli_report(&err);
	}
	size_t len = strlen(json);
	if (write(fd, json, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		veil_fail(&err, errno, "writing %s", path);
		return veil_cli_report(&err);
	}
	return 0;
}
