/* What becomes of a bind mount of a host path (copied in, or skipped and
 * why), and which namespace paths a container in a VM can honour. */
#include <limits.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/host_files.h"
#include "lib/ns_paths.h"
#include "proto/limits.h"
#include "tap.h"

static char dir[] = "/tmp/veil-hf.XXXXXX";

static char *make_file(const char *name, size_t size, mode_t mode)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
	char block[4096];
	memset(block, 'x', sizeof(block));
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof(block) ? size - done : sizeof(block);
		if (write(fd, block, n) != (ssize_t)n)
			abort();
		done += n;
	}
	fchmod(fd, mode);
	close(fd);
	return path;
}

static int disposition(const char *source, size_t *budget, struct veil_host_file *f, char *why)
{
	char *opts[2] = { "rbind", "ro" };
	struct oci_mount m = { .destination = "/etc/hosts", .type = "bind", .source = (char *)source, .options = opts,
			       .n_options = 2 };
	return veil_host_file_read(&m, budget, f, why, 256);
}

static void test_bind_disposition(void)
{
	char *opts[1] = { "rbind" };
	struct oci_mount bind = { .destination = "/x", .options = opts, .n_options = 1 }, tmpfs = { .destination = "/x",
												    .type = "tmpfs" };
	CHECK(veil_is_bind_mount(&bind) && !veil_is_bind_mount(&tmpfs), "an rbind option makes a bind mount, tmpfs does not");
	size_t budget = VEIL_MAX_FILES_BYTES;
	struct veil_host_file f;
	char why[256] = "";
	int rc = disposition(make_file("hosts", 100, 0640), &budget, &f, why);
	CHECK(rc == 1 && f.len == 100 && f.mode == 0640 && f.uid == getuid() && budget == VEIL_MAX_FILES_BYTES - 100,
	      "a small regular file is copied, with its mode and owner");
	veil_host_file_release(&f);
	rc = disposition(make_file("big", VEIL_MAX_FILE_BYTES + 1, 0644), &budget, &f, why);
	CHECK(rc == 0 && strstr(why, "larger than 64 KiB") != NULL, "a file past 64 KiB is skipped: %s", why);
	rc = disposition(make_file("max", VEIL_MAX_FILE_BYTES, 0644), &budget, &f, why);
	CHECK(rc == 1 && f.len == VEIL_MAX_FILE_BYTES, "a file of exactly 64 KiB is copied");
	veil_host_file_release(&f);
	rc = disposition(dir, &budget, &f, why);
	CHECK(rc == 0 && strstr(why, "is a directory") != NULL, "a directory is skipped: %s", why);
	char fifo[PATH_MAX];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	mkfifo(fifo, 0600);
	rc = disposition(fifo, &budget, &f, why);
	CHECK(rc == 0 && strstr(why, "not a regular file") != NULL, "a FIFO is skipped without blocking: %s", why);
	rc = disposition("/nonexistent/file", &budget, &f, why);
	CHECK(rc == 0 && strstr(why, "No such file") != NULL, "a missing source is skipped: %s", why);
	budget = 10;
	rc = disposition(make_file("eleven", 11, 0644), &budget, &f, why);
	CHECK(rc == 0 && strstr(why, "exceed 256 KiB") != NULL && budget == 10, "past the total budget it is skipped: %s", why);
}

static int check_ns(const char *type, const char *path, char *msg, size_t size)
{
	char *types[1] = { (char *)type }, *paths[1] = { (char *)path };
	struct oci_spec spec = { .namespaces = types, .n_namespaces = 1, .namespace_paths = paths };
	veil_err_t err = NULL;
	int rc = veil_check_namespace_paths(&spec, &err);
	snprintf(msg, size, "%s", err ? err->msg : "");
	veil_error_free(&err);
	return rc;
}

static void test_namespace_paths(void)
{
	char msg[1024];
	CHECK(check_ns("ipc", "/proc/self/ns/net", msg, sizeof(msg)) < 0 && strstr(msg, "is a network namespace, not ipc") != NULL,
	      "a path of another namespace type is refused: %s", msg);
	CHECK(check_ns("pid", "/proc/self/ns/pid", msg, sizeof(msg)) < 0 &&
		      strstr(msg, "a container in a VM cannot join the host's pid namespace") != NULL,
	      "a host pid namespace is refused: %s", msg);
	CHECK(check_ns("network", "/proc/self/ns/net", msg, sizeof(msg)) < 0 &&
		      strstr(msg, "the host's own network namespace") != NULL,
	      "the host's own network namespace is refused: %s", msg);
	CHECK(check_ns("network", "/nonexistent", msg, sizeof(msg)) < 0 && strstr(msg, "No such file") != NULL,
	      "a missing path is refused: %s", msg);
	/* A netns of its own, as podman's CNI makes one: accepted. */
	int ready[2];
	if (pipe(ready) < 0)
		abort();
	pid_t child = fork();
	if (child == 0) {
		char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		(void)!write(ready[1], &c, 1);
		pause();
		_exit(0);
	}
	char c = 'n', path[64];
	(void)!read(ready[0], &c, 1);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", child);
	CHECK(c == 'y' && check_ns("network", path, msg, sizeof(msg)) == 0, "a network namespace of its own is accepted%s%s",
	      msg[0] ? ": " : "", msg);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	struct oci_spec none = { .n_namespaces = 0 };
	veil_err_t err = NULL;
	CHECK(veil_check_namespace_paths(&none, &err) == 0, "no namespaces, nothing to check");
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	test_bind_disposition();
	test_namespace_paths();
	char cmd[PATH_MAX];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
	return tap_done();
}
