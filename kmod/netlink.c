// SPDX-License-Identifier: GPL-2.0
/*
 * migsend generic netlink family, after nbd's: a dump of every live
 * session with its counters, and a multicast group of events (pass done,
 * connection dead, session closed).  Admin only, in the initial network
 * namespace.
 */
#include <net/genetlink.h>

#include "migsend.h"

static const struct genl_multicast_group ms_nl_mcgrps[] = {
	{ .name = MIGSEND_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static int ms_nl_dump_sessions(struct sk_buff *skb, struct netlink_callback *cb);

static const struct genl_small_ops ms_nl_ops[] = {
	{
		.cmd = MIGSEND_CMD_GET_SESSION,
		.validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP,
		.dumpit = ms_nl_dump_sessions,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family ms_nl_family __ro_after_init = {
	.name = MIGSEND_GENL_NAME,
	.version = MIGSEND_GENL_VERSION,
	.maxattr = MIGSEND_A_MAX,
	.module = THIS_MODULE,
	.small_ops = ms_nl_ops,
	.n_small_ops = ARRAY_SIZE(ms_nl_ops),
	.resv_start_op = MIGSEND_CMD_EVENT + 1,
	.mcgrps = ms_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(ms_nl_mcgrps),
};

static int ms_nl_put_counters(struct sk_buff *skb, int type,
			      const struct migsend_counters *c)
{
	struct nlattr *nest = nla_nest_start(skb, type);

	if (!nest ||
	    nla_put_u64_64bit(skb, MIGSEND_C_DIRTY_PAGES, c->dirty_pages, MIGSEND_C_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_C_ZERO_PAGES_HOLE, c->zero_pages_hole,
			      MIGSEND_C_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_C_ZERO_PAGES_SCANNED, c->zero_pages_scanned,
			      MIGSEND_C_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_C_DATA_PAGES, c->data_pages, MIGSEND_C_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_C_RECORDS, c->records, MIGSEND_C_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_C_WIRE_BYTES, c->wire_bytes, MIGSEND_C_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_C_ELAPSED_NS, c->elapsed_ns, MIGSEND_C_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_C_ERRORS, c->errors, MIGSEND_C_PAD))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int ms_nl_put_conn(struct sk_buff *skb, struct ms_conn *c)
{
	struct migsend_conn_stats cs;
	struct nlattr *nest;

	ms_conn_stats_read(c, &cs);
	nest = nla_nest_start(skb, MIGSEND_A_CONN);
	if (!nest ||
	    nla_put_u32(skb, MIGSEND_CONN_A_INDEX, c->idx) ||
	    nla_put_u64_64bit(skb, MIGSEND_CONN_A_WIRE_BYTES, cs.wire_bytes,
			      MIGSEND_CONN_A_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_CONN_A_RECORDS, cs.records,
			      MIGSEND_CONN_A_PAD) ||
	    nla_put_u64_64bit(skb, MIGSEND_CONN_A_BUSY_NS, cs.busy_ns,
			      MIGSEND_CONN_A_PAD) ||
	    nla_put_u32(skb, MIGSEND_CONN_A_ERROR, cs.error) ||
	    ((cs.flags & MIGSEND_CONN_FAILED) &&
	     nla_put_flag(skb, MIGSEND_CONN_A_FAILED)))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int ms_nl_put_identity(struct sk_buff *skb, struct ms_session *s)
{
	if (nla_put_u32(skb, MIGSEND_A_SESSION_ID, s->id) ||
	    nla_put_u32(skb, MIGSEND_A_PID, s->pid))
		return -EMSGSIZE;
	return 0;
}

static int ms_nl_put_pass(struct sk_buff *skb, const struct migsend_stats *st)
{
	if (nla_put_u64_64bit(skb, MIGSEND_A_PASS, st->pass, MIGSEND_A_PAD) ||
	    nla_put_u32(skb, MIGSEND_A_STATE, st->state) ||
	    nla_put_u32(skb, MIGSEND_A_ERROR, st->error) ||
	    ms_nl_put_counters(skb, MIGSEND_A_LAST, &st->last))
		return -EMSGSIZE;
	return 0;
}

/*
 * The dump's cursor, kept in cb->args between the calls that fill one
 * message each: the serial number of the session being dumped (or the
 * last one dumped whole), whether it has connections still to go, and
 * the index of the next one.  Serial numbers, unlike list positions,
 * stay right when sessions close between two calls.
 */
struct ms_nl_cursor {
	u64 serial;
	bool more;
	unsigned int conn;
};

static void ms_nl_cursor_load(struct netlink_callback *cb,
			      struct ms_nl_cursor *cur)
{
	cur->serial = cb->args[0];
	cur->more = cb->args[1];
	cur->conn = cb->args[2];
}

static void ms_nl_cursor_store(struct netlink_callback *cb,
			       const struct ms_nl_cursor *cur)
{
	cb->args[0] = cur->serial;
	cb->args[1] = cur->more;
	cb->args[2] = cur->conn;
}

/* The session's own attributes, in the first of its messages. */
static int ms_nl_put_session_head(struct sk_buff *skb, struct ms_session *s)
{
	struct migsend_stats st;

	ms_session_snapshot(s, &st);
	if (ms_nl_put_pass(skb, &st) ||
	    nla_put_u32(skb, MIGSEND_A_NREGIONS, st.nregions) ||
	    nla_put_u32(skb, MIGSEND_A_NCONNS, READ_ONCE(s->nconns)) ||
	    ms_nl_put_counters(skb, MIGSEND_A_TOTAL, &st.total))
		return -EMSGSIZE;
	return 0;
}

/*
 * One message of session @s: its head when @head, then its connections
 * from *@conn on, as many as fit; *@conn is the next one left out.
 * -EMSGSIZE (and nothing added to @skb) when not even the head, or for a
 * continuation a single connection, fits.  Under ms_global_lock, which
 * keeps the session and its connections.
 */
static int ms_nl_fill_session(struct sk_buff *skb, struct netlink_callback *cb,
			      struct ms_session *s, bool head,
			      unsigned int *conn)
{
	unsigned int i = *conn, nconns = READ_ONCE(s->nconns);
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &ms_nl_family, NLM_F_MULTI, MIGSEND_CMD_GET_SESSION);
	if (!hdr)
		return -EMSGSIZE;
	if (ms_nl_put_identity(skb, s))
		goto cancel;
	if (head ? ms_nl_put_session_head(skb, s) :
		   nla_put_flag(skb, MIGSEND_A_CONTINUED))
		goto cancel;
	for (; i < nconns; i++) {
		void *mark = skb_tail_pointer(skb);

		if (ms_nl_put_conn(skb, s->conns[i])) {
			nlmsg_trim(skb, mark);
			break;
		}
	}
	if (!head && i == *conn && i < nconns)
		goto cancel;
	genlmsg_end(skb, hdr);
	*conn = i;
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/*
 * Fill one reply with as many sessions as fit, splitting a session whose
 * connections do not fit; the next call goes on where this one stopped.
 */
static int ms_nl_dump_sessions(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ms_nl_cursor cur;
	struct ms_session *s;

	ms_nl_cursor_load(cb, &cur);
	ms_global_lock_acquire();
	list_for_each_entry(s, ms_session_list(), global_node) {
		bool head = s->serial != cur.serial;
		unsigned int conn = head ? 0 : cur.conn;

		if (s->serial < cur.serial || (!head && !cur.more))
			continue;
		if (ms_nl_fill_session(skb, cb, s, head, &conn))
			break;
		cur.serial = s->serial;
		cur.conn = conn;
		cur.more = conn < READ_ONCE(s->nconns);
		if (cur.more)
			break;
	}
	ms_global_lock_release();
	ms_nl_cursor_store(cb, &cur);
	return skb->len;
}

static struct sk_buff *ms_nl_event_new(struct ms_session *s, u32 event, void **hdr)
{
	struct sk_buff *skb;

	if (!genl_has_listeners(&ms_nl_family, &init_net, 0))
		return NULL;
	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &ms_nl_family, 0, MIGSEND_CMD_EVENT);
	if (!*hdr || nla_put_u32(skb, MIGSEND_A_EVENT, event) ||
	    ms_nl_put_identity(skb, s)) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

static void ms_nl_event_send(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&ms_nl_family, skb, 0, 0, GFP_KERNEL);
}

void ms_nl_event_pass_done(struct ms_session *s)
{
	struct migsend_stats st;
	struct sk_buff *skb;
	void *hdr;

	skb = ms_nl_event_new(s, MIGSEND_EVENT_PASS_DONE, &hdr);
	if (!skb)
		return;
	ms_session_snapshot(s, &st);
	if (ms_nl_put_pass(skb, &st)) {
		nlmsg_free(skb);
		return;
	}
	ms_nl_event_send(skb, hdr);
}

void ms_nl_event_conn_dead(struct ms_conn *c)
{
	struct sk_buff *skb;
	void *hdr;

	skb = ms_nl_event_new(c->s, MIGSEND_EVENT_CONN_DEAD, &hdr);
	if (!skb)
		return;
	if (ms_nl_put_conn(skb, c)) {
		nlmsg_free(skb);
		return;
	}
	ms_nl_event_send(skb, hdr);
}

void ms_nl_event_session_closed(struct ms_session *s)
{
	struct sk_buff *skb;
	void *hdr;

	skb = ms_nl_event_new(s, MIGSEND_EVENT_SESSION_CLOSED, &hdr);
	if (skb)
		ms_nl_event_send(skb, hdr);
}

int ms_nl_init(void)
{
	return genl_register_family(&ms_nl_family);
}

void ms_nl_exit(void)
{
	genl_unregister_family(&ms_nl_family);
}
