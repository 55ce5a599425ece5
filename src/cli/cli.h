/* Shared state of one `veil` invocation: global flags and the loaded config. */
#ifndef VEIL_CLI_H
#define VEIL_CLI_H

#include <stdbool.h>

#include "lib/config.h"
#include "lib/error.h"
#include "lib/log.h"
#include "runtime/container.h"

#define VEIL_CLI_MAX_INHERITED 64

struct veil_cli {
	const char *config_path;
	const char *root;        /* --root: overrides [runtime] state_dir */
	const char *log_file;
	enum veil_log_format log_format;
	bool debug;
	bool systemd_cgroup;
	struct veil_config cfg;
	bool cfg_loaded;
	int inherited_fds[VEIL_CLI_MAX_INHERITED]; /* fds > 2 open when veil started */
	int n_inherited_fds;
};

/* Loads the configuration once; --root and --debug take precedence over it. */
int veil_cli_config(struct veil_cli *cli, veil_err_t *err);
const char *veil_cli_state_dir(const struct veil_cli *cli);
/* The configuration loaded, and what the runtime's calls need from this invocation. */
int veil_cli_context(struct veil_cli *cli, struct veil_context *ctx, veil_err_t *err);
/* After getopt: exactly one positional argument, the ID. */
int veil_cli_require_id(const char *verb, int argc, char **argv, const char **id);

/* Prints "veil: MESSAGE" on stderr, logs it, frees the error; returns 1. */
int veil_cli_report(veil_err_t *err);

struct veil_verb {
	const char *name;
	const char *summary;
	int (*run)(struct veil_cli *cli, int argc, char **argv);
};

int veil_verb_run(struct veil_cli *cli, int argc, char **argv);
int veil_verb_create(struct veil_cli *cli, int argc, char **argv);
int veil_verb_start(struct veil_cli *cli, int argc, char **argv);
int veil_verb_state(struct veil_cli *cli, int argc, char **argv);
int veil_verb_kill(struct veil_cli *cli, int argc, char **argv);
int veil_verb_delete(struct veil_cli *cli, int argc, char **argv);
int veil_verb_exec(struct veil_cli *cli, int argc, char **argv);
int veil_verb_ps(struct veil_cli *cli, int argc, char **argv);
int veil_verb_list(struct veil_cli *cli, int argc, char **argv);
int veil_verb_pause(struct veil_cli *cli, int argc, char **argv);
int veil_verb_resume(struct veil_cli *cli, int argc, char **argv);
int veil_verb_features(struct veil_cli *cli, int argc, char **argv);
int veil_verb_factory(struct veil_cli *cli, int argc, char **argv);

int veil_verb_env(struct veil_cli *cli, int argc, char **argv);
int veil_verb_check(struct veil_cli *cli, int argc, char **argv);
int veil_verb_measure(struct veil_cli *cli, int argc, char **argv);

/* The factory's warm-up rootfs (factory.h), an erofs image at image_path. */
int veil_cli_build_warm_up_image(const char *image_path, veil_err_t *err);
int veil_verb_spec(struct veil_cli *cli, int argc, char **argv);

#endif
