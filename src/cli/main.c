/* veil: a runc-compatible OCI runtime that runs each container in a microVM. */
#include <dirent.h>
#include <limits.h>
#include <getopt.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/trace.h"
#include "proto/frame.h"

static const struct veil_verb verbs[] = {
	{ "check", "check that this host can run veil", veil_verb_check },
	{ "create", "create a container (its VM boots; the process waits for start)", veil_verb_create },
	{ "delete", "delete a container and its VM", veil_verb_delete },
	{ "env", "show the effective configuration, host capabilities and accelerator", veil_verb_env },
	{ "exec", "run a process in a running container", veil_verb_exec },
	{ "factory", "run, inspect or stop the VM cache (init, status, destroy)", veil_verb_factory },
	{ "features", "show the features this runtime implements (JSON)", veil_verb_features },
	{ "kill", "send a signal to a container's process", veil_verb_kill },
	{ "list", "list containers", veil_verb_list },
	{ "measure", "print the reference values of the configured confidential guest", veil_verb_measure },
	{ "pause", "pause every process of a container (freezes its VM)", veil_verb_pause },
	{ "ps", "show the host processes that stand for a container's processes", veil_verb_ps },
	{ "resume", "resume a paused container", veil_verb_resume },
	{ "run", "create and run a container in a microVM", veil_verb_run },
	{ "spec", "write a default config.json", veil_verb_spec },
	{ "start", "start a created container's process", veil_verb_start },
	{ "state", "show a container's OCI state", veil_verb_state },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: veil [global options] COMMAND [options] [ID]\n\n"
		     "veil runs OCI containers inside confidential microVMs.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "\nGlobal options:\n"
		     "  --config PATH              configuration file (else $VEIL_CONF_FILE, then the default paths)\n"
		     "  --root DIR                 state directory (default: [runtime] state_dir, /run/veil)\n"
		     "  --log FILE                 also log to FILE\n"
		     "  --log-format text|json     format of --log (default text)\n"
		     "  --debug                    verbose logging\n"
		     "  --systemd-cgroup           accepted for runc compatibility\n"
		     "  --show-default-config-paths  print the configuration paths tried, in order\n"
		     "  -v, --version              print the version\n"
		     "  -h, --help                 print this help\n");
}

int veil_cli_report(veil_err_t *err)
{
	const char *msg = (err && *err) ? (*err)->msg : "unknown error";
	fprintf(stderr, "veil: %s\n", msg);
	log_error("%s", msg);
	veil_error_free(err);
	return 1;
}

int veil_cli_config(struct veil_cli *cli, veil_err_t *err)
{
	if (cli->cfg_loaded)
		return 0;
	if (veil_config_load(cli->config_path, &cli->cfg, err) < 0)
		return -1;
	cli->cfg_loaded = true;
	enum veil_log_level level;
	if (!cli->debug && veil_log_parse_level(cli->cfg.runtime.log_level, &level) == 0)
		veil_log_set_level(level);
	log_debug("configuration %s", cli->cfg.path);
	if (cli->debug || cli->cfg.runtime.trace)
		veil_trace_enable(cli->cfg.runtime.trace_dir);
	return 0;
}

const char *veil_cli_state_dir(const struct veil_cli *cli)
{
	return cli->root ? cli->root : cli->cfg.runtime.state_dir;
}

int veil_cli_context(struct veil_cli *cli, struct veil_context *ctx, veil_err_t *err)
{
	if (veil_cli_config(cli, err) < 0)
		return -1;
	*ctx = (struct veil_context){
		.cfg = &cli->cfg, .root = veil_cli_state_dir(cli), .inherited_fds = cli->inherited_fds,
		.n_inherited_fds = cli->n_inherited_fds, .systemd_cgroup = cli->systemd_cgroup,
	};
	return 0;
}

int veil_cli_require_id(const char *verb, int argc, char **argv, const char **id)
{
	if (optind != argc - 1) {
		fprintf(stderr, "veil %s: expected exactly one container ID\n", verb);
		return -1;
	}
	*id = argv[optind];
	return 0;
}

/* Callers leak fds (containerd's shim passes its own socket as fd 3): none
 * may reach QEMU, hooks or mkfs, and a monitor, which outlives its caller,
 * closes them. The factory's keeper is the one verb that is handed an fd. */
static void note_inherited_fds(struct veil_cli *cli)
{
	DIR *d = opendir("/proc/self/fd");
	int self = d ? dirfd(d) : -1;
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != self && cli->n_inherited_fds < VEIL_CLI_MAX_INHERITED)
			cli->inherited_fds[cli->n_inherited_fds++] = fd;
	}
	if (d != NULL)
		closedir(d);
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
}

int main(int argc, char **argv)
{
	/* Before anything else: a start's first phase runs from here. */
	veil_trace_start("config");
	enum { OPT_CONFIG = 256, OPT_ROOT, OPT_LOG, OPT_LOG_FORMAT, OPT_DEBUG, OPT_SYSTEMD_CGROUP, OPT_SHOW_PATHS };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP },
		{ "show-default-config-paths", no_argument, NULL, OPT_SHOW_PATHS },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct veil_cli cli = { .log_format = VEIL_LOG_TEXT };
	note_inherited_fds(&cli);
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: cli.config_path = optarg; break;
		case OPT_ROOT: cli.root = optarg; break;
		case OPT_LOG: cli.log_file = optarg; break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0) {
				cli.log_format = VEIL_LOG_TEXT;
			} else if (strcmp(optarg, "json") == 0) {
				cli.log_format = VEIL_LOG_JSON;
			} else {
				fprintf(stderr, "veil: invalid --log-format %s (text or json)\n", optarg);
				return 1;
			}
			break;
		case OPT_DEBUG: cli.debug = true; break;
		case OPT_SYSTEMD_CGROUP: cli.systemd_cgroup = true; break;
		case OPT_SHOW_PATHS: {
			const char *paths[VEIL_CONFIG_MAX_DEFAULT_PATHS];
			char beside[PATH_MAX];
			size_t n = veil_config_default_paths(paths, beside);
			for (size_t i = 0; i < n; i++)
				printf("%s\n", paths[i]);
			return 0;
		}
		case 'v':
			printf("veil version %s\ncommit: %s\nspec: 1.2.0\nagent protocol: %u\n", VEIL_VERSION,
			       VEIL_COMMIT, VEIL_PROTOCOL_VERSION);
			return 0;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "veil: unknown global option %s\n", argv[optind - 1]);
			return 1;
		}
	}
	if (veil_log_init(cli.log_file, cli.log_format, cli.debug ? VEIL_LOG_DEBUG : VEIL_LOG_INFO, true) < 0) {
		fprintf(stderr, "veil: cannot open log file %s\n", cli.log_file);
		return 1;
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	const char *verb = argv[optind];
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, verb) == 0) {
			int rc = verbs[i].run(&cli, argc - optind, argv + optind);
			if (cli.cfg_loaded)
				veil_config_free(&cli.cfg);
			return rc;
		}
	}
	fprintf(stderr, "veil: unknown command \"%s\" (see veil --help)\n", verb);
	return 1;
}
