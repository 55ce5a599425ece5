/* veil exec: run another process in a running container. The exec client
 * (this process, or its child with --detach) stands for the process on the
 * host: it exits with its status and forwards signals to it, while the
 * container's monitor relays its stdio over the fds handed to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/launch.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/json.h"
#include "lib/oci_spec.h"
#include "runtime/container.h"

/* Replaces NAME=... in env, or appends. */
static void set_env(json_object *env, const char *entry)
{
	size_t name_len = strcspn(entry, "=");
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *cur = json_object_get_string(json_object_array_get_idx(env, i));
		if (strncmp(cur, entry, name_len) == 0 && cur[name_len] == '=') {
			json_object_array_put_idx(env, i, json_object_new_string(entry));
			return;
		}
	}
	json_object_array_add(env, json_object_new_string(entry));
}

/* As runc: the container's own process is the template; flags override it. */
static json_object *process_from_args(const struct veil_launch_args *a, const char *bundle, veil_err_t *err)
{
	cleanup_free char *config_path = NULL;
	if (asprintf(&config_path, "%s/config.json", bundle) < 0)
		return NULL;
	cleanup_free char *text = veil_read_file(config_path, OCI_SPEC_MAX_SIZE, NULL, err);
	if (text == NULL)
		return NULL;
	json_object *doc = json_tokener_parse(text);
	json_object *base = NULL;
	if (doc == NULL || !json_object_object_get_ex(doc, "process", &base)) {
		json_object_put(doc);
		veil_fail(err, 0, "%s: no process to base the exec on", config_path);
		return NULL;
	}
	json_object *p = json_object_get(base);
	json_object_put(doc);
	json_object *args = json_object_new_array();
	for (int i = 1; i < a->n_operands; i++)
		json_object_array_add(args, json_object_new_string(a->operands[i]));
	json_object_object_add(p, "args", args);
	json_object_object_add(p, "terminal", json_object_new_boolean(a->tty));
	json_object *env;
	if (!json_object_object_get_ex(p, "env", &env)) {
		env = json_object_new_array();
		json_object_object_add(p, "env", env);
	}
	for (int i = 0; i < a->n_env; i++)
		set_env(env, a->env[i]);
	if (a->cwd != NULL)
		json_object_object_add(p, "cwd", json_object_new_string(a->cwd));
	if (a->user != NULL) {
		unsigned uid, gid = 0;
		int n = sscanf(a->user, "%u:%u", &uid, &gid);
		if (n < 1) {
			json_object_put(p);
			veil_fail(err, 0, "invalid --user %s (UID[:GID])", a->user);
			return NULL;
		}
		json_object *user = json_object_new_object();
		json_object_object_add(user, "uid", json_object_new_int64(uid));
		json_object_object_add(user, "gid", json_object_new_int64(n == 2 ? gid : 0));
		json_object_object_add(p, "user", user);
	}
	return p;
}

/* A --process file: strict JSON, with errors that give the line and column. */
static json_object *process_from_file(const char *path, veil_err_t *err)
{
	size_t len;
	json_object *process = NULL;
	cleanup_free char *text = veil_read_file(path, OCI_SPEC_MAX_SIZE, &len, err);
	if (text != NULL)
		veil_json_parse(text, len, path, &process, err);
	return process;
}

static int run_exec(struct veil_cli *cli, const char *id, const struct veil_launch_args *a)
{
	veil_err_t err = NULL;
	struct veil_context ctx;
	if (a->process_file == NULL && a->n_operands == 1)
		veil_fail(&err, 0, "exec needs --process or a command");
	if (err != NULL || veil_cli_context(cli, &ctx, &err) < 0)
		return veil_cli_report(&err);
	cleanup_json json_object *process = NULL;
	if (a->process_file != NULL) {
		process = process_from_file(a->process_file, &err);
	} else {
		/* Flags override the container's own process, which its bundle holds. */
		struct veil_state s;
		const char *status;
		if (veil_container_load(&ctx, id, &s, &status, &err) == 0) {
			process = process_from_args(a, s.bundle, &err);
			veil_state_free(&s);
		}
	}
	if (process == NULL && err != NULL)
		return veil_cli_report(&err);
	const struct veil_exec_opts o = {
		.id = id, .process = process, .pid_file = a->pid_file, .console_socket = a->console_socket,
		.detach = a->detach,
	};
	int rc = veil_container_exec(&ctx, &o, &err);
	return rc < 0 ? veil_cli_report(&err) : rc;
}

int veil_verb_exec(struct veil_cli *cli, int argc, char **argv)
{
	struct veil_launch_args a;
	int rc = veil_cli_parse_launch(VEIL_LAUNCH_EXEC, argc, argv, &a);
	return rc >= 0 ? rc : run_exec(cli, a.operands[0], &a);
}
