// SPDX-License-Identifier: GPL-2.0
/*
 * The control protocol and the receiver, attacked by hand-made peers over
 * real TCP: the receiver (migsend_receive(), the library call a
 * destination VMM embeds) runs in a thread in the peer network namespace;
 * the tests speak the protocol byte by byte from this side.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "internal.h"
#include "ms_testlib.h"
#include "ms_wire.h"

#define PAGE	MIGSEND_PAGE_SIZE

struct rx_run {
	struct migsend_receiver_opts o;
	struct migsend_receiver_result res;
	int err;
	char errmsg[512];
	char log[4096];
	pthread_mutex_t log_lock;
	pthread_t thread;
	uint16_t port;
};

static void rx_log(void *ctx, const char *line)
{
	struct rx_run *r = ctx;
	size_t n;

	pthread_mutex_lock(&r->log_lock);
	n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%s\n", line);
	pthread_mutex_unlock(&r->log_lock);
}

/* In the peer namespace: listen, then run the receiver. */
static void *rx_thread(void *arg)
{
	struct rx_run *r = arg;

	r->err = migsend_receive(&r->o, &r->res);
	snprintf(r->errmsg, sizeof(r->errmsg), "%s", migsend_last_error());
	return NULL;
}

static int listen_in_peer(struct rx_run *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int ns, self, fd;

	if (ms_net_setup())
		return -1;
	self = open("/proc/self/ns/net", O_RDONLY);
	ns = open("/run/netns/" MS_PEER_NETNS, O_RDONLY);
	if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET))
		return -1;
	inet_pton(AF_INET, MS_PEER_ADDR, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	if (setns(self, CLONE_NEWNET))
		return -1;
	close(ns);
	close(self);
	r->port = ntohs(sa.sin_port);
	return fd;
}

static int rx_start(struct rx_run *r, unsigned int timeout_ms)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->log_lock, NULL);
	r->o.listen_fd = listen_in_peer(r);
	r->o.timeout_ms = timeout_ms;
	r->o.log = rx_log;
	r->o.log_ctx = r;
	if (r->o.listen_fd < 0)
		return -1;
	return pthread_create(&r->thread, NULL, rx_thread, r);
}

static void rx_join(struct rx_run *r)
{
	pthread_join(r->thread, NULL);
	close(r->o.listen_fd);
	if (!r->err)
		migsend_receiver_result_free(&r->res);
}

static int peer_connect(struct rx_run *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(r->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, MS_PEER_ADDR, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	ms_set_timeouts(fd, 10000);
	return fd;
}

/* A control connection that said HELLO (16 MiB at gpa 1 GiB) and got WELCOME. */
static int hello(struct rx_run *r, const uint8_t *token, unsigned int nconns)
{
	struct migsend_layout_region layout = { .gpa = 1ULL << 30, .len = 16 << 20 };
	uint8_t buf[256];
	uint16_t type;
	uint32_t len;
	int fd = peer_connect(r), n;

	n = ms_hello_encode(buf, sizeof(buf), token, nconns, &layout, 1);
	if (fd < 0 || n < 0 || ms_ctl_send(fd, MIGSEND_CTL_HELLO, buf, n) ||
	    ms_ctl_recv(fd, &type, buf, sizeof(buf), &len) || type != MIGSEND_CTL_WELCOME)
		return -1;
	return fd;
}

/* JOIN: 0 when JOINED, else the error the ABORT carried (positive). */
static int join(struct rx_run *r, const uint8_t *token, uint32_t index, int *out)
{
	struct migsend_ctl_join j = { .index = htole32(index) };
	uint8_t buf[512];
	char reason[300];
	uint16_t type;
	uint32_t len;
	int fd = peer_connect(r);

	memcpy(j.token, token, sizeof(j.token));
	if (fd < 0 || ms_ctl_send(fd, MIGSEND_CTL_JOIN, &j, sizeof(j)) ||
	    ms_ctl_recv(fd, &type, buf, sizeof(buf), &len))
		return -1;
	*out = fd;
	if (type == MIGSEND_CTL_JOINED)
		return 0;
	if (type == MIGSEND_CTL_ABORT)
		return ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
	return -1;
}

static const uint8_t token_a[MIGSEND_TOKEN_LEN] = { 1, 2, 3, 4, 5 };
static const uint8_t token_b[MIGSEND_TOKEN_LEN] = { 1, 2, 3, 4, 6 };

TEST(wrong_token_and_stray_connections_are_refused_and_logged)
{
	struct rx_run r;
	int ctl, fd, stray;
	uint8_t buf[512];
	uint16_t type;
	uint32_t len;
	struct migsend_ctl_join j = { .index = 0 };

	ASSERT_EQ(0, rx_start(&r, 10000));
	/* A JOIN before any HELLO is refused. */
	stray = peer_connect(&r);
	ASSERT_LE(0, stray);
	ASSERT_EQ(0, ms_ctl_send(stray, MIGSEND_CTL_JOIN, &j, sizeof(j)));
	ASSERT_EQ(0, ms_ctl_recv(stray, &type, buf, sizeof(buf), &len));
	EXPECT_EQ(MIGSEND_CTL_ABORT, type);
	close(stray);
	/* Garbage instead of a greeting is refused. */
	stray = peer_connect(&r);
	ASSERT_EQ(0, ms_write_full(stray, "GET / HTTP/1.0\r\n\r\n", 18));
	ASSERT_EQ(0, ms_ctl_recv(stray, &type, buf, sizeof(buf), &len));
	EXPECT_EQ(MIGSEND_CTL_ABORT, type);
	close(stray);

	ctl = hello(&r, token_a, 1);
	ASSERT_LE(0, ctl);
	EXPECT_EQ(EACCES, join(&r, token_b, 0, &fd));
	close(fd);
	EXPECT_EQ(EACCES, join(&r, token_a, 7, &fd));	/* index out of range */
	close(fd);
	EXPECT_EQ(0, join(&r, token_a, 0, &fd));
	/* Late: the migration runs, every new connection is refused. */
	EXPECT_EQ(EACCES, join(&r, token_a, 0, &stray));
	close(stray);
	/* End it: the source aborts. */
	ASSERT_EQ(0, ms_ctl_send_abort(ctl, ECANCELED, "test over"));
	rx_join(&r);
	EXPECT_EQ(-ECONNABORTED, r.err);
	EXPECT_NE(NULL, strstr(r.errmsg, "test over"));
	EXPECT_EQ(5, r.res.refused);
	EXPECT_NE(NULL, strstr(r.log, "wrong migration token"));
	EXPECT_NE(NULL, strstr(r.log, "already running"));
	EXPECT_NE(NULL, strstr(r.log, "no migration has been started"));
	close(fd);
	close(ctl);
}

/* Send one record header (and payload bytes) on a joined data connection. */
static void send_record(int fd, uint8_t type, uint64_t gpa, uint32_t npages,
			uint32_t payload, uint64_t pass)
{
	struct migsend_wire_hdr h;
	static uint8_t page[PAGE];

	ms_wire_hdr_encode(&h, type, gpa, npages, payload, pass);
	ms_write_full(fd, &h, sizeof(h));
	while (payload >= PAGE) {
		ms_write_full(fd, page, PAGE);
		payload -= PAGE;
	}
}

/* A well-formed DATA header for @npages, then only one page of its payload. */
static int send_cut_record(int fd, uint64_t gpa, uint32_t npages, uint64_t pass)
{
	struct migsend_wire_hdr h;
	static uint8_t page[PAGE];

	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, gpa, npages, npages * PAGE, pass);
	if (ms_write_full(fd, &h, sizeof(h)))
		return -1;
	return ms_write_full(fd, page, PAGE);
}

/* The receiver's ABORT on the control connection: its errno. */
static int read_abort(int ctl, char *reason, size_t size)
{
	uint8_t buf[512];
	uint16_t type;
	uint32_t len;

	if (ms_ctl_recv(ctl, &type, buf, sizeof(buf), &len) || type != MIGSEND_CTL_ABORT)
		return -1;
	return ms_ctl_abort_decode(buf, len, reason, size);
}

FIXTURE(hostile) {
	struct rx_run r;
	int ctl;
	int data;
};

FIXTURE_SETUP(hostile)
{
	ASSERT_EQ(0, rx_start(&self->r, 10000));
	self->ctl = hello(&self->r, token_a, 1);
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, join(&self->r, token_a, 0, &self->data));
}

FIXTURE_TEARDOWN(hostile)
{
	close(self->data);
	close(self->ctl);
}

TEST_F(hostile, garbled_record_is_a_clear_error)
{
	char reason[300];

	ASSERT_EQ(0, ms_write_full(self->data, "this is not a migsend record, not at all", 40));
	EXPECT_EQ(EBADMSG, read_abort(self->ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "malformed record"));
	rx_join(&self->r);
	EXPECT_EQ(-EBADMSG, self->r.err);
	EXPECT_NE(NULL, strstr(self->r.errmsg, "malformed record"));
}

TEST_F(hostile, out_of_range_record_is_refused_before_writing)
{
	char reason[300];

	/* One page below guest memory, then one running past its end. */
	send_record(self->data, MIGSEND_REC_DATA, (1ULL << 30) + (16 << 20) - PAGE, 2,
		    2 * PAGE, 1);
	EXPECT_EQ(ERANGE, read_abort(self->ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "outside guest memory"));
	rx_join(&self->r);
	EXPECT_EQ(-ERANGE, self->r.err);
}

TEST_F(hostile, end_counts_that_lie_are_refused)
{
	struct migsend_wire_end e;
	char reason[300];

	send_record(self->data, MIGSEND_REC_ZERO, 1ULL << 30, 4, 0, 1);
	ms_wire_end_encode(&e, 5, 32, 0, 4);	/* says 5 records, 1 came */
	send_record(self->data, MIGSEND_REC_END, 0, 0, sizeof(e), 1);
	ms_write_full(self->data, &e, sizeof(e));
	EXPECT_EQ(EBADMSG, read_abort(self->ctl, reason, sizeof(reason)));
	rx_join(&self->r);
	EXPECT_EQ(-EBADMSG, self->r.err);
}

TEST_F(hostile, stale_pass_is_refused)
{
	struct migsend_wire_end e;
	uint8_t buf[64];
	uint16_t type;
	uint32_t len;

	send_record(self->data, MIGSEND_REC_ZERO, 1ULL << 30, 1, 0, 3);
	ms_wire_end_encode(&e, 1, 32, 0, 1);
	send_record(self->data, MIGSEND_REC_END, 0, 0, sizeof(e), 3);
	ms_write_full(self->data, &e, sizeof(e));
	/* The END is acknowledged ... */
	ASSERT_EQ(0, ms_ctl_recv(self->data, &type, buf, sizeof(buf), &len));
	EXPECT_EQ(MIGSEND_CTL_ACK, type);
	EXPECT_EQ(4, le64toh(((struct migsend_ctl_ack *)buf)->end_pass));
	/* ... and a record of that pass after it is refused. */
	send_record(self->data, MIGSEND_REC_ZERO, 1ULL << 30, 1, 0, 3);
	rx_join(&self->r);
	EXPECT_EQ(-EBADMSG, self->r.err);
}

TEST_F(hostile, sender_vanishing_mid_pass_keeps_nothing)
{
	send_record(self->data, MIGSEND_REC_DATA, 1ULL << 30, 1, PAGE, 1);
	/*
	 * A record cut short, then the source is gone: whichever connection
	 * the receiver notices first, the verdict is the same.
	 */
	ASSERT_EQ(0, send_cut_record(self->data, (1ULL << 30) + PAGE, 4, 1));
	close(self->data);
	close(self->ctl);
	self->data = self->ctl = -1;
	rx_join(&self->r);
	EXPECT_EQ(-ECONNABORTED, self->r.err);
	EXPECT_EQ(0, self->r.res.nregions);	/* no memory handed out */
	EXPECT_EQ(NULL, self->r.res.state);
}

TEST_F(hostile, data_connection_lost_inside_a_record_is_told_to_the_source)
{
	char reason[300];

	ASSERT_EQ(0, send_cut_record(self->data, 1ULL << 30, 2, 1));
	close(self->data);
	self->data = -1;
	/* The control connection is still up: the receiver says what broke. */
	EXPECT_EQ(ECONNABORTED, read_abort(self->ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "lost inside a record"));
	rx_join(&self->r);
	EXPECT_EQ(-ECONNABORTED, self->r.err);
	EXPECT_EQ(0, self->r.res.nregions);
}

TEST_F(hostile, complete_after_the_last_pass_is_done)
{
	struct migsend_ctl_complete c = { .last_pass = htole64(1) };
	struct migsend_wire_end e;
	uint8_t buf[64];
	uint16_t type;
	uint32_t len;

	send_record(self->data, MIGSEND_REC_DATA, 1ULL << 30, 1, PAGE, 1);
	ms_wire_end_encode(&e, 1, 32 + PAGE, 1, 0);
	send_record(self->data, MIGSEND_REC_END, 0, 0, sizeof(e), 1);
	ms_write_full(self->data, &e, sizeof(e));
	ASSERT_EQ(0, ms_ctl_send(self->ctl, MIGSEND_CTL_STATE, "dev", 3));
	ASSERT_EQ(0, ms_ctl_send(self->ctl, MIGSEND_CTL_COMPLETE, &c, sizeof(c)));
	ASSERT_EQ(0, ms_ctl_recv(self->ctl, &type, buf, sizeof(buf), &len));
	EXPECT_EQ(MIGSEND_CTL_DONE, type);
	/* The handover: the destination succeeds on the source's DONE. */
	ASSERT_EQ(0, ms_ctl_send(self->ctl, MIGSEND_CTL_DONE, NULL, 0));
	rx_join(&self->r);
	EXPECT_EQ(0, self->r.err);
	EXPECT_EQ(1, self->r.res.last_pass);
	EXPECT_EQ(1, self->r.res.data_pages);
	EXPECT_EQ(3, self->r.res.state_len);
}

/* ----- a hostile receiver against the real sender -------------------- */

struct fake_rx {
	int lfd;
	uint16_t port;
	bool close_data;	/* reset the data connection instead */
};

/* Handshake properly, take some data, then hang up the control connection. */
static void *fake_receiver(void *arg)
{
	struct fake_rx *f = arg;
	uint8_t buf[65536];
	struct migsend_ctl_join j;
	uint16_t type;
	uint32_t len;
	int ctl, data, i;

	ctl = accept(f->lfd, NULL, NULL);
	if (ctl < 0 || ms_ctl_recv(ctl, &type, buf, sizeof(buf), &len) ||
	    ms_ctl_send(ctl, MIGSEND_CTL_WELCOME, NULL, 0))
		return NULL;
	data = accept(f->lfd, NULL, NULL);
	if (data < 0 || ms_ctl_recv(data, &type, &j, sizeof(j), &len) ||
	    ms_ctl_send(data, MIGSEND_CTL_JOINED, NULL, 0))
		return NULL;
	for (i = 0; i < 16; i++)
		if (recv(data, buf, sizeof(buf), MSG_WAITALL) <= 0)
			break;
	if (f->close_data) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(data, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(data);
		sleep(2);
		close(ctl);
	} else {
		close(ctl);
		sleep(2);
		close(data);
	}
	return NULL;
}

static void sender_against_fake(struct __test_metadata *_metadata, bool close_data,
				const char *want)
{
	struct migsend_sender_opts so = { .host = MS_PEER_ADDR, .nconns = 1 };
	struct migsend_session *s;
	struct migsend_sender *snd;
	struct ms_mem mem;
	struct ms_bitmap bm;
	struct fake_rx f = { .close_data = close_data };
	struct rx_run r;
	char port[16];
	pthread_t t;
	int err;

	f.lfd = listen_in_peer(&r);
	ASSERT_LE(0, f.lfd);
	snprintf(port, sizeof(port), "%u", r.port);
	so.port = port;
	ASSERT_EQ(0, pthread_create(&t, NULL, fake_receiver, &f));
	ASSERT_EQ(0, ms_mem_create(&mem, 64 << 20, false));
	ms_mem_fill_random(&mem, 0, (64 << 20) / PAGE, 1);
	ASSERT_EQ(0, ms_bitmap_alloc(&bm, (64 << 20) / PAGE));
	ms_bitmap_set(&bm, 0, bm.npages);
	ASSERT_EQ(0, migsend_session_open(&s, NULL));
	ASSERT_EQ(0, migsend_add_region(s, mem.fd, 0, 0, mem.len));
	ASSERT_EQ(0, migsend_sender_connect(s, &so, &snd));
	err = migsend_sender_pass(snd, 1, (const uint64_t *)bm.words, 0, bm.npages,
				  MIGSEND_PASS_SKIP_ZERO, NULL);
	EXPECT_EQ(-ECONNRESET, err);
	EXPECT_NE(NULL, strstr(migsend_last_error(), want)) TH_LOG("%s", migsend_last_error());
	migsend_sender_close(snd);
	migsend_session_close(s);
	pthread_join(t, NULL);
	close(f.lfd);
	ms_mem_destroy(&mem);
	ms_bitmap_free(&bm);
}

TEST(receiver_closing_the_control_connection_fails_the_pass)
{
	sender_against_fake(_metadata, false, "control connection to the destination was lost");
}

TEST(receiver_resetting_a_data_connection_fails_the_pass)
{
	sender_against_fake(_metadata, true, "lost during pass 1");
}

TEST_HARNESS_MAIN
