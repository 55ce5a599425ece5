/* veil check: every host requirement with a verdict; non-zero exit if any
 * required one fails. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hv/host.h"
#include "hv/tee.h"
#include "lib/spawn.h"

struct tally {
	int failed;
};

__attribute__((format(printf, 4, 5))) static void verdict(struct tally *t, bool ok, bool required,
							  const char *fmt, ...)
{
	va_list ap;
	printf("%-5s ", ok ? "ok" : required ? "FAIL" : "info");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok && required)
		t->failed++;
}

static bool in_path(const char *prog)
{
	char *const argv[] = { (char *)prog, "--help", NULL };
	veil_err_t err = NULL;
	/* Exit status does not matter, only that it can be executed. */
	pid_t pid;
	struct veil_spawn_opts opts = { .stdout_fd = -1, .stderr_fd = -1 };
	if (veil_spawn(argv, &opts, &pid, &err) < 0) {
		veil_error_free(&err);
		return false;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return true;
}

static void check_file(struct tally *t, const char *what, const char *path)
{
	if (path == NULL) {
		verdict(t, false, true, "%s: not configured", what);
		return;
	}
	bool ok = access(path, R_OK) == 0;
	verdict(t, ok, true, "%s: %s%s%s", what, path, ok ? "" : ": ", ok ? "" : strerror(errno));
}

/* Checks without creating anything: the nearest existing ancestor must be writable. */
static bool state_dir_usable(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		if (access(path, F_OK) == 0)
			return access(path, W_OK | X_OK) == 0;
		char *slash = strrchr(path, '/');
		if (slash == NULL || slash == path)
			return access("/", W_OK) == 0;
		*slash = '\0';
	}
}

/* The configured TEE must be there; the others are named as information. */
static void check_tees(struct tally *t, const struct veil_config *c)
{
	enum veil_tee configured = veil_tee_configured(c);
	static const enum veil_tee tees[] = { VEIL_TEE_SNP, VEIL_TEE_TDX };
	for (size_t i = 0; i < sizeof(tees) / sizeof(tees[0]); i++) {
		char missing[2048];
		veil_tee_host_missing(tees[i], c->qemu.path, c->qemu.firmware, missing, sizeof(missing));
		verdict(t, missing[0] == '\0', tees[i] == configured, "confidential guests (tee = \"%s\"): %s%s",
			veil_tee_name(tees[i]), missing[0] ? "missing: " : "supported", missing);
	}
	if (configured != VEIL_TEE_EMULATED)
		return;
	verdict(t, state_dir_usable(c->qemu.emulated_tee_dir), true, "emulated TEE's chip directory %s (or its nearest "
		"existing parent) is writable", c->qemu.emulated_tee_dir);
	verdict(t, false, false, "tee = \"emulated\" protects nothing: the host holds the chip key and can sign any "
		"report for any guest (development and CI only)");
}

int veil_verb_check(struct veil_cli *cli, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "veil check: takes no arguments\n");
		return 1;
	}
	veil_err_t err = NULL;
	if (veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	const struct veil_config *c = &cli->cfg;
	struct tally t = { 0 };
	struct veil_host_caps caps;
	veil_host_probe(c, &caps);

	verdict(&t, true, true, "configuration: %s", c->path);
	verdict(&t, caps.qemu_found, true, "QEMU: %s%s", c->qemu.path, caps.qemu_found ? "" : " is not executable");
	check_file(&t, "guest kernel", c->qemu.kernel);
	check_file(&t, "guest initrd", c->qemu.initrd);
	verdict(&t, in_path("mkfs.erofs"), true, "mkfs.erofs (erofs-utils) for rootfs images");
	struct veil_accel_decision accel;
	if (veil_decide_accel(c, &caps, &accel, &err) < 0) {
		verdict(&t, false, true, "accelerator: %s", err->msg);
		veil_error_free(&err);
	} else {
		verdict(&t, true, true, "accelerator: %s", accel.reason);
	}
	verdict(&t, caps.kvm_usable, false, "/dev/kvm usable%s", caps.pvm ? " (PVM)" : "");
	verdict(&t, caps.vhost_vsock, false, "vhost-vsock: %s",
		caps.vhost_vsock ? "available" : "absent; the agent channel uses virtio-serial");
	check_tees(&t, c);
	const char *state = veil_cli_state_dir(cli);
	verdict(&t, state_dir_usable(state), true, "state directory %s (or its nearest existing parent) is writable",
		state);
	printf("%s\n", t.failed ? "veil cannot run containers on this host" : "this host can run veil containers");
	return t.failed ? 1 : 0;
}
