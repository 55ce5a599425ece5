#include "agent/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/kfile.h"
#include "agent/network.h"
#include "agent/log.h"
#include "lib/cleanup.h"

/* pivot_root(2) cannot leave the initramfs (it has no parent mount), and the
 * containers' inits must pivot_root away from the agent's root. So the agent
 * first makes a tmpfs its root, the way switch_root does. */
static int leave_initramfs(veil_err_t *err)
{
	static const char newroot[] = "/newroot";
	if (mkdir(newroot, 0755) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "mkdir %s", newroot);
	if (mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return veil_fail(err, errno, "mount tmpfs on %s", newroot);
	if (chdir(newroot) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return veil_fail(err, errno, "moving the root to a tmpfs");
	return 0;
}

static int mount_kernel_filesystems(veil_err_t *err)
{
	static const struct {
		const char *type, *dir;
		unsigned long flags;
		const char *data;
	} mounts[] = {
		{ "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
		{ "sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
		{ "devtmpfs", "/dev", MS_NOSUID, "mode=0755" },
		{ "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620" },
		{ "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777" },
		{ "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755" },
		/* Moving a process into a cgroup (each container start does) then
		 * costs no RCU grace period; forks pay a little instead. */
		{ "cgroup2", "/sys/fs/cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, "favordynmods" },
	};
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		if (mkdir(mounts[i].dir, 0755) < 0 && errno != EEXIST)
			return veil_fail(err, errno, "mkdir %s", mounts[i].dir);
		if (mount(mounts[i].type, mounts[i].dir, mounts[i].type, mounts[i].flags, mounts[i].data) < 0)
			return veil_fail(err, errno, "mount %s on %s", mounts[i].type, mounts[i].dir);
	}
	if (mkdir("/tmp", 01777) < 0 && errno != EEXIST)
		return veil_fail(err, errno, "mkdir /tmp");
	return 0;
}

/* Later pipes must not land on fds 0-2, where a child's dup2 would clobber them. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			agent_log_error("no fd %d: %s", fd, strerror(errno));
}

/* Mount namespaces, network namespaces and cgroups wait for RCU grace
 * periods as containers come and go: tens of milliseconds each under TCG.
 * Expedited ones end in microseconds on a guest with few vCPUs. */
static void expedite_rcu(void)
{
	if (agent_write_file("/sys/kernel/rcu_expedited", "1") < 0)
		agent_log_error("/sys/kernel/rcu_expedited: %s", strerror(errno));
}

static void read_cmdline(void)
{
	char line[4096];
	if (agent_read_file("/proc/cmdline", line, sizeof(line)) < 0)
		return;
	for (char *save = NULL, *tok = strtok_r(line, " \n", &save); tok != NULL; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, "veil.debug=1") == 0)
			agent_log_verbose = true;
}

int agent_boot(veil_err_t *err)
{
	umask(0022);
	if (leave_initramfs(err) < 0 || mount_kernel_filesystems(err) < 0)
		return -1;
	ensure_stdio();
	read_cmdline();
	expedite_rcu();
	agent_cgroup_init();
	/* Containers that use the guest's own network (a netns the host handed
	 * over, a pod's) find lo up, as in a netns of their own. */
	return agent_loopback_up(err);
}
