/* veil-kbs: the command line. `serve` runs the broker; the other verbs talk
 * to a running one over its admin socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kbs/kbs.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/spawn.h"

static const char usage[] =
	"usage: veil-kbs [--config FILE] [--admin-socket PATH] COMMAND\n"
	"  serve [--detach] [--pid-file FILE] [--log FILE] [--debug]\n"
	"  resource set REPO/TYPE/TAG FILE|-    store a secret (0600, atomic)\n"
	"  resource get REPO/TYPE/TAG           print a secret\n"
	"  resource delete REPO/TYPE/TAG\n"
	"  reference set FILE|-                 replace the reference values (TOML)\n"
	"  reference get\n"
	"  policy set FILE|-                    replace the resource policy (TOML)\n"
	"  policy get\n"
	"The configuration defaults to " KBS_DEFAULT_CONFIG "; see docs/kbs.md.\n";

static int fail_usage(const char *why)
{
	fprintf(stderr, "veil-kbs: %s\n%s", why, usage);
	return 2;
}

static int fail_err(veil_err_t *err)
{
	fprintf(stderr, "veil-kbs: %s\n", (*err)->msg);
	veil_error_free(err);
	return 1;
}

/* Reads FILE, or stdin for "-", bounded. */
static uint8_t *read_input(const char *path, size_t max, size_t *len, veil_err_t *err)
{
	if (strcmp(path, "-") != 0)
		return (uint8_t *)veil_read_file(path, max, len, err);
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf != NULL) {
		if (n == cap) {
			if (cap > max)
				break;
			uint8_t *grown = realloc(buf, cap * 2);
			if (grown == NULL)
				break;
			buf = grown;
			cap *= 2;
		}
		ssize_t got = read(STDIN_FILENO, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0 && n <= max) {
				*len = n;
				return buf;
			}
			break;
		}
		n += (size_t)got;
	}
	if (buf != NULL)
		OPENSSL_cleanse(buf, n);
	free(buf);
	veil_fail(err, 0, "standard input: unreadable or larger than %zu bytes", max);
	return NULL;
}

static int admin_command(const char *socket_path, int argc, char **argv)
{
	veil_err_t err = NULL;
	const char *noun = argv[0], *verb = argc > 1 ? argv[1] : "";
	char op[32];
	bool resource = strcmp(noun, "resource") == 0;
	if (!resource && strcmp(noun, "reference") != 0 && strcmp(noun, "policy") != 0)
		return fail_usage("unknown command");
	if (strcmp(verb, "set") != 0 && strcmp(verb, "get") != 0 && !(resource && strcmp(verb, "delete") == 0))
		return fail_usage("unknown or missing verb");
	int want = 2 + (resource ? 1 : 0) + (strcmp(verb, "set") == 0 ? 1 : 0);
	if (argc != want)
		return fail_usage("wrong number of arguments");
	snprintf(op, sizeof(op), "%s-%s", noun, verb);
	const char *name = resource ? argv[2] : NULL;
	if (resource && veil_kbs_resource_path_check(name, &err) < 0)
		return fail_err(&err);
	uint8_t *data = NULL;
	size_t len = 0;
	if (strcmp(verb, "set") == 0) {
		data = read_input(argv[argc - 1], resource ? KBS_MAX_RESOURCE : KBS_MAX_POLICY, &len, &err);
		if (data == NULL)
			return fail_err(&err);
	}
	int rc = kbs_admin_call(socket_path, op, name, data, len, &err);
	if (data != NULL)
		OPENSSL_cleanse(data, len);
	free(data);
	return rc < 0 ? fail_err(&err) : 0;
}

struct serve_opts {
	bool detach, debug;
	const char *pid_file, *log_file;
};

/* Runs until SIGINT or SIGTERM: HTTP in libmicrohttpd's threads, admin
 * requests here, one at a time. ready_fd (or -1) learns that we are up. */
static int serve_loop(struct kbs *kbs, const struct serve_opts *o, int ready_fd, veil_err_t *err)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	cleanup_close int sfd = veil_signalfd_for(signals, 3, err);
	if (sfd < 0)
		return -1;
	cleanup_close int admin = kbs_admin_listen(kbs->cfg.admin_socket, err);
	if (admin < 0)
		return -1;
	struct MHD_Daemon *http = kbs_http_start(kbs, err);
	if (http == NULL) {
		unlink(kbs->cfg.admin_socket);
		return -1;
	}
	if (o->pid_file != NULL && veil_write_pid_file(o->pid_file, getpid(), err) < 0) {
		kbs_http_stop(http);
		unlink(kbs->cfg.admin_socket);
		return -1;
	}
	log_info("veil-kbs listening on %s port %u (KBS protocol 0.1.1 and 0.4.0), admin socket %s",
		 kbs->cfg.listen_host, kbs->cfg.port, kbs->cfg.admin_socket);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "", 1);
		close(ready_fd);
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = admin, .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGHUP) {
				veil_err_t rerr = NULL;
				if (kbs_reload_policy(kbs, &rerr) < 0)
					log_error("reload: %s (keeping the previous policy)", rerr->msg);
				else
					log_info("reference values and policy reloaded");
				veil_error_free(&rerr);
				continue;
			}
			break;
		}
		if (p[1].revents & POLLIN) {
			int c = accept4(admin, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				kbs_admin_serve(kbs, c);
				close(c);
			}
		}
	}
	log_info("veil-kbs stopping");
	kbs_http_stop(http);
	unlink(kbs->cfg.admin_socket);
	if (o->pid_file != NULL)
		unlink(o->pid_file);
	return 0;
}

/* --detach: the child serves; the parent waits until it is up (exit 0) or
 * has failed (its error is on stderr, exit 1), so that scripts and systemd's
 * Type=forking see the truth. */
static int detach(int *ready_fd, veil_err_t *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return veil_fail(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0)
		return veil_fail(err, errno, "fork");
	if (pid > 0) {
		close(p[1]);
		char c;
		ssize_t n = read(p[0], &c, 1);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	*ready_fd = p[1];
	return 0;
}

static int serve(const char *config, int argc, char **argv)
{
	static const struct option longs[] = { { "detach", no_argument, NULL, 'd' },
					       { "pid-file", required_argument, NULL, 'p' },
					       { "log", required_argument, NULL, 'l' },
					       { "debug", no_argument, NULL, 'D' },
					       { NULL, 0, NULL, 0 } };
	struct serve_opts o = { 0 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
		switch (c) {
		case 'd': o.detach = true; break;
		case 'p': o.pid_file = optarg; break;
		case 'l': o.log_file = optarg; break;
		case 'D': o.debug = true; break;
		default: return fail_usage("bad serve option");
		}
	}
	if (optind != argc)
		return fail_usage("serve takes no arguments");
	veil_err_t err = NULL;
	struct kbs_config cfg;
	if (kbs_config_load(config, &cfg, &err) < 0)
		return fail_err(&err);
	int ready_fd = -1;
	if (o.detach && detach(&ready_fd, &err) < 0) {
		kbs_config_free(&cfg);
		return fail_err(&err);
	}
	/* stderr stays open until we are up, so start-up errors reach the caller. */
	if (veil_log_init(o.log_file != NULL ? o.log_file : o.detach ? NULL : "/dev/stderr", VEIL_LOG_TEXT,
			  o.debug ? VEIL_LOG_DEBUG : VEIL_LOG_INFO, o.detach) < 0) {
		fprintf(stderr, "veil-kbs: cannot open the log %s: %s\n", o.log_file, strerror(errno));
		kbs_config_free(&cfg);
		return 1;
	}
	struct kbs kbs;
	int rc = kbs_init(&kbs, &cfg, &err);
	if (rc == 0)
		rc = serve_loop(&kbs, &o, ready_fd, &err);
	kbs_free(&kbs);
	return rc < 0 ? fail_err(&err) : 0;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = { { "config", required_argument, NULL, 'c' },
					       { "admin-socket", required_argument, NULL, 'a' },
					       { "help", no_argument, NULL, 'h' },
					       { NULL, 0, NULL, 0 } };
	const char *config = KBS_DEFAULT_CONFIG, *admin_socket = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longs, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'a': admin_socket = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return fail_usage("bad option");
		}
	}
	if (optind >= argc)
		return fail_usage("missing command");
	if (strcmp(argv[optind], "serve") == 0)
		return serve(config, argc - optind, argv + optind);
	if (admin_socket != NULL)
		return admin_command(admin_socket, argc - optind, argv + optind);
	veil_err_t err = NULL;
	struct kbs_config cfg;
	if (kbs_config_load(config, &cfg, &err) < 0)
		return fail_err(&err);
	int rc = admin_command(cfg.admin_socket, argc - optind, argv + optind);
	kbs_config_free(&cfg);
	return rc;
}
