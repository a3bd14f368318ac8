// SPDX-License-Identifier: GPL-2.0
/*
 * The receiver (migsend_receive(), built here with ASan and UBSan) against
 * hand-made peers over real TCP on loopback: each test is one way a
 * hostile or broken source tried to crash it, fool it into success, or
 * keep it forever (issue 10), and the answer docs/PROTOCOL.md's
 * conformance table promises.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "internal.h"
#include "ms_wire.h"

#define PAGE	MIGSEND_PAGE_SIZE
#define GPA	(1ULL << 30)
#define MEM	(16ULL << 20)

struct rx_run {
	struct migsend_receiver_opts o;
	struct migsend_receiver_result res;
	const struct migsend_dest_region *into;
	unsigned int ninto;
	int err;
	char errmsg[512];
	char log[8192];
	pthread_mutex_t log_lock;
	pthread_t thread;
	uint16_t port;
	uint64_t t0, t1;	/* start and end, ms */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void rx_log(void *ctx, const char *line)
{
	struct rx_run *r = ctx;
	size_t n;

	pthread_mutex_lock(&r->log_lock);
	n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%s\n", line);
	pthread_mutex_unlock(&r->log_lock);
}

static void *rx_thread(void *arg)
{
	struct rx_run *r = arg;

	r->err = r->into ? migsend_receive_into(&r->o, r->into, r->ninto, &r->res) :
		 migsend_receive(&r->o, &r->res);
	snprintf(r->errmsg, sizeof(r->errmsg), "%s", migsend_last_error());
	r->t1 = now_ms();
	return NULL;
}

static int rx_start(struct rx_run *r, unsigned int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	pthread_mutex_init(&r->log_lock, NULL);
	r->port = ntohs(sa.sin_port);
	r->o.listen_fd = fd;
	r->o.timeout_ms = timeout_ms;
	r->o.log = rx_log;
	r->o.log_ctx = r;
	r->t0 = now_ms();
	return pthread_create(&r->thread, NULL, rx_thread, r);
}

static void rx_join(struct rx_run *r)
{
	pthread_join(r->thread, NULL);
	close(r->o.listen_fd);
}

static int peer_connect(struct rx_run *r)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(r->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	ms_set_timeouts(fd, 15000);
	return fd;
}

static const uint8_t token[MIGSEND_TOKEN_LEN] = { 7, 7, 7 };

/* Send a HELLO for @n regions; the reply's type (ABORT's errno in *abort_err). */
static int send_hello(int fd, unsigned int nconns, const struct migsend_layout_region *l,
		      unsigned int n, int *abort_err, char *reason, size_t size)
{
	uint8_t buf[MS_GREETING_MAX];
	char text[300];
	uint16_t type;
	uint32_t len;
	int hl = ms_hello_encode(buf, sizeof(buf), token, nconns, l, n);

	if (!reason) {
		reason = text;
		size = sizeof(text);
	}
	if (hl < 0 || ms_ctl_send(fd, MIGSEND_CTL_HELLO, buf, hl) ||
	    ms_ctl_recv(fd, &type, buf, sizeof(buf), &len))
		return -1;
	if (type == MIGSEND_CTL_ABORT && abort_err)
		*abort_err = ms_ctl_abort_decode(buf, len, reason, size);
	return type;
}

static int hello(struct rx_run *r, unsigned int nconns)
{
	struct migsend_layout_region l = { .gpa = GPA, .len = MEM };
	int fd = peer_connect(r);

	if (fd < 0 || send_hello(fd, nconns, &l, 1, NULL, NULL, 0) != MIGSEND_CTL_WELCOME)
		return -1;
	return fd;
}

static int join(struct rx_run *r, uint32_t index)
{
	struct migsend_ctl_join j = { .index = htole32(index) };
	uint8_t buf[512];
	uint16_t type;
	uint32_t len;
	int fd = peer_connect(r);

	memcpy(j.token, token, sizeof(j.token));
	if (fd < 0 || ms_ctl_send(fd, MIGSEND_CTL_JOIN, &j, sizeof(j)) ||
	    ms_ctl_recv(fd, &type, buf, sizeof(buf), &len) || type != MIGSEND_CTL_JOINED)
		return -1;
	return fd;
}

static void send_record(int fd, uint8_t type, uint64_t gpa, uint32_t npages, uint64_t pass)
{
	static uint8_t page[PAGE];
	struct migsend_wire_hdr h;
	uint32_t i;

	ms_wire_hdr_encode(&h, type, gpa, npages,
			   type == MIGSEND_REC_DATA ? npages * PAGE :
			   type == MIGSEND_REC_END ? sizeof(struct migsend_wire_end) : 0, pass);
	ms_write_full(fd, &h, sizeof(h));
	for (i = 0; type == MIGSEND_REC_DATA && i < npages; i++) {
		memset(page, (int)(gpa / PAGE + i), sizeof(page));
		ms_write_full(fd, page, PAGE);
	}
}

/*
 * A SPARSE record of @npages pages at @gpa: the header as given (a hostile
 * peer's may lie), the mask, and a page for each page the mask leaves.
 */
static void send_sparse(int fd, uint64_t gpa, uint32_t npages, uint32_t payload_len,
			uint64_t mask, uint64_t pass)
{
	static uint8_t page[PAGE];
	struct migsend_wire_sparse sp;
	struct migsend_wire_hdr h;
	uint32_t i;

	ms_wire_hdr_encode(&h, MIGSEND_REC_SPARSE, gpa, npages, payload_len, pass);
	ms_wire_sparse_encode(&sp, mask);
	ms_write_full(fd, &h, sizeof(h));
	ms_write_full(fd, &sp, sizeof(sp));
	for (i = 0; i < npages && i < 64; i++) {
		if (mask >> i & 1)
			continue;
		memset(page, (int)(gpa / PAGE + i), sizeof(page));
		ms_write_full(fd, page, PAGE);
	}
}

static void send_end(int fd, uint64_t pass, uint64_t records, uint64_t bytes,
		     uint64_t data, uint64_t zero)
{
	struct migsend_wire_end e;

	ms_wire_end_encode(&e, records, bytes, data, zero);
	send_record(fd, MIGSEND_REC_END, 0, 0, pass);
	ms_write_full(fd, &e, sizeof(e));
}

/* END for what @n DATA pages in one record sent on that connection make. */
static void send_end_data(int fd, uint64_t pass, uint64_t n)
{
	send_end(fd, pass, 1, 32 + n * PAGE, n, 0);
}

/* The next control message; ABORT: its errno and reason; else -type. */
static int read_ctl(int ctl, char *reason, size_t size)
{
	uint8_t buf[512];
	char text[300];
	uint16_t type;
	uint32_t len;

	if (ms_ctl_recv(ctl, &type, buf, sizeof(buf), &len))
		return 0;
	if (type != MIGSEND_CTL_ABORT)
		return -(int)type;
	if (!reason)
		return ms_ctl_abort_decode(buf, len, text, sizeof(text));
	return ms_ctl_abort_decode(buf, len, reason, size);
}

/* 0 when the @len bytes at @p are zero, else 1 + the first non-zero one's offset. */
static size_t zero_run(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return i + 1;
	return 0;
}

static void complete(int ctl, uint64_t last)
{
	struct migsend_ctl_complete c = { .last_pass = htole64(last) };

	ms_ctl_send(ctl, MIGSEND_CTL_COMPLETE, &c, sizeof(c));
}

/* ----- 10.1: nothing stored before it is checked ------------------------- */

TEST(hello_with_too_many_connections_is_refused_and_changes_nothing)
{
	struct migsend_layout_region l = { .gpa = 0, .len = MEM };
	uint8_t buf[MS_GREETING_MAX];
	struct rx_run r = { 0 };
	char reason[300];
	int fd, err = 0, hl;

	ASSERT_EQ(0, rx_start(&r, 1500));
	/* 129 and 100000 connections, as the attacker sent. */
	for (int i = 0; i < 2; i++) {
		struct migsend_ctl_hello *h = (void *)buf;

		fd = peer_connect(&r);
		ASSERT_LE(0, fd);
		hl = ms_hello_encode(buf, sizeof(buf), token, 1, &l, 1);
		h->nconns = htole32(i ? 100000 : 129);
		ASSERT_EQ(0, ms_ctl_send(fd, MIGSEND_CTL_HELLO, buf, hl));
		EXPECT_EQ(EPROTO, read_ctl(fd, reason, sizeof(reason)));
		EXPECT_NE(NULL, strstr(reason, "malformed HELLO"));
		close(fd);
	}
	(void)err;
	/* The receiver gives up with no valid HELLO: ASan watches the teardown. */
	rx_join(&r);
	EXPECT_EQ(-ETIMEDOUT, r.err);
	EXPECT_EQ(2, r.res.refused);
}

/* ----- 10.2: no false success ---------------------------------------------- */

TEST(complete_of_the_largest_pass_with_nothing_sent_is_no_success)
{
	struct rx_run r = { 0 };
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 1500));
	ctl = hello(&r, 1);
	ASSERT_LE(0, ctl);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	complete(ctl, UINT64_MAX);
	/* Never DONE: the pass was never ended; the watchdog ends the wait. */
	EXPECT_EQ(ETIMEDOUT, read_ctl(ctl, NULL, 0));
	rx_join(&r);
	EXPECT_EQ(-ETIMEDOUT, r.err);
	EXPECT_EQ(0, r.res.nregions);
	close(data);
	close(ctl);
}

TEST(complete_after_a_later_pass_record_is_refused)
{
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 5000));
	ctl = hello(&r, 1);
	ASSERT_LE(0, ctl);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	send_record(data, MIGSEND_REC_DATA, GPA, 1, 1);
	send_end_data(data, 1, 1);
	send_record(data, MIGSEND_REC_DATA, GPA, 1, 2);
	usleep(200 * 1000);
	complete(ctl, 1);
	EXPECT_EQ(EBADMSG, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "pass 2")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-EBADMSG, r.err);
	close(data);
	close(ctl);
}

TEST(a_record_of_the_next_pass_before_the_end_is_refused)
{
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, d0, d1;

	ASSERT_EQ(0, rx_start(&r, 5000));
	ctl = hello(&r, 2);
	ASSERT_LE(0, ctl);
	d0 = join(&r, 0);
	d1 = join(&r, 1);
	ASSERT_LE(0, d0);
	ASSERT_LE(0, d1);
	/* d0 skips its END(1) and sends pass 2 of the same page d1 sends in pass 1. */
	send_record(d0, MIGSEND_REC_DATA, GPA, 1, 1);
	send_record(d0, MIGSEND_REC_DATA, GPA + PAGE, 1, 2);
	EXPECT_EQ(EBADMSG, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "before the END of pass 1")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-EBADMSG, r.err);
	close(d0);
	close(d1);
	close(ctl);
}

TEST(a_connection_in_another_pass_than_the_others_is_refused)
{
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, d0, d1;

	ASSERT_EQ(0, rx_start(&r, 5000));
	ctl = hello(&r, 2);
	ASSERT_LE(0, ctl);
	d0 = join(&r, 0);
	d1 = join(&r, 1);
	ASSERT_LE(0, d0);
	ASSERT_LE(0, d1);
	send_record(d0, MIGSEND_REC_DATA, GPA, 1, 1);
	usleep(100 * 1000);
	send_record(d1, MIGSEND_REC_DATA, GPA + PAGE, 1, 2);
	EXPECT_EQ(EBADMSG, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "other connections send pass 1")) TH_LOG("%s", reason);
	rx_join(&r);
	close(d0);
	close(d1);
	close(ctl);
}

/* ----- 10.3: bounded time --------------------------------------------------- */

TEST(silence_inside_a_record_times_out)
{
	struct migsend_wire_hdr h;
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 1000));
	ctl = hello(&r, 1);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, GPA, 2, 2 * PAGE, 1);
	ASSERT_EQ(0, ms_write_full(data, &h, sizeof(h)));
	ASSERT_EQ(0, ms_write_full(data, &h, sizeof(h)));	/* 32 of 8192 bytes */
	EXPECT_EQ(ETIMEDOUT, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "for 1000 ms")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-ETIMEDOUT, r.err);
	EXPECT_GT(3000, r.t1 - r.t0);
	close(data);
	close(ctl);
}

TEST(a_data_connection_closed_between_records_ends_the_migration)
{
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, d0, d1;

	ASSERT_EQ(0, rx_start(&r, 30000));
	ctl = hello(&r, 2);
	d0 = join(&r, 0);
	d1 = join(&r, 1);
	ASSERT_LE(0, d1);
	send_record(d0, MIGSEND_REC_DATA, GPA, 1, 1);
	close(d0);
	EXPECT_EQ(ECONNABORTED, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "data connection 0 was closed")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-ECONNABORTED, r.err);
	EXPECT_GT(5000, r.t1 - r.t0);	/* not the 30 s timeout */
	close(d1);
	close(ctl);
}

TEST(a_barrier_that_never_completes_times_out)
{
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, d0, d1;

	ASSERT_EQ(0, rx_start(&r, 1000));
	ctl = hello(&r, 2);
	d0 = join(&r, 0);
	d1 = join(&r, 1);
	ASSERT_LE(0, d1);
	send_record(d0, MIGSEND_REC_DATA, GPA, 1, 1);
	send_end_data(d0, 1, 1);
	EXPECT_EQ(ETIMEDOUT, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "waiting for connections 1")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-ETIMEDOUT, r.err);
	EXPECT_GT(3000, r.t1 - r.t0);
	close(d0);
	close(d1);
	close(ctl);
}

TEST(silence_after_a_pass_times_out)
{
	struct rx_run r = { 0 };
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 1000));
	ctl = hello(&r, 1);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	send_record(data, MIGSEND_REC_DATA, GPA, 1, 1);
	send_end_data(data, 1, 1);
	EXPECT_EQ(-MIGSEND_CTL_ACK, read_ctl(data, NULL, 0));
	EXPECT_EQ(ETIMEDOUT, read_ctl(ctl, NULL, 0));
	rx_join(&r);
	EXPECT_EQ(-ETIMEDOUT, r.err);
	close(data);
	close(ctl);
}

/* ----- 10.4: greetings ------------------------------------------------------ */

TEST(a_slow_greeting_does_not_delay_the_source)
{
	struct rx_run r = { 0 };
	uint64_t t;
	int slow, ctl, data;

	ASSERT_EQ(0, rx_start(&r, 10000));
	slow = peer_connect(&r);
	ASSERT_LE(0, slow);
	ASSERT_EQ(0, ms_write_full(slow, "MS", 2));	/* and then nothing */
	usleep(100 * 1000);
	t = now_ms();
	ctl = hello(&r, 1);
	ASSERT_LE(0, ctl);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	EXPECT_GT(1000, now_ms() - t);
	/* Once the migration runs, the slow one is refused. */
	EXPECT_EQ(EACCES, read_ctl(slow, NULL, 0));
	ms_ctl_send_abort(ctl, ECANCELED, "test over");
	rx_join(&r);
	EXPECT_EQ(-ECONNABORTED, r.err);
	close(slow);
	close(data);
	close(ctl);
}

TEST(a_greeting_has_five_seconds_in_all)
{
	struct rx_run r = { 0 };
	uint64_t t = now_ms();
	int slow, i;

	ASSERT_EQ(0, rx_start(&r, 8000));
	slow = peer_connect(&r);
	ASSERT_LE(0, slow);
	/* A byte every 400 ms: each recv() is quick, the greeting is not. */
	for (i = 0; i < 14; i++) {
		if (ms_write_full(slow, "MSCT", 1))
			break;
		usleep(400 * 1000);
	}
	EXPECT_EQ(ETIMEDOUT, read_ctl(slow, NULL, 0));
	EXPECT_LE(4900, now_ms() - t);
	EXPECT_GT(6500, now_ms() - t);
	rx_join(&r);
	EXPECT_EQ(-ETIMEDOUT, r.err);
	EXPECT_NE(NULL, strstr(r.log, "no complete greeting within 5000 ms"));
	close(slow);
}

/* ----- 10.5: errors that say what was wrong ------------------------------- */

TEST(garbage_on_the_control_connection_is_named_and_aborted)
{
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 5000));
	ctl = hello(&r, 1);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	ASSERT_EQ(0, ms_write_full(ctl, "GET / HTTP/1.0\r\n\r\n", 18));
	EXPECT_EQ(EPROTO, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "bad magic")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-EPROTO, r.err);
	EXPECT_EQ(NULL, strstr(r.errmsg, "went away"));
	close(data);
	close(ctl);
}

TEST(an_oversized_state_is_named_and_aborted)
{
	struct migsend_ctl_hdr h;
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 5000));
	ctl = hello(&r, 1);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	ms_ctl_hdr_encode(&h, MIGSEND_CTL_STATE, MIGSEND_CTL_MAX_PAYLOAD + 1);
	ASSERT_EQ(0, ms_write_full(ctl, &h, sizeof(h)));
	EXPECT_EQ(EMSGSIZE, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "at most 67108864")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-EMSGSIZE, r.err);
	close(data);
	close(ctl);
}

TEST(an_end_whose_byte_count_lies_names_the_bytes)
{
	struct rx_run r = { 0 };
	char reason[300];
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 5000));
	ctl = hello(&r, 1);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	send_record(data, MIGSEND_REC_DATA, GPA, 1, 1);
	send_end(data, 1, 1, 32 + PAGE + 1, 1, 0);
	EXPECT_EQ(EBADMSG, read_ctl(ctl, reason, sizeof(reason)));
	EXPECT_NE(NULL, strstr(reason, "counts 4129 bytes, 4128 were received")) TH_LOG("%s", reason);
	rx_join(&r);
	close(data);
	close(ctl);
}

/* A SPARSE record that lies about its pages is refused, its pages untouched. */
TEST(a_sparse_record_whose_mask_lies_is_refused)
{
	static const struct {
		uint32_t npages, payload_len;
		uint64_t mask;
		const char *why;
	} lies[] = {
		{ 3, 8 + 2 * PAGE, 0x8 | 0x1, "zero mask 0x9" },	/* a bit past npages */
		{ 3, 8 + 2 * PAGE, 0x3, "8200 payload bytes" },	/* one data page short */
		{ 3, 8 + 4 * PAGE, 0, "malformed record header" },	/* more pages than it covers */
		{ 3, 4, 0x7, "malformed record header" },		/* no room for the mask */
	};
	unsigned int i;

	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		struct rx_run r = { 0 };
		char reason[300];
		int ctl, data;

		ASSERT_EQ(0, rx_start(&r, 5000));
		ctl = hello(&r, 1);
		data = join(&r, 0);
		ASSERT_LE(0, data);
		send_sparse(data, GPA, lies[i].npages, lies[i].payload_len, lies[i].mask, 1);
		EXPECT_EQ(EBADMSG, read_ctl(ctl, reason, sizeof(reason)));
		EXPECT_NE(NULL, strstr(reason, lies[i].why)) TH_LOG("%u: %s", i, reason);
		rx_join(&r);
		EXPECT_EQ(-EBADMSG, r.err);
		close(data);
		close(ctl);
	}
}

/* ----- 10.6: memory at the receiver's word, not the peer's ----------------- */

TEST(a_layout_larger_than_max_memory_is_refused_before_allocating)
{
	struct migsend_layout_region l = { .gpa = 0, .len = 64ULL << 40 };
	struct rx_run r = { 0 };
	char reason[300];
	int fd, err = 0;

	r.o.max_memory = 1ULL << 30;
	ASSERT_EQ(0, rx_start(&r, 5000));
	fd = peer_connect(&r);
	ASSERT_LE(0, fd);
	EXPECT_EQ(MIGSEND_CTL_ABORT, send_hello(fd, 1, &l, 1, &err, reason, sizeof(reason)));
	EXPECT_EQ(EFBIG, err);
	EXPECT_NE(NULL, strstr(reason, "at most 1073741824")) TH_LOG("%s", reason);
	rx_join(&r);
	EXPECT_EQ(-EFBIG, r.err);
	close(fd);
}

TEST(the_default_limit_is_physical_memory)
{
	struct migsend_layout_region l = { .gpa = 0, .len = 64ULL << 40 };
	struct rx_run r = { 0 };
	int fd, err = 0;

	ASSERT_EQ(0, rx_start(&r, 5000));
	fd = peer_connect(&r);
	ASSERT_LE(0, fd);
	EXPECT_EQ(MIGSEND_CTL_ABORT, send_hello(fd, 1, &l, 1, &err, NULL, 0));
	EXPECT_EQ(EFBIG, err);
	rx_join(&r);
	close(fd);
}

/* ----- 10.9: the handover ----------------------------------------------------- */

static void one_pass(struct __test_metadata *_metadata, struct rx_run *r, int *ctl, int *data)
{
	*ctl = hello(r, 1);
	*data = join(r, 0);
	ASSERT_LE(0, *data);
	send_record(*data, MIGSEND_REC_DATA, GPA, 2, 1);
	send_end_data(*data, 1, 2);
	complete(*ctl, 1);
	EXPECT_EQ(-MIGSEND_CTL_DONE, read_ctl(*ctl, NULL, 0));
}

TEST(success_only_once_the_source_confirms_done)
{
	struct rx_run r = { 0 };
	int ctl, data;

	ASSERT_EQ(0, rx_start(&r, 5000));
	one_pass(_metadata, &r, &ctl, &data);
	ASSERT_EQ(0, ms_ctl_send(ctl, MIGSEND_CTL_DONE, NULL, 0));
	rx_join(&r);
	EXPECT_EQ(0, r.err) TH_LOG("%s", r.errmsg);
	EXPECT_EQ(1, r.res.nregions);
	EXPECT_EQ(2, r.res.data_pages);
	migsend_receiver_result_free(&r.res);
	close(data);
	close(ctl);
}

TEST(no_confirmation_keeps_the_memory_but_is_no_success)
{
	struct rx_run r = { 0 };
	int ctl, data;
	uint8_t b;

	ASSERT_EQ(0, rx_start(&r, 5000));
	one_pass(_metadata, &r, &ctl, &data);
	close(ctl);		/* the source vanished after DONE */
	rx_join(&r);
	EXPECT_EQ(-ENOTCONN, r.err);
	EXPECT_NE(NULL, strstr(r.errmsg, "did not confirm DONE")) TH_LOG("%s", r.errmsg);
	ASSERT_EQ(1, r.res.nregions);
	ASSERT_EQ(1, pread(r.res.memfds[0], &b, 1, PAGE));
	EXPECT_EQ((GPA / PAGE + 1) & 0xff, b);
	migsend_receiver_result_free(&r.res);
	close(data);
}

/* ----- 11.1: receiving into the caller's memory ------------------------------- */

TEST(receive_into_checks_the_layout)
{
	struct migsend_layout_region l[2] = { { GPA, MEM / 2 }, { GPA + MEM / 2, MEM / 2 } };
	struct migsend_dest_region d = { .offset = 0, .gpa = GPA, .len = MEM };
	struct rx_run r = { 0 };
	char reason[300];
	int fd, err = 0;

	d.fd = memfd_create("dest", MFD_CLOEXEC);
	ASSERT_EQ(0, ftruncate(d.fd, MEM));
	r.into = &d;
	r.ninto = 1;
	ASSERT_EQ(0, rx_start(&r, 5000));
	fd = peer_connect(&r);
	EXPECT_EQ(MIGSEND_CTL_ABORT, send_hello(fd, 1, l, 2, &err, reason, sizeof(reason)));
	EXPECT_EQ(EINVAL, err);
	EXPECT_NE(NULL, strstr(reason, "announces 2 memory regions, the destination has 1"));
	rx_join(&r);
	EXPECT_EQ(-EINVAL, r.err);
	close(fd);
	close(d.fd);
}

TEST(receive_into_fills_the_callers_file_and_clears_what_was_there)
{
	struct migsend_dest_region d[2];
	struct rx_run r = { 0 };
	uint8_t *map, b;
	int ctl, data, mfd;
	size_t i;

	/* Two regions in one file, given in reverse order, the file pre-filled. */
	mfd = memfd_create("dest", MFD_CLOEXEC);
	ASSERT_EQ(0, ftruncate(mfd, MEM + 2 * PAGE));
	map = mmap(NULL, MEM + 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0xee, MEM + 2 * PAGE);
	d[0] = (struct migsend_dest_region){ mfd, PAGE + MEM / 2, GPA + MEM / 2, MEM / 2 };
	d[1] = (struct migsend_dest_region){ mfd, PAGE, GPA, MEM / 2 };
	r.into = d;
	r.ninto = 2;
	ASSERT_EQ(0, rx_start(&r, 5000));
	{
		struct migsend_layout_region l[2] = { { GPA, MEM / 2 }, { GPA + MEM / 2, MEM / 2 } };

		ctl = peer_connect(&r);
		ASSERT_EQ(MIGSEND_CTL_WELCOME, send_hello(ctl, 1, l, 2, NULL, NULL, 0));
	}
	data = join(&r, 0);
	ASSERT_LE(0, data);
	/* One page of data at the end of region 0, a zero run over all the rest. */
	send_record(data, MIGSEND_REC_DATA, GPA + MEM / 2 - PAGE, 1, 1);
	send_record(data, MIGSEND_REC_ZERO, GPA, MEM / 2 / PAGE - 1, 1);
	send_record(data, MIGSEND_REC_ZERO, GPA + MEM / 2, MEM / 2 / PAGE, 1);
	send_end(data, 1, 3, 3 * 32 + PAGE, 1, MEM / PAGE - 1);
	complete(ctl, 1);
	EXPECT_EQ(-MIGSEND_CTL_DONE, read_ctl(ctl, NULL, 0));
	ASSERT_EQ(0, ms_ctl_send(ctl, MIGSEND_CTL_DONE, NULL, 0));
	rx_join(&r);
	ASSERT_EQ(0, r.err) TH_LOG("%s", r.errmsg);
	EXPECT_EQ(-1, r.res.memfds[0]);
	EXPECT_EQ(GPA, r.res.regions[0].gpa);
	/* Outside the regions: untouched. */
	EXPECT_EQ(0xee, map[0]);
	EXPECT_EQ(0xee, map[MEM + PAGE]);
	/* Inside: zero, except the data page. */
	for (i = PAGE; i < MEM + PAGE; i += 4093) {
		if (i >= MEM / 2 && i < MEM / 2 + PAGE)
			continue;
		if (map[i])
			break;
	}
	EXPECT_LE(MEM + PAGE, i) TH_LOG("byte %zu is not zero", i);
	b = (GPA + MEM / 2 - PAGE) / PAGE & 0xff;
	EXPECT_EQ(b, map[MEM / 2]);
	munmap(map, MEM + 2 * PAGE);
	close(ctl);
	close(data);
	close(mfd);
}

/* WELCOME says SPARSE; a SPARSE record across two regions clears and fills. */
TEST(sparse_records_across_regions_clear_and_fill)
{
	struct migsend_layout_region l[2] = { { GPA, MEM / 2 }, { GPA + MEM / 2, MEM / 2 } };
	struct migsend_dest_region d[2];
	uint8_t buf[MS_GREETING_MAX];
	struct rx_run r = { 0 };
	uint64_t features = 0;
	int ctl, data, mfd, hl;
	uint16_t type;
	uint32_t len;
	uint8_t *map;

	mfd = memfd_create("dest", MFD_CLOEXEC);
	ASSERT_EQ(0, ftruncate(mfd, MEM));
	map = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0xee, MEM);
	d[0] = (struct migsend_dest_region){ mfd, 0, GPA, MEM / 2 };
	d[1] = (struct migsend_dest_region){ mfd, MEM / 2, GPA + MEM / 2, MEM / 2 };
	r.into = d;
	r.ninto = 2;
	ASSERT_EQ(0, rx_start(&r, 5000));
	ctl = peer_connect(&r);
	hl = ms_hello_encode(buf, sizeof(buf), token, 1, l, 2);
	ASSERT_EQ(0, ms_ctl_send(ctl, MIGSEND_CTL_HELLO, buf, hl));
	ASSERT_EQ(0, ms_ctl_recv(ctl, &type, buf, sizeof(buf), &len));
	ASSERT_EQ(MIGSEND_CTL_WELCOME, type);
	ASSERT_EQ(0, ms_welcome_decode(buf, len, &features));
	EXPECT_EQ(MIGSEND_CTL_F_SPARSE, features);
	data = join(&r, 0);
	ASSERT_LE(0, data);
	/* Pages -2 and 0 around the regions' border zero, -1 and 1 data. */
	send_sparse(data, GPA + MEM / 2 - 2 * PAGE, 4, 8 + 2 * PAGE, 0x5, 1);
	send_end(data, 1, 1, 32 + 8 + 2 * PAGE, 2, 2);
	complete(ctl, 1);
	EXPECT_EQ(-MIGSEND_CTL_DONE, read_ctl(ctl, NULL, 0));
	ASSERT_EQ(0, ms_ctl_send(ctl, MIGSEND_CTL_DONE, NULL, 0));
	rx_join(&r);
	ASSERT_EQ(0, r.err) TH_LOG("%s", r.errmsg);
	EXPECT_EQ(0xee, map[MEM / 2 - 2 * PAGE - 1]);
	EXPECT_EQ(0, zero_run(map + MEM / 2 - 2 * PAGE, PAGE));
	EXPECT_EQ(((GPA + MEM / 2) / PAGE - 1) & 0xff, map[MEM / 2 - PAGE]);
	EXPECT_EQ(((GPA + MEM / 2) / PAGE - 1) & 0xff, map[MEM / 2 - 1]);
	EXPECT_EQ(0, zero_run(map + MEM / 2, PAGE));
	EXPECT_EQ(((GPA + MEM / 2) / PAGE + 1) & 0xff, map[MEM / 2 + PAGE]);
	EXPECT_EQ(0xee, map[MEM / 2 + 2 * PAGE]);
	munmap(map, MEM);
	close(ctl);
	close(data);
	close(mfd);
}

TEST(receive_into_refuses_bad_regions_before_listening)
{
	struct migsend_dest_region d = { .offset = 0, .gpa = GPA, .len = MEM };
	struct migsend_receiver_opts o = { .listen_fd = -1, .port = "0" };
	struct migsend_receiver_result res;

	d.fd = memfd_create("dest", MFD_CLOEXEC);
	ASSERT_EQ(0, ftruncate(d.fd, MEM / 2));
	EXPECT_EQ(-EINVAL, migsend_receive_into(&o, &d, 1, &res));
	EXPECT_NE(NULL, strstr(migsend_last_error(), "past the file's end"));
	d.offset = 100;
	EXPECT_EQ(-EINVAL, migsend_receive_into(&o, &d, 1, &res));
	close(d.fd);
}

TEST_HARNESS_MAIN
