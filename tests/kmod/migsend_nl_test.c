// SPDX-License-Identifier: GPL-2.0
/*
 * The module's generic netlink session dump, read with libnl: every live
 * session and every connection of each appears, in the order the
 * sessions were opened, however many messages that takes.  A session
 * with more connections than one message holds is split, its later
 * messages flagged MIGSEND_A_CONTINUED; no session after it is hidden.
 * Read with a 4 KiB buffer (as libmnl's MNL_SOCKET_BUFFER_SIZE makes the
 * kernel fill messages of about one page) and with libnl's default.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "kselftest_harness.h"
#include "ms_testlib.h"

#define MAX_SESSIONS	256

/* What one dump said about one session, merged over its messages. */
struct nl_session {
	uint32_t id;
	uint32_t pid;
	uint32_t nconns;	/* MIGSEND_A_NCONNS of its head */
	int msgs;
	int conn_seen[MIGSEND_MAX_CONNS];
	int bad_conns;		/* index out of range */
};

struct nl_dump {
	struct nl_session s[MAX_SESSIONS];
	int nsessions;
	int msgs;
	int errors;		/* messages that break the rules */
	char why[200];
};

/* The session a continuation belongs to: the one of the previous message. */
static struct nl_session *dump_last(struct nl_dump *d, uint32_t id)
{
	struct nl_session *s = d->nsessions ? &d->s[d->nsessions - 1] : NULL;

	return s && s->id == id ? s : NULL;
}

static void dump_error(struct nl_dump *d, const char *why, uint32_t id)
{
	if (!d->errors++)
		snprintf(d->why, sizeof(d->why), "%s (session %u)", why, id);
}

static void dump_conn(struct nl_session *s, struct nlattr *nest)
{
	struct nlattr *tb[MIGSEND_CONN_A_MAX + 1];
	uint32_t idx;

	if (nla_parse_nested(tb, MIGSEND_CONN_A_MAX, nest, NULL) ||
	    !tb[MIGSEND_CONN_A_INDEX]) {
		s->bad_conns++;
		return;
	}
	idx = nla_get_u32(tb[MIGSEND_CONN_A_INDEX]);
	if (idx >= MIGSEND_MAX_CONNS)
		s->bad_conns++;
	else
		s->conn_seen[idx]++;
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct nl_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *g = genlmsg_hdr(nlh);
	struct nlattr *tb[MIGSEND_A_MAX + 1], *a;
	struct nl_session *s;
	bool cont;
	uint32_t id;
	int rem;

	d->msgs++;
	if (genlmsg_parse(nlh, 0, tb, MIGSEND_A_MAX, NULL) ||
	    !tb[MIGSEND_A_SESSION_ID] || !tb[MIGSEND_A_PID]) {
		dump_error(d, "message without identity", 0);
		return NL_SKIP;
	}
	/* Session ids are reused: a session closed during the dump may be
	 * followed by a new one with its id.  Each head is a session.
	 */
	id = nla_get_u32(tb[MIGSEND_A_SESSION_ID]);
	cont = tb[MIGSEND_A_CONTINUED];
	s = cont ? dump_last(d, id) : NULL;
	if (cont && !s) {
		dump_error(d, "continuation of another session", id);
		return NL_SKIP;
	}
	if (!s) {
		if (d->nsessions == MAX_SESSIONS) {
			dump_error(d, "too many sessions", id);
			return NL_SKIP;
		}
		s = &d->s[d->nsessions++];
		s->id = id;
	}
	s->msgs++;
	s->pid = nla_get_u32(tb[MIGSEND_A_PID]);
	if (!cont) {
		if (!tb[MIGSEND_A_NCONNS] || !tb[MIGSEND_A_STATE] ||
		    !tb[MIGSEND_A_TOTAL])
			dump_error(d, "head without the session's attributes", id);
		else
			s->nconns = nla_get_u32(tb[MIGSEND_A_NCONNS]);
	} else if (tb[MIGSEND_A_NCONNS] || tb[MIGSEND_A_TOTAL]) {
		dump_error(d, "continuation with head attributes", id);
	}
	nla_for_each_attr(a, genlmsg_attrdata(g, 0), genlmsg_attrlen(g, 0), rem)
		if (nla_type(a) == MIGSEND_A_CONN)
			dump_conn(s, a);
	return NL_OK;
}

/* Dump every session; @bufsize 0 is libnl's default reading. */
static int nl_dump_sessions(struct nl_dump *d, size_t bufsize)
{
	struct nl_sock *sk = nl_socket_alloc();
	int family = 0, err = 0;

	memset(d, 0, sizeof(*d));
	if (!sk)
		return -ENOMEM;
	/* The kernel sizes dump messages by the largest read so far. */
	if (bufsize) {
		nl_socket_disable_msg_peek(sk);
		err = nl_socket_set_msg_buf_size(sk, bufsize);
	}
	if (!err)
		err = genl_connect(sk);
	if (!err) {
		family = genl_ctrl_resolve(sk, MIGSEND_GENL_NAME);
		err = family < 0 ? family : 0;
	}
	if (!err)
		err = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, d);
	if (!err)
		err = genl_send_simple(sk, family, MIGSEND_CMD_GET_SESSION,
				       MIGSEND_GENL_VERSION, NLM_F_DUMP);
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	return err < 0 ? err : 0;
}

/* Sessions of this process, in the order the dump gave them. */
static int own_sessions(struct nl_dump *d, struct nl_session **out, int max)
{
	int i, n = 0;

	for (i = 0; i < d->nsessions && n < max; i++)
		if (d->s[i].pid == (uint32_t)getpid())
			out[n++] = &d->s[i];
	return n;
}

/* Every connection of @s, each exactly once, and no other. */
static bool all_conns_once(const struct nl_session *s, uint32_t nconns)
{
	uint32_t i;

	if (s->bad_conns || s->nconns != nconns)
		return false;
	for (i = 0; i < MIGSEND_MAX_CONNS; i++)
		if (s->conn_seen[i] != (i < nconns))
			return false;
	return true;
}

/* A session with @nconns connections into the peer netns. */
struct sess {
	int dev;
	int nconns;
	int snd[MIGSEND_MAX_CONNS];
	int rcv[MIGSEND_MAX_CONNS];
};

static int sess_open(struct sess *s, int nconns)
{
	int i;

	s->dev = ms_open();
	s->nconns = nconns;
	if (s->dev < 0 || (nconns && ms_tcp_pairs(nconns, s->snd, s->rcv)))
		return -1;
	for (i = 0; i < nconns; i++)
		if (ms_add_sock(s->dev, s->snd[i]) != i)
			return -1;
	return 0;
}

static void sess_close(struct sess *s)
{
	if (s->dev >= 0)
		close(s->dev);
	s->dev = -1;
	ms_close_fds(s->snd, s->nconns);
	ms_close_fds(s->rcv, s->nconns);
}

/* Opened in this order; the dump must give them back in it. */
static const int sizes[] = { 2, MIGSEND_MAX_CONNS, 0, 100, 3, MIGSEND_MAX_CONNS, 1 };
#define NSESS	(int)(sizeof(sizes) / sizeof(sizes[0]))

FIXTURE(many) {
	struct sess s[NSESS];
};

FIXTURE_SETUP(many)
{
	int i;

	for (i = 0; i < NSESS; i++)
		self->s[i].dev = -1;
	for (i = 0; i < NSESS; i++)
		ASSERT_EQ(0, sess_open(&self->s[i], sizes[i])) TH_LOG("session %d", i);
}

FIXTURE_TEARDOWN(many)
{
	int i;

	for (i = 0; i < NSESS; i++)
		sess_close(&self->s[i]);
}

static void check_dump(struct __test_metadata *_metadata, size_t bufsize,
		       bool must_split)
{
	struct nl_session *own[MAX_SESSIONS];
	struct nl_dump *d = calloc(1, sizeof(*d));
	int i, n;

	ASSERT_NE(NULL, d);
	ASSERT_EQ(0, nl_dump_sessions(d, bufsize));
	if (d->errors)
		printf("# %s\n", d->why);
	EXPECT_EQ(0, d->errors);
	n = own_sessions(d, own, MAX_SESSIONS);
	ASSERT_EQ(NSESS, n);
	for (i = 0; i < n; i++) {
		EXPECT_TRUE(all_conns_once(own[i], sizes[i]))
			TH_LOG("session %d: %u connections announced, want %d",
			       i, own[i]->nconns, sizes[i]);
		if (must_split && sizes[i] == MIGSEND_MAX_CONNS)
			EXPECT_LT(1, own[i]->msgs) TH_LOG("session %d not split", i);
	}
	printf("# buffer %zu: %d messages for %d sessions\n", bufsize,
	       d->msgs, d->nsessions);
	free(d);
}

TEST_F(many, every_session_and_connection_with_a_page_sized_buffer)
{
	check_dump(_metadata, 4096, true);
}

TEST_F(many, every_session_and_connection_with_the_default_buffer)
{
	check_dump(_metadata, 0, false);
}

/* Sessions open and close while dumps run: each dump ends, and the
 * sessions that stay open throughout are all in it, whole.
 */
struct churn {
	atomic_bool stop;
	long opened;
};

static void *churn_run(void *arg)
{
	struct churn *c = arg;
	struct sess s;

	while (!atomic_load(&c->stop)) {
		/* Mostly bare sessions: many of them come and go per dump. */
		if (sess_open(&s, c->opened % 8 ? 0 : 1) == 0)
			c->opened++;
		sess_close(&s);
	}
	return NULL;
}

TEST_F(many, sessions_coming_and_going_hide_no_other)
{
	struct churn c = { 0 };
	pthread_t t;
	int round;

	ASSERT_EQ(0, pthread_create(&t, NULL, churn_run, &c));
	for (round = 0; round < 50; round++) {
		struct nl_session *own[MAX_SESSIONS];
		struct nl_dump *d = calloc(1, sizeof(*d));
		int i, n;

		ASSERT_NE(NULL, d);
		ASSERT_EQ(0, nl_dump_sessions(d, 4096));
		if (d->errors)
			printf("# round %d: %s\n", round, d->why);
		EXPECT_EQ(0, d->errors);
		/* The fixture's sessions come first: they were opened first. */
		n = own_sessions(d, own, MAX_SESSIONS);
		ASSERT_LE(NSESS, n) TH_LOG("round %d", round);
		for (i = 0; i < NSESS; i++)
			EXPECT_TRUE(all_conns_once(own[i], sizes[i]))
				TH_LOG("round %d, session %d", round, i);
		free(d);
	}
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	printf("# %ld sessions opened and closed meanwhile\n", c.opened);
}

TEST_HARNESS_MAIN
