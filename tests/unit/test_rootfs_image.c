/* The rootfs fingerprint, the image cache's key: equal for an untouched
 * tree, different after any change that could change the image. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "runtime/rootfs_image.h"
#include "tap.h"

static char root[64];

static void path_of(char *out, size_t size, const char *rel)
{
	snprintf(out, size, "%s/%s", root, rel);
}

static void write_file(const char *rel, const char *text)
{
	char p[128];
	path_of(p, sizeof(p), rel);
	FILE *f = fopen(p, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		printf("Bail out! %s: %s\n", p, strerror(errno));
		exit(1);
	}
}

static void fingerprint(char out[65])
{
	veil_err_t err = NULL;
	if (veil_rootfs_fingerprint(root, out, &err) < 0) {
		printf("Bail out! fingerprint: %s\n", err->msg);
		exit(1);
	}
}

static void must(int rc, const char *what)
{
	if (rc < 0) {
		printf("Bail out! %s: %s\n", what, strerror(errno));
		exit(1);
	}
}

/* After change (a description), the fingerprint differs from the last one. */
static void changes(char last[65], const char *change)
{
	char now[65];
	fingerprint(now);
	CHECK(strcmp(now, last) != 0, "%s changes the fingerprint", change);
	memcpy(last, now, 65);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/veil-fp.XXXXXX", tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(root) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	char p[128], q[128];
	path_of(p, sizeof(p), "bin");
	must(mkdir(p, 0755), "mkdir");
	write_file("bin/sh", "#!/bin/true\n");
	path_of(p, sizeof(p), "sh");
	must(symlink("bin/sh", p), "symlink");

	char first[65], again[65], last[65];
	fingerprint(first);
	fingerprint(again);
	CHECK(strlen(first) == 64 && strcmp(first, again) == 0, "an untouched tree has the same fingerprint twice");
	memcpy(last, first, 65);

	write_file("bin/sh", "#!/bin/echo\n"); /* same size */
	changes(last, "rewriting a file with as many bytes");
	path_of(p, sizeof(p), "bin/sh");
	must(chmod(p, 0700), "chmod");
	changes(last, "a mode");
	path_of(q, sizeof(q), "bin/sh2");
	must(rename(p, q), "rename");
	changes(last, "renaming a file");
	must(rename(q, p), "rename");
	changes(last, "renaming it back (the change time moved on)");
	path_of(p, sizeof(p), "sh");
	must(unlink(p), "unlink");
	must(symlink("bin/sh2", p), "symlink");
	changes(last, "another symlink target");
	path_of(p, sizeof(p), "bin/empty");
	must(mkdir(p, 0755), "mkdir");
	changes(last, "an empty directory");

	veil_err_t err = NULL;
	char out[65];
	path_of(p, sizeof(p), "bin/sh");
	CHECK(veil_rootfs_fingerprint(p, out, &err) < 0 && err != NULL && strstr(err->msg, p) != NULL,
	      "a rootfs that is not a directory is an error naming it");
	veil_error_free(&err);

	veil_remove_tree(root);
	return tap_done();
}
