#include "runtime/network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/route.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fdpass.h"
#include "lib/spawn.h"

/* The child's whole job is a few ioctls and four tc runs. */
#define ATTACH_TIMEOUT_MS 10000
#define TAP_PREFIX "veiltap"

struct attach_reply {
	int ok;
	char msg[1024];
	struct veil_netif info;
};

static int prefix_len(const struct sockaddr *mask)
{
	uint32_t m = ntohl(((const struct sockaddr_in *)mask)->sin_addr.s_addr);
	return __builtin_popcount(m);
}

/* The default route's gateway on ifname, from the netns's own /proc/net/route
 * (/proc/net follows the reading thread's network namespace). */
static void read_gateway(const char *ifname, char *gw, size_t size)
{
	gw[0] = '\0';
	cleanup_fclose FILE *f = fopen("/proc/net/route", "re");
	if (f == NULL)
		return;
	char line[256], iface[IFNAMSIZ + 1];
	unsigned dest, gateway, flags;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%16s %x %x %x", iface, &dest, &gateway, &flags) != 4)
			continue;
		if (strcmp(iface, ifname) == 0 && dest == 0 && (flags & RTF_GATEWAY)) {
			struct in_addr a = { .s_addr = gateway }; /* printed in network byte order */
			inet_ntop(AF_INET, &a, gw, (socklen_t)size);
			return;
		}
	}
}

static bool is_our_tap(const char *name)
{
	return strncmp(name, TAP_PREFIX, strlen(TAP_PREFIX)) == 0;
}

/* The first non-loopback interface with a MAC: MAC, IPv4 addresses, MTU. */
static int probe(struct veil_netif *out, veil_err_t *err)
{
	struct ifaddrs *all;
	if (getifaddrs(&all) < 0)
		return veil_fail(err, errno, "getifaddrs");
	for (struct ifaddrs *i = all; i != NULL && out->veth[0] == '\0'; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_PACKET || (i->ifa_flags & IFF_LOOPBACK) ||
		    is_our_tap(i->ifa_name))
			continue;
		const struct sockaddr_ll *ll = (const struct sockaddr_ll *)i->ifa_addr;
		if (ll->sll_halen != 6)
			continue;
		snprintf(out->veth, sizeof(out->veth), "%s", i->ifa_name);
		snprintf(out->mac, sizeof(out->mac), "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0], ll->sll_addr[1],
			 ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
	}
	for (struct ifaddrs *i = all; i != NULL && out->veth[0] != '\0'; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || i->ifa_netmask == NULL ||
		    strcmp(i->ifa_name, out->veth) != 0 || out->n_addresses == VEIL_NET_MAX_ADDRS)
			continue;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &((const struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof(ip));
		snprintf(out->addresses[out->n_addresses++], sizeof(out->addresses[0]), "%s/%d", ip,
			 prefix_len(i->ifa_netmask));
	}
	freeifaddrs(all);
	if (out->veth[0] == '\0')
		return veil_fail(err, 0, "the network namespace has no interface besides lo");
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", out->veth);
	if (s < 0 || ioctl(s, SIOCGIFMTU, &ifr) < 0)
		return veil_fail(err, errno, "reading the MTU of %s", out->veth);
	out->mtu = (uint32_t)ifr.ifr_mtu;
	read_gateway(out->veth, out->gateway, sizeof(out->gateway));
	return 0;
}

static int create_tap(struct veil_netif *info, veil_err_t *err)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "/dev/net/tun");
	/* No vnet header: the kernel segments and checksums for the tap, which
	 * keeps QEMU's side the plain one. */
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), TAP_PREFIX "%%d");
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return veil_fail(err, e, "creating a tap device");
	}
	snprintf(info->tap, sizeof(info->tap), "%s", ifr.ifr_name);
	ifr.ifr_mtu = (int)info->mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		int e = errno;
		close(fd);
		return veil_fail(err, e, "configuring %s", info->tap);
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		int e = errno;
		close(fd);
		return veil_fail(err, e, "bringing %s up", info->tap);
	}
	return fd;
}

/* Everything arriving on from leaves through to, before any IP processing. */
static int redirect(const char *from, const char *to, veil_err_t *err)
{
	/* replace, not add: a previous container of this netns left the veth's qdisc. */
	char *qdisc[] = { "tc", "qdisc", "replace", "dev", (char *)from, "ingress", NULL };
	char *filter[] = { "tc",	"filter", "add",    "dev",    (char *)from, "parent", "ffff:", "protocol",
			   "all",	"u32",    "match",  "u8",     "0",	    "0",      "action", "mirred",
			   "egress",	"redirect", "dev",  (char *)to, NULL };
	if (veil_run_program(qdisc, err) < 0 || veil_run_program(filter, err) < 0)
		return veil_fail_context(err, "redirecting %s to %s", from, to);
	return 0;
}

static int attach_in_netns(const char *netns_path, struct veil_netif *info, veil_err_t *err)
{
	cleanup_close int ns = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return veil_fail(err, errno, "network namespace %s", netns_path);
	if (setns(ns, CLONE_NEWNET) < 0)
		return veil_fail(err, errno, "entering the network namespace %s", netns_path);
	if (probe(info, err) < 0)
		return -1;
	int tap = create_tap(info, err);
	if (tap < 0)
		return -1;
	if (redirect(info->veth, info->tap, err) < 0 || redirect(info->tap, info->veth, err) < 0) {
		close(tap);
		return -1;
	}
	return tap;
}

static void send_reply(int sock, const struct attach_reply *r, int fd)
{
	(void)!veil_send_fds(sock, r, sizeof(*r), &fd, fd >= 0 ? 1 : 0);
}

static int receive_reply(int sock, struct attach_reply *r, int *fd, veil_err_t *err)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int rc;
	while ((rc = poll(&p, 1, ATTACH_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (rc == 0)
		return veil_fail(err, ETIMEDOUT, "setting up the network namespace");
	ssize_t n = veil_recv_fds(sock, r, sizeof(*r), fd, 1, NULL);
	if (n != (ssize_t)sizeof(*r)) {
		veil_close_fd(fd);
		return veil_fail(err, n < 0 ? errno : 0, "setting up the network namespace: the helper died");
	}
	return 0;
}

int veil_net_attach(const char *netns_path, struct veil_netif *out, int *tap_fd, veil_err_t *err)
{
	int sv[2];
	pid_t child = veil_fork_with_channel(SOCK_SEQPACKET, sv, err);
	if (child < 0)
		return -1;
	if (child == 0) {
		close(sv[0]);
		static struct attach_reply r;
		veil_err_t child_err = NULL;
		int tap = attach_in_netns(netns_path, &r.info, &child_err);
		r.ok = tap >= 0;
		if (tap < 0)
			snprintf(r.msg, sizeof(r.msg), "%s", child_err != NULL ? child_err->msg : "failed");
		send_reply(sv[1], &r, tap);
		_exit(0);
	}
	close(sv[1]);
	struct attach_reply r;
	int fd;
	int rc = receive_reply(sv[0], &r, &fd, err);
	close(sv[0]);
	if (rc < 0)
		kill(child, SIGKILL);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return -1;
	if (!r.ok || fd < 0) {
		if (fd >= 0)
			close(fd);
		return veil_fail(err, 0, "%s", r.ok ? "no tap fd from the helper" : r.msg);
	}
	r.info.veth[IFNAMSIZ - 1] = r.info.tap[IFNAMSIZ - 1] = '\0';
	*out = r.info;
	*tap_fd = fd;
	return 0;
}
