#include "runtime/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/spawn.h"
#include "runtime/view.h"

static int run_hook(const char *stage, const struct oci_hook *h, const char *state_json, veil_err_t *err)
{
	int in[2];
	pid_t pid = veil_fork_with_channel(0, in, err);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		veil_view_leave_in_child();
		dup2(in[0], 0);
		char *fallback[] = { h->path, NULL };
		char *no_env[] = { NULL };
		execve(h->path, h->n_args ? h->args : fallback, h->n_env ? h->env : no_env);
		_exit(127);
	}
	close(in[0]);
	/* A hook need not read its stdin (EPIPE is ignored by the caller's SIGPIPE
	 * disposition); its exit status alone decides. */
	(void)!write(in[1], state_json, strlen(state_json));
	close(in[1]);
	cleanup_close int pidfd = veil_pidfd_open(pid);
	int timeout_ms = h->timeout > 0 ? h->timeout * 1000 : -1;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int rc;
	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	bool timed_out = rc == 0;
	if (timed_out)
		kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return veil_fail(err, 0, "%s hook %s timed out after %d s", stage, h->path, h->timeout);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return veil_fail(err, 0, "%s hook %s failed with exit status %d", stage, h->path, WEXITSTATUS(status));
	return veil_fail(err, 0, "%s hook %s killed by signal %d", stage, h->path, WTERMSIG(status));
}

int veil_hooks_run(const char *stage, const struct oci_hook *hooks, size_t n, const char *state_json,
		   veil_err_t *err)
{
	for (size_t i = 0; i < n; i++)
		if (run_hook(stage, &hooks[i], state_json, err) < 0)
			return -1;
	return 0;
}
