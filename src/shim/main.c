/* containerd-shim-veil-v2: containerd's runtime v2 shim for veil, one per
 * pod (docs/shim.md). containerd runs it as
 *   -namespace NS -address A -publish-binary B -id ID [-debug] start
 *     (cwd: the bundle) prints the pod's shim's address, starting the shim
 *     unless the pod has one: its daemon serves the Task service over ttrpc;
 *   -namespace NS -address A -publish-binary B -id ID -bundle DIR delete
 *     cleans up after a shim that died and prints a DeleteResponse.
 * The daemon is this binary again with the hidden action "serve". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "github.com/containerd/containerd/pkg/runtimeoptions/v1/api.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "lib/cleanup.h"
#include "lib/config.h"
#include "lib/control.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/oci_spec.h"
#include "lib/spawn.h"
#include "runtime/state.h"
#include "shim/events.h"
#include "shim/pod.h"
#include "shim/task.h"
#include "shim/ttrpc.h"

#ifndef VEIL_VERSION
#define VEIL_VERSION "unknown"
#endif

#define NAME "containerd-shim-veil-v2"
/* Where containerd 1.6's own shims put their sockets; a path of at most 106 bytes. */
#define SOCKET_DIR "/run/containerd/s"
/* What start writes into each bundle for delete: the configuration it chose. */
#define BUNDLE_RECORD "veil.json"
/* The runtime options containerd sends runtimes other than runc (CRI's ConfigPath). */
#define RUNTIME_OPTIONS_TYPE "runtimeoptions.v1.Options"
#define MAX_OPTIONS (64u << 10)
/* Kata's annotation too, so that a Kata pod spec works unchanged. */
static const char *const config_annotations[] = { "io.veil.config_path", "io.katacontainers.config_path" };

struct shim_args {
	const char *ns, *address, *publish_binary, *id, *bundle;
	const char *config; /* serve: the configuration start chose */
	bool debug;
	const char *action;
};

static void usage(void)
{
	fprintf(stderr, "usage: " NAME " -namespace NS -address ADDRESS -id ID [-bundle DIR] [-debug] start|delete\n");
}

/* Go's flag syntax: -name value, -name=value, --name; -debug alone. */
static int parse_args(int argc, char **argv, struct shim_args *a)
{
	static const struct {
		const char *name;
		size_t offset;
	} strings[] = {
		{ "namespace", offsetof(struct shim_args, ns) },   { "address", offsetof(struct shim_args, address) },
		{ "publish-binary", offsetof(struct shim_args, publish_binary) },
		{ "id", offsetof(struct shim_args, id) },	   { "bundle", offsetof(struct shim_args, bundle) },
		{ "veil-config", offsetof(struct shim_args, config) },
	};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (arg[0] != '-') {
			if (a->action != NULL) {
				fprintf(stderr, NAME ": unexpected argument %s\n", arg);
				return -1;
			}
			a->action = arg;
			continue;
		}
		arg += arg[1] == '-' ? 2 : 1;
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		if (len == 5 && strncmp(arg, "debug", 5) == 0) {
			a->debug = eq == NULL || strcmp(eq + 1, "true") == 0;
			continue;
		}
		if ((len == 1 && arg[0] == 'v') || (len == 7 && strncmp(arg, "version", 7) == 0)) {
			a->action = "version";
			continue;
		}
		size_t k = 0;
		while (k < sizeof(strings) / sizeof(strings[0]) &&
		       (strlen(strings[k].name) != len || strncmp(strings[k].name, arg, len) != 0))
			k++;
		if (k == sizeof(strings) / sizeof(strings[0])) {
			fprintf(stderr, NAME ": unknown flag %s\n", argv[i]);
			return -1;
		}
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (value == NULL) {
			fprintf(stderr, NAME ": flag %s needs a value\n", argv[i]);
			return -1;
		}
		*(const char **)((char *)a + strings[k].offset) = value;
	}
	return 0;
}

static int fail_exit(veil_err_t *err)
{
	fprintf(stderr, NAME ": %s\n", (*err)->msg);
	log_error("%s", (*err)->msg);
	veil_error_free(err);
	return 1;
}

/* The pod a container belongs to: CRI's sandbox, else itself (ctr run). */
static const char *group_of(const struct oci_spec *spec, const char *id)
{
	const char *sandbox = shim_annotation(spec, SHIM_ANNOTATION_SANDBOX_ID, SHIM_ANNOTATION_CRIO_SANDBOX_ID);
	return sandbox != NULL && sandbox[0] != '\0' ? sandbox : id;
}

/* As containerd's shims name theirs: a hash of containerd's address, the
 * namespace and the group, so that every container of a pod finds one. */
static int socket_path(const struct shim_args *a, const char *group, char *out, size_t size, veil_err_t *err)
{
	cleanup_free char *key = NULL;
	if (asprintf(&key, "%s/%s/%s", a->address, a->ns, group) < 0)
		return veil_fail(err, ENOMEM, "socket");
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA256((const uint8_t *)key, strlen(key), digest);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	veil_hex_encode(digest, sizeof(digest), hex);
	snprintf(out, size, "%s/%s", SOCKET_DIR, hex);
	return 0;
}

static bool can_connect(const char *path)
{
	veil_err_t err = NULL;
	int fd = veil_unix_connect(path, SOCK_STREAM, &err);
	veil_error_free(&err);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Whether the pod's shim still serves: it answers on its socket, and is not
 * a killed one whose socket outlives it for a moment (containerd calls delete
 * as soon as its connection to the shim closes). */
static bool shim_alive(const char *socket, const char *pod_dir)
{
	if (!can_connect(socket))
		return false;
	char path[PATH_MAX];
	if (pod_dir == NULL || (size_t)snprintf(path, sizeof(path), "%s/%s", pod_dir, SHIM_PID_RECORD) >= sizeof(path))
		return true;
	cleanup_fclose FILE *f = fopen(path, "re");
	int pid;
	unsigned long long start;
	if (f == NULL || fscanf(f, "%d %llu", &pid, &start) != 2)
		return true;
	return veil_process_alive(pid, start);
}

/* The runtime options on stdin: an Any; ConfigPath if it is runtimeoptions.v1.Options. */
static int read_options(char **config_path, veil_err_t *err)
{
	*config_path = NULL;
	cleanup_free uint8_t *buf = malloc(MAX_OPTIONS);
	if (buf == NULL)
		return veil_fail(err, ENOMEM, "options");
	size_t len = 0;
	for (;;) {
		ssize_t n = read(0, buf + len, MAX_OPTIONS - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return veil_fail(err, errno, "reading the runtime options");
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == MAX_OPTIONS)
			return veil_fail(err, 0, "runtime options longer than %u bytes", MAX_OPTIONS);
	}
	if (len == 0)
		return 0;
	Google__Protobuf__Any *any = google__protobuf__any__unpack(NULL, len, buf);
	if (any == NULL)
		return veil_fail(err, 0, "the runtime options are not a protobuf Any");
	size_t tlen = strlen(any->type_url), want = strlen(RUNTIME_OPTIONS_TYPE);
	int rc = 0;
	if (tlen >= want && strcmp(any->type_url + tlen - want, RUNTIME_OPTIONS_TYPE) == 0) {
		Runtimeoptions__V1__Options *o = runtimeoptions__v1__options__unpack(NULL, any->value.len, any->value.data);
		if (o == NULL)
			rc = veil_fail(err, 0, "malformed %s", RUNTIME_OPTIONS_TYPE);
		else if (o->config_path[0] != '\0' && (*config_path = strdup(o->config_path)) == NULL)
			rc = veil_fail(err, ENOMEM, "options");
		if (o != NULL)
			runtimeoptions__v1__options__free_unpacked(o, NULL);
	} else {
		log_debug("runtime options of type %s ignored", any->type_url);
	}
	google__protobuf__any__free_unpacked(any, NULL);
	return rc;
}

/* Kata's order: the pod's annotation, the shim options' ConfigPath, then
 * VEIL_CONF_FILE and the default paths (veil_config_load). */
static int load_config(const struct oci_spec *spec, const char *options_path, struct veil_config *cfg,
		       veil_err_t *err)
{
	const char *path = options_path;
	for (size_t i = 0; i < sizeof(config_annotations) / sizeof(config_annotations[0]); i++) {
		const char *v = shim_annotation(spec, config_annotations[i], NULL);
		if (v != NULL && v[0] != '\0') {
			path = v;
			break;
		}
	}
	return veil_config_load(path, cfg, err);
}

static int write_record(const char *bundle, const char *name, const char *text, veil_err_t *err)
{
	cleanup_free char *path = NULL;
	if (asprintf(&path, "%s/%s", bundle, name) < 0)
		return veil_fail(err, ENOMEM, "%s", name);
	return veil_write_file_atomic(path, text, strlen(text), err);
}

/* The daemon: this binary again, with the listening socket as fd 3, in a
 * session of its own and with no fd of containerd's (whose start call
 * waits for its stdout and stderr to close). */
static int spawn_daemon(const struct shim_args *a, const char *config, int listen_fd, veil_err_t *err)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return veil_fail(err, errno, "/proc/self/exe");
	self[n] = '\0';
	pid_t pid = fork();
	if (pid < 0)
		return veil_fail(err, errno, "fork");
	if (pid > 0)
		return 0;
	setsid();
	/* Above 0..3 first, so that no dup2 below overwrites it. */
	int sock = fcntl(listen_fd, F_DUPFD, 10);
	int null = open("/dev/null", O_RDWR);
	if (sock < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(sock, 3) < 0)
		_exit(127);
	for (int fd = 4; fd < 1024; fd++)
		close(fd);
	char *argv[16];
	int i = 0;
	argv[i++] = self;
	const char *flags[][2] = { { "-namespace", a->ns },	{ "-address", a->address },
				   { "-publish-binary", a->publish_binary ? a->publish_binary : "" },
				   { "-id", a->id },		{ "-veil-config", config } };
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		argv[i++] = (char *)flags[f][0];
		argv[i++] = (char *)flags[f][1];
	}
	if (a->debug)
		argv[i++] = "-debug";
	argv[i++] = "serve";
	argv[i] = NULL;
	execv(self, argv);
	_exit(127);
}

static int cmd_start(const struct shim_args *a)
{
	veil_err_t err = NULL;
	char bundle[4096];
	if (getcwd(bundle, sizeof(bundle)) == NULL)
		return veil_fail(&err, errno, "getcwd"), fail_exit(&err);
	struct oci_spec spec;
	if (oci_spec_load_bundle(bundle, &spec, &err) < 0)
		return fail_exit(&err);
	cleanup_free char *options_path = NULL;
	struct veil_config cfg;
	char path[256];
	if (read_options(&options_path, &err) < 0 || load_config(&spec, options_path, &cfg, &err) < 0) {
		oci_spec_free(&spec);
		return fail_exit(&err);
	}
	int rc = socket_path(a, group_of(&spec, a->id), path, sizeof(path), &err);
	oci_spec_free(&spec);
	char address[sizeof(path) + 8];
	snprintf(address, sizeof(address), "unix://%s", path);
	cleanup_json json_object *record = json_object_new_object();
	json_object_object_add(record, "config", json_object_new_string(cfg.path));
	if (rc == 0)
		rc = write_record(bundle, BUNDLE_RECORD, json_object_to_json_string(record), &err);
	/* A pod's later containers are served by the shim its sandbox started. */
	if (rc == 0 && can_connect(path)) {
		rc = write_record(bundle, "address", address, &err);
	} else if (rc == 0) {
		unlink(path);
		int fd = -1;
		rc = veil_mkdir_p(SOCKET_DIR, 0711, &err);
		if (rc == 0 && (fd = veil_unix_listen(path, SOCK_STREAM, &err)) < 0)
			rc = -1;
		if (rc == 0 && (write_record(bundle, "address", address, &err) < 0 ||
				spawn_daemon(a, cfg.path, fd, &err) < 0)) {
			unlink(path);
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	veil_config_free(&cfg);
	if (rc < 0)
		return fail_exit(&err);
	printf("%s", address);
	return 0;
}

/* The Delete response containerd reads: nothing else may go to stdout. */
static int print_delete_response(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	Google__Protobuf__Timestamp at;
	shim_timestamp_of(&now, &at);
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	resp.exit_status = 128 + SIGKILL;
	resp.exited_at = &at;
	uint8_t buf[64];
	size_t len = protobuf_c_message_pack(&resp.base, buf);
	return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
}

/* The configuration start chose for this bundle, from its record. */
static int recorded_config(const char *bundle, struct veil_config *cfg, veil_err_t *err)
{
	cleanup_free char *path = NULL, *text = NULL;
	size_t len;
	if (asprintf(&path, "%s/%s", bundle, BUNDLE_RECORD) < 0)
		return veil_fail(err, ENOMEM, "record");
	if ((text = veil_read_file(path, 64 << 10, &len, err)) == NULL)
		return -1;
	cleanup_json json_object *record = NULL;
	json_object *config;
	if (veil_json_parse(text, len, path, &record, err) < 0)
		return -1;
	if (!json_object_object_get_ex(record, "config", &config) || !json_object_is_type(config, json_type_string))
		return veil_fail(err, 0, "%s: no \"config\"", path);
	return veil_config_load(json_object_get_string(config), cfg, err);
}

/* containerd's clean-up of a shim that died (or of a pod's container whose
 * shim lives on): nothing of a dead shim's pod may stay. */
static int cmd_delete(const struct shim_args *a)
{
	char cwd[4096];
	const char *bundle = a->bundle;
	if (bundle == NULL || bundle[0] == '\0')
		bundle = getcwd(cwd, sizeof(cwd));
	veil_err_t err = NULL;
	struct oci_spec spec;
	const char *group = a->id;
	bool have_spec = bundle != NULL && oci_spec_load_bundle(bundle, &spec, &err) == 0;
	veil_error_free(&err);
	if (have_spec)
		group = group_of(&spec, a->id);
	char path[256];
	if (socket_path(a, group, path, sizeof(path), &err) < 0)
		return fail_exit(&err);
	cleanup_free char *dir = NULL;
	struct veil_config cfg;
	if (bundle != NULL && recorded_config(bundle, &cfg, &err) == 0) {
		if (veil_validate_id(group, &err) == 0 &&
		    asprintf(&dir, "%s/containerd/%s/%s", cfg.runtime.state_dir, a->ns, group) < 0)
			dir = NULL;
		veil_config_free(&cfg);
	}
	veil_error_free(&err);
	/* A live shim serves the pod's other containers and cleans up after
	 * this one itself. */
	if (!shim_alive(path, dir)) {
		unlink(path);
		if (dir != NULL)
			veil_remove_tree(dir);
		if (bundle != NULL) {
			cleanup_free char *rootfs = NULL;
			if (asprintf(&rootfs, "%s/rootfs", bundle) > 0)
				umount2(rootfs, MNT_DETACH);
		}
	}
	if (have_spec)
		oci_spec_free(&spec);
	return print_delete_response();
}

/* ---- the daemon ---- */

static void publish(void *opaque, const char *topic, const ProtobufCMessage *event)
{
	shim_events_publish(opaque, topic, event);
}

/* The bundle's log FIFO, which containerd reads while the shim runs. */
static void log_to_bundle(void)
{
	int fd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0)
		veil_log_use_fd(fd);
}

/* The socket start made, which a daemon that cannot serve removes. */
static int listening_socket(struct sockaddr_un *addr, veil_err_t *err)
{
	socklen_t len = sizeof(*addr);
	if (getsockname(3, (struct sockaddr *)addr, &len) < 0 || addr->sun_family != AF_UNIX)
		return veil_fail(err, errno ? errno : ENOTSOCK, "fd 3 is not the shim's socket");
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0 || fcntl(3, F_SETFL, O_NONBLOCK) < 0)
		return veil_fail(err, errno, "the shim's socket");
	return 0;
}

static int serve(const struct shim_args *a)
{
	veil_err_t err = NULL;
	log_to_bundle();
	struct sockaddr_un addr;
	if (listening_socket(&addr, &err) < 0)
		return fail_exit(&err);
	struct veil_config cfg;
	if (a->config == NULL)
		veil_fail(&err, 0, "serve needs -veil-config");
	if (err != NULL || veil_config_load(a->config, &cfg, &err) < 0) {
		unlink(addr.sun_path);
		return fail_exit(&err);
	}
	enum veil_log_level level;
	if (!a->debug && veil_log_parse_level(cfg.runtime.log_level, &level) == 0)
		veil_log_set_level(level);
	/* Apart: a stop signal aborts the waits on the VM, a child's exit must not. */
	static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP };
	static const int child_signal[] = { SIGCHLD };
	static struct shim_service svc;
	static struct shim_pod pod;
	static struct veil_ttrpc_server server;
	struct shim_events events;
	int sfd = veil_signalfd_for(stop_signals, sizeof(stop_signals) / sizeof(stop_signals[0]), &err);
	int cfd = sfd < 0 ? -1 : veil_signalfd_for(child_signal, 1, &err);
	if (cfd < 0 || shim_events_init(&events, getenv("TTRPC_ADDRESS"), a->ns, &err) < 0 ||
	    shim_pod_init(&pod, &cfg, a->ns, sfd, &svc, &err) < 0) {
		unlink(addr.sun_path);
		return fail_exit(&err);
	}
	svc = (struct shim_service){ .ops = &shim_pod_ops, .pod = &pod, .publish = publish, .publish_opaque = &events,
				     .server = &server };
	veil_ttrpc_server_init(&server, 3, shim_service_handle, &svc);
	log_info("shim for %s in namespace %s serving on %s", a->id, a->ns, addr.sun_path);

	enum { SIGNALS = VEIL_TTRPC_POLLFDS, CHILDREN, POD };
	static struct pollfd pfds[POD + SHIM_POD_POLLFDS];
	bool stop = false;
	while (!svc.done && !stop) {
		veil_ttrpc_server_poll_fds(&server, pfds);
		pfds[SIGNALS] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfds[CHILDREN] = (struct pollfd){ .fd = cfd, .events = POLLIN };
		size_t n_pod = shim_pod_poll_fds(&pod, pfds + POD);
		if (poll(pfds, POD + n_pod, -1) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		struct signalfd_siginfo si;
		if ((pfds[SIGNALS].revents & POLLIN) && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			log_info("signal %u: stopping the pod", si.ssi_signo);
			stop = true;
		}
		if ((pfds[CHILDREN].revents & POLLIN) && read(cfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			shim_pod_reap(&pod);
		shim_pod_poll_done(&pod, pfds + POD, n_pod);
		veil_ttrpc_server_poll_done(&server, pfds);
		shim_pod_report_exits(&pod);
	}
	/* The pod (its VM, its state) and the socket's name go before the last
	 * answers (Shutdown's) go out, as Kata's shim stops its sandbox before
	 * answering: once containerd's delete returns, nothing of the pod is left. */
	log_info("shim for %s exiting", a->id);
	shim_pod_release(&pod);
	unlink(addr.sun_path);
	veil_ttrpc_server_flush(&server);
	shim_service_release(&svc);
	veil_ttrpc_server_release(&server);
	shim_events_release(&events);
	veil_config_free(&cfg);
	close(sfd);
	close(cfd);
	return 0;
}

int main(int argc, char **argv)
{
	struct shim_args a = { 0 };
	if (parse_args(argc, argv, &a) < 0) {
		usage();
		return 2;
	}
	if (a.action != NULL && strcmp(a.action, "version") == 0) {
		printf(NAME ":\n  Version: %s\n", VEIL_VERSION);
		return 0;
	}
	veil_log_init(NULL, VEIL_LOG_TEXT, a.debug ? VEIL_LOG_DEBUG : VEIL_LOG_INFO, true);
	if (a.action == NULL || a.ns == NULL || a.id == NULL || (strcmp(a.action, "serve") != 0 && a.address == NULL)) {
		usage();
		return 2;
	}
	if (strcmp(a.action, "start") == 0)
		return cmd_start(&a);
	if (strcmp(a.action, "delete") == 0)
		return cmd_delete(&a);
	if (strcmp(a.action, "serve") == 0)
		return serve(&a);
	fprintf(stderr, NAME ": unknown action %s\n", a.action);
	usage();
	return 2;
}
