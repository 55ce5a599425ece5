/* ConfigureInterface: the NIC the host plugged in, set up over rtnetlink in
 * the guest's root network namespace, which the container shares (the VM,
 * not a namespace, is its network boundary). */
#include "agent/network.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/kfile.h"
#include "agent/validate.h"
#include "lib/cleanup.h"
#include "lib/clock.h"

/* A hot-plugged NIC appears once the guest has probed it; on TCG that took
 * well under a second, 5 s bounds a guest that never sees it. */
#define NIC_WAIT_MS 5000
#define NIC_POLL_MS 20

struct nl_req {
	struct nlmsghdr h;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rt;
	};
	char attrs[256];
};

static void add_attr(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends one request and reads its ACK; every caller's attributes fit in attrs. */
static int nl_talk(int fd, struct nl_req *r, const char *what, veil_err_t *err)
{
	static unsigned seq;
	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->h.nlmsg_seq = ++seq;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return veil_fail(err, errno, "%s: netlink send", what);
	char buf[4096];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return veil_fail(err, errno, "%s: netlink receive", what);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != r->h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			if (e->error == 0)
				return 0;
			return veil_fail(err, -e->error, "%s", what);
		}
	}
}

static void nl_init(struct nl_req *r, unsigned short type, unsigned short flags, size_t body)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = (unsigned)NLMSG_LENGTH(body);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = flags;
}

static int link_set(int fd, int ifindex, const char *name, uint32_t mtu, bool up, veil_err_t *err)
{
	struct nl_req r;
	nl_init(&r, RTM_NEWLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	r.ifi.ifi_change = IFF_UP;
	r.ifi.ifi_flags = up ? IFF_UP : 0;
	if (name != NULL)
		add_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	if (mtu != 0)
		add_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	return nl_talk(fd, &r, "configuring the interface", err);
}

static int addr_add(int fd, int ifindex, uint32_t addr, unsigned prefix, veil_err_t *err)
{
	struct nl_req r;
	nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(r.ifa));
	r.ifa.ifa_family = AF_INET;
	r.ifa.ifa_prefixlen = (unsigned char)prefix;
	r.ifa.ifa_index = (unsigned)ifindex;
	add_attr(&r, IFA_LOCAL, &addr, sizeof(addr));
	add_attr(&r, IFA_ADDRESS, &addr, sizeof(addr));
	return nl_talk(fd, &r, "adding an address", err);
}

static int default_route(int fd, int ifindex, uint32_t gateway, veil_err_t *err)
{
	struct nl_req r;
	nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(r.rt));
	r.rt.rtm_family = AF_INET;
	r.rt.rtm_table = RT_TABLE_MAIN;
	r.rt.rtm_protocol = RTPROT_BOOT;
	r.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	r.rt.rtm_type = RTN_UNICAST;
	uint32_t oif = (uint32_t)ifindex;
	add_attr(&r, RTA_GATEWAY, &gateway, sizeof(gateway));
	add_attr(&r, RTA_OIF, &oif, sizeof(oif));
	return nl_talk(fd, &r, "adding the default route", err);
}

/* Reads a small sysfs attribute of a NIC; the names come from the directory. */
static int read_attr(const char *ifname, const char *attr, char *buf, size_t size)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	if (agent_read_file(path, buf, size) <= 0)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

struct nic_query {
	const uint8_t *mac;
	char *name; /* IFNAMSIZ bytes */
};

/* The NIC's ifindex if it has the MAC asked for, else 0. */
static int match_mac(const char *ifname, unsigned char type, void *arg)
{
	(void)type;
	const struct nic_query *q = arg;
	char text[32], idx[16];
	uint8_t have[6];
	if (strlen(ifname) >= IFNAMSIZ || read_attr(ifname, "address", text, sizeof(text)) < 0 ||
	    agent_parse_mac(text, have) < 0 || memcmp(have, q->mac, 6) != 0 ||
	    read_attr(ifname, "ifindex", idx, sizeof(idx)) < 0)
		return 0;
	int found = atoi(idx);
	if (found > 0)
		memcpy(q->name, ifname, strlen(ifname) + 1); /* shorter than IFNAMSIZ, checked above */
	return found > 0 ? found : 0;
}

/* The ifindex of the NIC with this MAC, or 0 if none (yet). */
static int find_by_mac(const uint8_t mac[6], char name[IFNAMSIZ])
{
	struct nic_query q = { .mac = mac, .name = name };
	int found = agent_each_entry("/sys/class/net", match_mac, &q);
	return found > 0 ? found : 0;
}

int agent_loopback_up(veil_err_t *err)
{
	cleanup_close int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return veil_fail(err, errno, "netlink socket");
	/* lo is the first link of every network namespace. */
	return link_set(fd, 1, NULL, 0, true, err) < 0 ? veil_fail_context(err, "bringing lo up") : 0;
}

int agent_configure_interface(const Veil__Agent__V1__ConfigureInterfaceRequest *req, int *code, veil_err_t *err)
{
	*code = VEIL_RPC_INTERNAL;
	uint8_t mac[6];
	if (agent_parse_mac(req->mac, mac) < 0) /* validated already; a guard against misuse */
		return veil_fail(err, EINVAL, "mac");
	char current[IFNAMSIZ] = "";
	int ifindex;
	long long deadline = veil_now_ms() + NIC_WAIT_MS;
	while ((ifindex = find_by_mac(mac, current)) == 0 && veil_now_ms() < deadline) {
		struct timespec pause = { .tv_nsec = NIC_POLL_MS * 1000000L };
		nanosleep(&pause, NULL);
	}
	if (ifindex == 0) {
		*code = VEIL_RPC_NOT_FOUND;
		return veil_fail(err, 0, "no network interface with MAC %s appeared within %d s", req->mac,
				 NIC_WAIT_MS / 1000);
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return veil_fail(err, errno, "netlink socket");
	int rc = -1;
	/* A renamed link must be down; a fresh one is. lo is brought up too, as
	 * the container's programs expect it and no one else will in this netns. */
	if (link_set(fd, 1, NULL, 0, true, err) < 0 || link_set(fd, ifindex, NULL, 0, false, err) < 0)
		goto out;
	if (strcmp(current, req->name) != 0 && link_set(fd, ifindex, req->name, 0, false, err) < 0)
		goto out;
	if (link_set(fd, ifindex, NULL, req->mtu, true, err) < 0)
		goto out;
	for (size_t i = 0; i < req->n_addresses; i++) {
		uint32_t addr;
		unsigned prefix;
		if (agent_parse_ipv4_cidr(req->addresses[i], &addr, &prefix) < 0 ||
		    addr_add(fd, ifindex, addr, prefix, err) < 0)
			goto out;
	}
	uint32_t gw;
	if (req->gateway[0] != '\0' && (agent_parse_ipv4(req->gateway, &gw) < 0 || default_route(fd, ifindex, gw, err) < 0))
		goto out;
	rc = 0;
out:
	close(fd);
	if (rc < 0 && *err != NULL)
		veil_fail_context(err, "interface %s (%s)", req->name, req->mac);
	return rc;
}
