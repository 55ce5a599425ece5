/* veil factory: the VM cache daemon (init), what it holds (status), its
 * removal (destroy) and a pooled VM's memory (dump-memory, to verify that a
 * reset left nothing behind). Hidden sub-commands: `keeper` and
 * `template-build`, which the daemon runs, and `claim-test`, which claims
 * and readies one VM the way a container's start does, for tests and
 * benchmarks. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/factory.h"
#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/strv.h"
#include "proto/contract.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: veil factory init [--detach] [--pid-file FILE]\n"
		     "       veil factory status [--json]\n"
		     "       veil factory destroy\n"
		     "       veil factory dump-memory [--qemu-pid PID] FILE\n");
}

/* Options are taken only where the sub-command has them, and exactly
 * `operands` arguments must follow them. */
static bool parse(int argc, char **argv, const struct option *opts, int operands, void (*take)(void *ctx, int opt),
		  void *ctx)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return false;
		take(ctx, c);
	}
	return argc - optind == operands;
}

struct init_args {
	bool detach;
	const char *pid_file;
};

static void take_init(void *ctx, int opt)
{
	struct init_args *a = ctx;
	if (opt == 'd')
		a->detach = true;
	else
		a->pid_file = optarg;
}

static int factory_init(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ 0 },
	};
	struct init_args a = { 0 };
	if (!parse(argc, argv, opts, 0, take_init, &a)) {
		usage(stderr);
		return 1;
	}
	veil_err_t err = NULL;
	if (veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	/* Keepers run this very binary with this invocation's configuration and logging. */
	cleanup_strv struct veil_strv self = { 0 };
	veil_strv_push(&self, "/proc/self/exe");
	veil_strv_push(&self, "--config");
	veil_strv_push(&self, cli->cfg.path);
	if (cli->debug)
		veil_strv_push(&self, "--debug");
	if (cli->log_file != NULL) {
		veil_strv_push(&self, "--log");
		veil_strv_push(&self, cli->log_file);
		veil_strv_push(&self, "--log-format");
		veil_strv_push(&self, cli->log_format == VEIL_LOG_JSON ? "json" : "text");
	}
	const struct veil_factory_opts o = {
		.cfg = &cli->cfg, .veil_argv = self.items, .detach = a.detach, .pid_file = a.pid_file,
		.build_warm_up_image = veil_cli_build_warm_up_image,
	};
	bool is_daemon;
	if (veil_factory_run(&o, &is_daemon, &err) < 0) {
		/* A detached daemon has nobody to tell but the log. */
		if (is_daemon && a.detach) {
			log_error("%s", err->msg);
			veil_error_free(&err);
			return 1;
		}
		return veil_cli_report(&err);
	}
	return 0;
}

static void take_flag(void *ctx, int opt)
{
	(void)opt;
	*(bool *)ctx = true;
}

/* For a sub-command whose one option takes a value. */
static void take_optarg(void *ctx, int opt)
{
	(void)opt;
	*(const char **)ctx = optarg;
}

/* From the kernel's accounting of the process: kB, or -1 if it is gone. */
static void memory_of(pid_t pid, long *rss, long *pss)
{
	char path[64], line[128];
	*rss = *pss = -1;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	cleanup_fclose FILE *f = pid > 0 ? fopen(path, "re") : NULL;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "Rss: %ld kB", rss);
		sscanf(line, "Pss: %ld kB", pss);
	}
}

static void print_json(const struct cache_status *st, bool running)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "running", json_object_new_boolean(running));
	if (running) {
		json_object_object_add(o, "pid", json_object_new_int(st->pid));
		json_object_object_add(o, "target", json_object_new_int64(st->target));
		json_object_object_add(o, "claimed", json_object_new_int64(st->claimed));
		json_object_object_add(o, "failures", json_object_new_int64(st->failures));
		json_object_object_add(o, "returned", json_object_new_int64(st->returned));
		json_object *tmpl = json_object_new_object();
		json_object_object_add(tmpl, "state",
				       json_object_new_string(cache_template_state_name(st->template_state)));
		if (st->template_state == CACHE_TEMPLATE_READY) {
			json_object_object_add(tmpl, "hash", json_object_new_string(st->template_hash));
			json_object_object_add(tmpl, "build_ms", json_object_new_int64(st->template_build_ms));
		}
		json_object_object_add(o, "template", tmpl);
		json_object *vms = json_object_new_array();
		for (size_t i = 0; i < st->n_vms; i++) {
			const struct cache_vm_status *v = &st->vms[i];
			long rss, pss;
			memory_of(v->qemu_pid, &rss, &pss);
			json_object *e = json_object_new_object();
			json_object_object_add(e, "state", json_object_new_string(cache_vm_state_name(v->state)));
			json_object_object_add(e, "qemu_pid", json_object_new_int(v->qemu_pid));
			json_object_object_add(e, "keeper_pid", json_object_new_int(v->keeper_pid));
			json_object_object_add(e, "age_ms", json_object_new_int64((int64_t)v->age_ms));
			json_object_object_add(e, "boot_ms", json_object_new_int64(v->boot_ms));
			json_object_object_add(e, "rss_kib", json_object_new_int64(rss));
			json_object_object_add(e, "pss_kib", json_object_new_int64(pss));
			json_object_object_add(e, "vcpus", json_object_new_int64(v->vcpus));
			json_object_object_add(e, "memory_mib", json_object_new_int64(v->memory_mib));
			json_object_object_add(e, "origin", json_object_new_string(v->cloned ? "clone" : "boot"));
			json_object_object_add(e, "scrubs", json_object_new_int64(v->scrubs));
			json_object_object_add(e, "warmed", json_object_new_boolean(v->warmed));
			json_object_array_add(vms, e);
		}
		json_object_object_add(o, "vms", vms);
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void print_table(const struct cache_status *st)
{
	size_t ready = 0;
	for (size_t i = 0; i < st->n_vms; i++)
		ready += st->vms[i].state == CACHE_VM_PAUSED;
	printf("factory pid %d: %zu of %u VMs ready, %u claimed, %u returned, %u failures\n", (int)st->pid, ready,
	       st->target, st->claimed, st->returned, st->failures);
	if (st->template_state == CACHE_TEMPLATE_READY)
		printf("template: ready, built in %.1fs, hash %.12s\n", (double)st->template_build_ms / 1000,
		       st->template_hash);
	else
		printf("template: %s\n", cache_template_state_name(st->template_state));
	printf("%-9s %-9s %-6s %6s %9s %9s %11s %11s %5s %10s\n", "QEMU PID", "STATE", "ORIGIN", "SCRUBS", "AGE", "READY",
	       "RSS", "PSS", "VCPUS", "MEMORY");
	for (size_t i = 0; i < st->n_vms; i++) {
		const struct cache_vm_status *v = &st->vms[i];
		long rss, pss;
		memory_of(v->qemu_pid, &rss, &pss);
		char qemu[16] = "-";
		if (v->qemu_pid > 0)
			snprintf(qemu, sizeof(qemu), "%d", (int)v->qemu_pid);
		printf("%-9s %-9s %-6s %6u %8.1fs %8.1fs %7.1f MiB %7.1f MiB %5u %6u MiB\n", qemu,
		       cache_vm_state_name(v->state), v->cloned ? "clone" : "boot", v->scrubs, (double)v->age_ms / 1000,
		       (double)v->boot_ms / 1000, rss < 0 ? 0.0 : (double)rss / 1024, pss < 0 ? 0.0 : (double)pss / 1024,
		       v->vcpus, v->memory_mib);
	}
}

static int factory_status(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	bool json = false;
	if (!parse(argc, argv, opts, 0, take_flag, &json)) {
		usage(stderr);
		return 1;
	}
	veil_err_t err = NULL;
	if (veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	static struct cache_status st;
	int rc = veil_factory_status(&cli->cfg, &st, &err);
	if (rc < 0)
		return veil_cli_report(&err);
	/* As kata-runtime: a factory that is off is a state, not an error. */
	if (json)
		print_json(&st, rc == 1);
	else if (rc == 0)
		printf("factory is off\n");
	else
		print_table(&st);
	return 0;
}

static int factory_destroy(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { 0 } };
	if (!parse(argc, argv, opts, 0, take_flag, NULL)) {
		usage(stderr);
		return 1;
	}
	veil_err_t err = NULL;
	bool was_running;
	if (veil_cli_config(cli, &err) < 0 || veil_factory_destroy(&cli->cfg, &was_running, &err) < 0)
		return veil_cli_report(&err);
	printf(was_running ? "factory destroyed\n" : "factory is off\n");
	return 0;
}

struct keeper_args {
	const char *name, *console, *warm_up_image;
	bool clone;
};

static void take_keeper(void *ctx, int opt)
{
	struct keeper_args *a = ctx;
	if (opt == 'n')
		a->name = optarg;
	else if (opt == 'k')
		a->clone = true;
	else if (opt == 'w')
		a->warm_up_image = optarg;
	else
		a->console = optarg;
}

/* Keepers and builders report to the log: nobody reads their stderr. */
static int log_failure(veil_err_t *err)
{
	log_error("%s", (*err)->msg);
	veil_error_free(err);
	return 1;
}

static int factory_keeper(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "console", required_argument, NULL, 'c' },
		{ "clone", no_argument, NULL, 'k' },
		{ "warm-up", required_argument, NULL, 'w' },
		{ 0 },
	};
	struct keeper_args a = { 0 };
	if (!parse(argc, argv, opts, 0, take_keeper, &a) || a.name == NULL || a.console == NULL) {
		fprintf(stderr, "veil factory keeper: run by the factory only\n");
		return 1;
	}
	veil_err_t err = NULL;
	if (veil_cli_config(cli, &err) < 0 || veil_factory_keeper(&cli->cfg, a.name, a.console, a.clone, a.warm_up_image, &err) < 0)
		return log_failure(&err);
	return 0;
}

static int factory_template_build(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "console", required_argument, NULL, 'c' }, { 0 } };
	struct keeper_args a = { 0 };
	if (!parse(argc, argv, opts, 0, take_keeper, &a) || a.console == NULL) {
		fprintf(stderr, "veil factory template-build: run by the factory only\n");
		return 1;
	}
	veil_err_t err = NULL;
	if (veil_cli_config(cli, &err) < 0 || veil_factory_build_template(&cli->cfg, a.console, &err) < 0)
		return log_failure(&err);
	return 0;
}

/* The dump is an ELF core of guest-physical memory (QMP dump-guest-memory),
 * in a new file, so that an existing one is never overwritten. */
static int factory_dump_memory(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "qemu-pid", required_argument, NULL, 'p' }, { 0 } };
	const char *pid_arg = NULL;
	long qemu_pid = 0;
	char *end = NULL;
	if (!parse(argc, argv, opts, 1, take_optarg, &pid_arg) ||
	    (pid_arg != NULL &&
	     ((qemu_pid = strtol(pid_arg, &end, 10)) <= 0 || *end != '\0' || qemu_pid > INT32_MAX))) {
		usage(stderr);
		return 1;
	}
	veil_err_t err = NULL;
	const char *path = argv[optind];
	if (veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		veil_fail(&err, errno, "%s", path);
		return veil_cli_report(&err);
	}
	pid_t dumped;
	if (veil_factory_dump(&cli->cfg, (pid_t)qemu_pid, fd, &dumped, &err) < 0) {
		unlink(path);
		return veil_cli_report(&err);
	}
	printf("qemu %d\n", (int)dumped);
	return 0;
}

struct claim_args {
	const char *image;
	bool hold;
};

static void take_claim(void *ctx, int opt)
{
	struct claim_args *a = ctx;
	if (opt == 'i')
		a->image = optarg;
	else
		a->hold = true;
}

/* Claims a VM and readies it with IMAGE as its rootfs disk, exactly as a
 * container's start does; prints "qemu PID". With --hold, keeps the VM until
 * SIGTERM or SIGINT. Exit status 2: no VM, and why on stderr. */
static int factory_claim_test(struct veil_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "hold", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct claim_args a = { 0 };
	if (!parse(argc, argv, opts, 0, take_claim, &a) || a.image == NULL) {
		fprintf(stderr, "usage: veil factory claim-test --image FILE [--hold]\n");
		return 1;
	}
	veil_err_t err = NULL;
	if (veil_cli_config(cli, &err) < 0)
		return veil_cli_report(&err);
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	__attribute__((cleanup(veil_vm_shape_release))) struct veil_vm_shape shape = { 0 };
	if (veil_vm_shape_from_config(&cli->cfg, "claim-test", "", &shape, &err) < 0)
		return veil_cli_report(&err);
	const struct veil_disk rootfs = { .path = a.image, .serial = VEIL_ROOTFS_SERIAL, .readonly = true };
	shape.vm.disks = &rootfs;
	shape.vm.n_disks = 1;
	struct veil_vm vm;
	char why[256];
	int rc = veil_cache_claim(&shape, &vm, why, sizeof(why), &err);
	if (rc < 0)
		return veil_cli_report(&err);
	if (rc == 0) {
		fprintf(stderr, "veil: no cached VM: %s\n", why);
		return 2;
	}
	rc = veil_cache_adopt(&vm, &shape, &err);
	if (rc == 0) {
		printf("qemu %d\n", (int)vm.pid);
		fflush(stdout);
		int sig;
		if (a.hold)
			sigwait(&stop, &sig);
	}
	vm.hv->teardown(&vm);
	return rc < 0 ? veil_cli_report(&err) : 0;
}

int veil_verb_factory(struct veil_cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct veil_cli *cli, int argc, char **argv);
	} subs[] = {
		{ "init", factory_init },
		{ "status", factory_status },
		{ "destroy", factory_destroy },
		{ "dump-memory", factory_dump_memory },
		{ "keeper", factory_keeper },
		{ "template-build", factory_template_build },
		{ "claim-test", factory_claim_test },
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(cli, argc - 1, argv + 1);
	fprintf(stderr, "veil factory: unknown sub-command \"%s\"\n", argv[1]);
	usage(stderr);
	return 1;
}
