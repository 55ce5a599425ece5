/* A container's network namespace (podman/CNI style) handed to its VM:
 * Kata's "tcfilter" model. In the netns, a tap is created and tc redirects
 * everything arriving on the veth to the tap and back, so the guest NIC, which
 * takes the veth's MAC and addresses, is on the wire in the veth's place. */
#ifndef VEIL_RUNTIME_NETWORK_H
#define VEIL_RUNTIME_NETWORK_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

#define VEIL_NET_MAX_ADDRS 16

struct veil_netif {
	char veth[IFNAMSIZ];  /* the netns's interface the guest stands in for */
	char tap[IFNAMSIZ];
	char mac[18];         /* the veth's, "aa:bb:cc:dd:ee:ff" */
	uint32_t mtu;
	char addresses[VEIL_NET_MAX_ADDRS][19]; /* "a.b.c.d/len" */
	size_t n_addresses;
	char gateway[16];     /* IPv4 default route's gateway, "" if none */
};

/* Enters netns_path (in a short-lived child, so this process's namespace never
 * changes), reads its first non-loopback interface, creates the tap and the
 * tc redirects. On success *tap_fd is the open tap (close it once the VMM has
 * its copy: the tap and its filters disappear when the last fd closes). The
 * veth keeps its addresses: its ingress is redirected before the IP stack
 * sees a packet, so they answer nothing, and CNI's teardown finds them as it
 * left them. */
int veil_net_attach(const char *netns_path, struct veil_netif *out, int *tap_fd, veil_err_t *err);

#endif
