// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Operator policy: how many data connections, and the bandwidth cap.
 *
 * Connections follow oVirt's parallel-migration rule: one connection per
 * 10 Gbit/s of the link that routes to the destination, no more than the
 * guest's vCPUs, no less than 2, no more than a configurable maximum
 * (16 by default, the protocol's 128 at most).  "parallel" applies it as
 * is; "auto" uses a single connection where the computed number is below
 * 2.  The link is the kernel's answer: a route lookup over rtnetlink
 * (libnl-route-3) gives the output interface, sysfs its speed.  A link
 * that reports no speed (veth on old kernels, dummy, some virtual NICs)
 * is said to be unknown and gets the policy's minimum, never a guess.
 *
 * The cap is SO_MAX_PACING_RATE on every data socket, the rate split
 * evenly: the kernel paces each socket, so it holds for every engine.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <linux/rtnetlink.h>

#include "internal.h"

#define MS_CONN_MBPS		10000	/* one connection per 10 Gbit/s */

static unsigned int ms_min_u(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

static unsigned int ms_max_u(unsigned int a, unsigned int b)
{
	return a > b ? a : b;
}

int migsend_conns_policy_parse(const char *s, enum migsend_conns_policy *p,
			       unsigned int *custom)
{
	char *end;
	unsigned long n;

	if (!strcmp(s, "auto")) {
		*p = MIGSEND_CONNS_AUTO;
		return 0;
	}
	if (!strcmp(s, "parallel")) {
		*p = MIGSEND_CONNS_PARALLEL;
		return 0;
	}
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || end == s || n < 1 || n > MIGSEND_MAX_CONNS)
		return ms_fail(EINVAL, "connections: '%s' is not auto, parallel or a number from 1 to %u",
			       s, MIGSEND_MAX_CONNS);
	*p = MIGSEND_CONNS_CUSTOM;
	*custom = n;
	return 0;
}

const char *migsend_conns_policy_name(enum migsend_conns_policy p)
{
	switch (p) {
	case MIGSEND_CONNS_AUTO:
		return "auto";
	case MIGSEND_CONNS_PARALLEL:
		return "parallel";
	default:
		return "custom";
	}
}

int migsend_conns_decide(enum migsend_conns_policy p,
			 const struct migsend_conns_inputs *in,
			 struct migsend_conns_decision *out)
{
	unsigned int max = in->max_conns ? in->max_conns : MIGSEND_DEFAULT_MAX_CONNS;
	unsigned int by_link, computed;

	memset(out, 0, sizeof(*out));
	if (max > MIGSEND_MAX_CONNS)
		return ms_fail(EINVAL, "--max-conns %u: the protocol allows at most %u",
			       max, MIGSEND_MAX_CONNS);
	if (p == MIGSEND_CONNS_CUSTOM) {
		if (!in->custom || in->custom > max)
			return ms_fail(EINVAL, "%u connections: between 1 and --max-conns (%u)",
				       in->custom, max);
		out->nconns = in->custom;
		snprintf(out->reason, sizeof(out->reason), "%u as given", in->custom);
		return 0;
	}
	if (!in->link_mbps) {
		out->nconns = p == MIGSEND_CONNS_AUTO ? 1 : ms_min_u(2, max);
		snprintf(out->reason, sizeof(out->reason),
			 "link speed unknown: the %s policy's minimum",
			 migsend_conns_policy_name(p));
		return 0;
	}
	by_link = in->link_mbps / MS_CONN_MBPS;
	computed = in->cpus ? ms_min_u(by_link, in->cpus) : by_link;
	if (p == MIGSEND_CONNS_AUTO && computed < 2) {
		out->nconns = 1;
		snprintf(out->reason, sizeof(out->reason),
			 "%llu Mbit/s / 10 Gbit/s = %u, %u CPUs: below 2, one connection",
			 (unsigned long long)in->link_mbps, by_link, in->cpus);
		return 0;
	}
	out->nconns = ms_min_u(ms_max_u(computed, 2), max);
	snprintf(out->reason, sizeof(out->reason),
		 "%llu Mbit/s / 10 Gbit/s = %u, capped by %u CPUs, at least 2, at most %u",
		 (unsigned long long)in->link_mbps, by_link, in->cpus, max);
	return 0;
}

/* ----- the link that routes to the destination --------------------------- */

struct ms_route_reply {
	int ifindex;
	int err;
};

static int ms_route_parse(struct nl_msg *msg, void *arg)
{
	struct ms_route_reply *r = arg;
	struct rtnl_route *route;
	struct rtnl_nexthop *nh;

	if (rtnl_route_parse(nlmsg_hdr(msg), &route) < 0) {
		r->err = EPROTO;
		return NL_STOP;
	}
	nh = rtnl_route_get_nnexthops(route) > 0 ? rtnl_route_nexthop_n(route, 0) : NULL;
	if (nh)
		r->ifindex = rtnl_route_nh_get_ifindex(nh);
	rtnl_route_put(route);
	return NL_STOP;
}

/* RTM_GETROUTE for @addr, as `ip route get` asks: the output interface. */
static int ms_route_ifindex(const struct sockaddr *addr, int *ifindex)
{
	struct ms_route_reply reply = { 0 };
	struct rtmsg rtm = { .rtm_family = addr->sa_family };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	int err;

	if (!sk)
		return ms_fail(ENOMEM, "route lookup");
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		err = ms_fail(EIO, "route lookup: %s", nl_geterror(err));
		goto out;
	}
	rtm.rtm_dst_len = addr->sa_family == AF_INET ? 32 : 128;
	msg = nlmsg_alloc_simple(RTM_GETROUTE, 0);
	if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0) {
		err = ms_fail(ENOMEM, "route lookup");
		goto out;
	}
	if (addr->sa_family == AF_INET)
		NLA_PUT(msg, RTA_DST, 4, &((const struct sockaddr_in *)addr)->sin_addr);
	else
		NLA_PUT(msg, RTA_DST, 16, &((const struct sockaddr_in6 *)addr)->sin6_addr);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, ms_route_parse, &reply);
	err = nl_send_auto(sk, msg);
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	if (err < 0 || reply.err || !reply.ifindex) {
		err = ms_fail(reply.err ? reply.err : EHOSTUNREACH,
			      "no route to the destination%s%s",
			      err < 0 ? ": " : "", err < 0 ? nl_geterror(err) : "");
		goto out;
	}
	*ifindex = reply.ifindex;
	err = 0;
	goto out;
nla_put_failure:
	err = ms_fail(ENOMEM, "route lookup");
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return err;
}

/* The interface's speed in Mbit/s from sysfs; 0 when it reports none. */
static uint64_t ms_link_mbps(const char *ifname)
{
	char path[64 + IF_NAMESIZE];
	long long mbps = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", ifname);
	f = fopen(path, "re");
	if (!f)
		return 0;
	/* Reading fails (EINVAL) on links without a speed; -1 is "unknown". */
	if (fscanf(f, "%lld", &mbps) != 1)
		mbps = -1;
	fclose(f);
	return mbps > 0 ? (uint64_t)mbps : 0;
}

int migsend_route_link(const char *host, struct migsend_link *link)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int ifindex = 0, err;

	memset(link, 0, sizeof(*link));
	err = getaddrinfo(host, NULL, &hints, &ai);
	if (err)
		return ms_fail(EHOSTUNREACH, "cannot resolve '%s': %s", host, gai_strerror(err));
	err = ms_route_ifindex(ai->ai_addr, &ifindex);
	freeaddrinfo(ai);
	if (err)
		return err;
	if (!if_indextoname(ifindex, link->ifname))
		return ms_fail(errno, "the route's interface %d", ifindex);
	link->mbps = ms_link_mbps(link->ifname);
	return 0;
}

/* ----- the bandwidth cap ------------------------------------------------ */

int migsend_parse_rate(const char *s, uint64_t *bytes_per_sec)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		goto bad;
	switch (*end) {
	case 'G': v *= 1e9; end++; break;
	case 'M': v *= 1e6; end++; break;
	case 'K': case 'k': v *= 1e3; end++; break;
	default: break;
	}
	if (!strcmp(end, "B") || !strcmp(end, "B/s") || !*end)
		;
	else if (!strcmp(end, "bit") || !strcmp(end, "bit/s"))
		v /= 8;
	else
		goto bad;
	if (v < 1 || v > (double)UINT64_MAX / 2)
		goto bad;
	*bytes_per_sec = (uint64_t)v;
	return 0;
bad:
	return ms_fail(EINVAL, "bandwidth '%s': a number with an optional K, M or G and B/s or bit/s (e.g. 40M, 40MB/s, 1Gbit/s)",
		       s);
}
