/* net_link.c - the rtnetlink requests of supervisor/net (libmnl).
 *
 * DESIGN
 * Five requests are all the namespace needs: create a veth pair whose peer
 * is born inside the namespace (VETH_INFO_PEER with IFLA_NET_NS_FD, so the
 * sandbox end never exists in the host namespace), add an IPv4 address,
 * set a link up, add a default route, delete a link. Each opens its own
 * NETLINK_ROUTE socket, which binds it to the calling thread's network
 * namespace: the caller picks the namespace by picking the thread
 * (net_ns.c). One request, one ACK, synchronous; the kernel's errno is the
 * result. This replaces `ip` processes (upstream shells out), which would
 * mean fork in a threaded supervisor and parsing text for errors.
 */
#include "net_internal.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NL_BUF 8192 /* requests and ACKs are small; MNL_SOCKET_BUFFER_SIZE is a VLA */

/* Send one request built in buf and wait for its ACK. Returns 0 or -errno. */
static int talk(struct nlmsghdr *nlh, const char *what, char *msg, size_t mlen)
{
	struct mnl_socket *nl;
	char buf[NL_BUF];
	unsigned portid;
	unsigned seq = (unsigned)time(NULL);
	ssize_t n;
	int rc = 0;

	nlh->nlmsg_seq = seq;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl) {
		rc = -errno;
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto close;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto close;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	while (n > 0) {
		int r = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);

		if (r == MNL_CB_ERROR) {
			rc = -errno;
			break;
		}
		if (r == MNL_CB_STOP)
			break;
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	}
	if (n < 0)
		rc = -errno;
close:
	mnl_socket_close(nl);
out:
	if (rc && msg)
		snprintf(msg, mlen, "%s: %s", what, strerror(-rc));
	return rc;
}

static struct nlmsghdr *req(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	return nlh;
}

int net_link_veth_create(const char *host_if, const char *peer_if, int peer_nsfd, char *msg,
			 size_t mlen)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = req(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *pifm;

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_if);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_if);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return talk(nlh, "create veth pair", msg, mlen);
}

int net_link_delete(const char *ifname)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = req(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return talk(nlh, "delete link", NULL, 0);
}

int net_link_up(const char *ifname, char *msg, size_t mlen)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = req(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return talk(nlh, "set link up", msg, mlen);
}

/* The interface's index, or -errno (msg says which interface). */
static int index_of(const char *ifname, const char *what, char *msg, size_t mlen)
{
	unsigned idx = if_nametoindex(ifname);
	int rc = (int)idx;

	if (idx == 0) {
		rc = -(errno ? errno : ENODEV);
		if (msg)
			snprintf(msg, mlen, "%s: no interface %s: %s", what, ifname, strerror(-rc));
	}
	return rc;
}

int net_link_addr4(const char *ifname, uint32_t addr, unsigned prefix, char *msg, size_t mlen)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int idx = index_of(ifname, "add address", msg, mlen);
	uint32_t be = htonl(addr);
	int rc = idx;

	if (idx > 0) {
		nlh = req(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
		ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = AF_INET;
		ifa->ifa_prefixlen = (unsigned char)prefix;
		ifa->ifa_scope = RT_SCOPE_UNIVERSE;
		ifa->ifa_index = (unsigned)idx;
		mnl_attr_put_u32(nlh, IFA_LOCAL, be);
		mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
		rc = talk(nlh, "add address", msg, mlen);
	}
	return rc;
}

int net_link_route4_default(const char *ifname, uint32_t gw, char *msg, size_t mlen)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int idx = index_of(ifname, "add default route", msg, mlen);
	int rc = idx;

	if (idx > 0) {
		nlh = req(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = AF_INET;
		rtm->rtm_dst_len = 0;
		rtm->rtm_table = RT_TABLE_MAIN;
		rtm->rtm_protocol = RTPROT_BOOT;
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
		rtm->rtm_type = RTN_UNICAST;
		mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gw));
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)idx);
		rc = talk(nlh, "add default route", msg, mlen);
	}
	return rc;
}
