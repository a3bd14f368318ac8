// SPDX-License-Identifier: LGPL-2.1-or-later
/* The migsend generic netlink family, with libnl-3 (as nbd-client does). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "internal.h"

static int ms_nl_connect(struct nl_sock **out, int *family)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return ms_fail(ENOMEM, "netlink");
	err = genl_connect(sk);
	if (err) {
		nl_socket_free(sk);
		return ms_fail(ECONNREFUSED, "netlink: %s", nl_geterror(err));
	}
	*family = genl_ctrl_resolve(sk, MIGSEND_GENL_NAME);
	if (*family < 0) {
		nl_socket_free(sk);
		return ms_fail(ENOENT, "the migsend netlink family is missing: the migsend module is not loaded (load it with 'modprobe migsend' or 'insmod migsend.ko')");
	}
	*out = sk;
	return 0;
}

static void ms_nl_counters(struct nlattr *nest, struct migsend_counters *c)
{
	struct nlattr *tb[MIGSEND_C_MAX + 1];

	memset(c, 0, sizeof(*c));
	if (!nest || nla_parse_nested(tb, MIGSEND_C_MAX, nest, NULL))
		return;
#define MS_GET(attr, field) if (tb[attr]) c->field = nla_get_u64(tb[attr])
	MS_GET(MIGSEND_C_DIRTY_PAGES, dirty_pages);
	MS_GET(MIGSEND_C_ZERO_PAGES_HOLE, zero_pages_hole);
	MS_GET(MIGSEND_C_ZERO_PAGES_SCANNED, zero_pages_scanned);
	MS_GET(MIGSEND_C_DATA_PAGES, data_pages);
	MS_GET(MIGSEND_C_RECORDS, records);
	MS_GET(MIGSEND_C_WIRE_BYTES, wire_bytes);
	MS_GET(MIGSEND_C_ELAPSED_NS, elapsed_ns);
	MS_GET(MIGSEND_C_ERRORS, errors);
#undef MS_GET
}

static uint32_t ms_u32(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u32(tb[attr]) : 0;
}

static uint64_t ms_u64(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u64(tb[attr]) : 0;
}

struct ms_dump_ctx {
	void (*cb)(void *ctx, const struct migsend_nl_session *s);
	void *ctx;
	int count;
};

static int ms_nl_on_session(struct nl_msg *msg, void *arg)
{
	struct ms_dump_ctx *d = arg;
	struct nlattr *tb[MIGSEND_A_MAX + 1];
	struct migsend_nl_session s = { 0 };

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, MIGSEND_A_MAX, NULL))
		return NL_SKIP;
	/* More connections of the session before: not a session of its own. */
	if (tb[MIGSEND_A_CONTINUED])
		return NL_OK;
	s.id = ms_u32(tb, MIGSEND_A_SESSION_ID);
	s.pid = ms_u32(tb, MIGSEND_A_PID);
	s.pass = ms_u64(tb, MIGSEND_A_PASS);
	s.state = ms_u32(tb, MIGSEND_A_STATE);
	s.error = ms_u32(tb, MIGSEND_A_ERROR);
	s.nregions = ms_u32(tb, MIGSEND_A_NREGIONS);
	s.nconns = ms_u32(tb, MIGSEND_A_NCONNS);
	ms_nl_counters(tb[MIGSEND_A_LAST], &s.last);
	ms_nl_counters(tb[MIGSEND_A_TOTAL], &s.total);
	d->cb(d->ctx, &s);
	d->count++;
	return NL_OK;
}

int migsend_nl_dump(void (*cb)(void *ctx, const struct migsend_nl_session *s),
		    void *ctx)
{
	struct ms_dump_ctx d = { .cb = cb, .ctx = ctx };
	struct nl_sock *sk;
	int family, err;

	err = ms_nl_connect(&sk, &family);
	if (err)
		return err;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, ms_nl_on_session, &d);
	err = genl_send_simple(sk, family, MIGSEND_CMD_GET_SESSION,
			       MIGSEND_GENL_VERSION, NLM_F_DUMP);
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (err == -NLE_PERM)
		return ms_fail(EPERM, "reading migsend sessions needs CAP_NET_ADMIN");
	if (err < 0)
		return ms_fail(EIO, "reading migsend sessions: %s", nl_geterror(err));
	return d.count;
}

struct ms_monitor_ctx {
	int (*cb)(void *ctx, const struct migsend_nl_event *e);
	void *ctx;
	unsigned int seen;
	int stop;
};

static int ms_nl_on_event(struct nl_msg *msg, void *arg)
{
	struct ms_monitor_ctx *m = arg;
	struct nlattr *tb[MIGSEND_A_MAX + 1], *cb[MIGSEND_CONN_A_MAX + 1];
	struct migsend_nl_event e = { .conn = -1 };
	struct migsend_counters last;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, MIGSEND_A_MAX, NULL) ||
	    !tb[MIGSEND_A_EVENT])
		return NL_SKIP;
	e.event = ms_u32(tb, MIGSEND_A_EVENT);
	e.session = ms_u32(tb, MIGSEND_A_SESSION_ID);
	e.pid = ms_u32(tb, MIGSEND_A_PID);
	e.pass = ms_u64(tb, MIGSEND_A_PASS);
	e.state = ms_u32(tb, MIGSEND_A_STATE);
	e.error = ms_u32(tb, MIGSEND_A_ERROR);
	ms_nl_counters(tb[MIGSEND_A_LAST], &last);
	e.wire_bytes = last.wire_bytes;
	if (tb[MIGSEND_A_CONN] &&
	    !nla_parse_nested(cb, MIGSEND_CONN_A_MAX, tb[MIGSEND_A_CONN], NULL)) {
		e.conn = (int32_t)ms_u32(cb, MIGSEND_CONN_A_INDEX);
		e.error = ms_u32(cb, MIGSEND_CONN_A_ERROR);
	}
	m->seen++;
	m->stop = m->cb(m->ctx, &e);
	return NL_OK;
}

int migsend_nl_monitor(int (*cb)(void *ctx, const struct migsend_nl_event *e),
		       void *ctx, unsigned int max_events, int timeout_ms)
{
	struct ms_monitor_ctx m = { .cb = cb, .ctx = ctx };
	struct nl_sock *sk;
	int family, grp, err;

	err = ms_nl_connect(&sk, &family);
	if (err)
		return err;
	grp = genl_ctrl_resolve_grp(sk, MIGSEND_GENL_NAME, MIGSEND_GENL_MCGRP_EVENTS);
	if (grp < 0 || nl_socket_add_membership(sk, grp)) {
		nl_socket_free(sk);
		return ms_fail(EPERM, "listening to migsend events needs CAP_NET_ADMIN");
	}
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, ms_nl_on_event, &m);
	while (!m.stop && (!max_events || m.seen < max_events)) {
		struct pollfd pfd = { .fd = nl_socket_get_fd(sk), .events = POLLIN };
		int n = poll(&pfd, 1, timeout_ms);

		if (n == 0) {
			err = ms_fail(ETIMEDOUT, "no migsend event within %d ms", timeout_ms);
			break;
		}
		if (n < 0 && errno != EINTR) {
			err = ms_fail(errno, "waiting for events");
			break;
		}
		if (n > 0 && (err = nl_recvmsgs_default(sk)) < 0) {
			err = ms_fail(EIO, "reading events: %s", nl_geterror(err));
			break;
		}
		err = 0;
	}
	nl_socket_free(sk);
	return err < 0 ? err : (int)m.seen;
}
