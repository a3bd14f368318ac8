// SPDX-License-Identifier: GPL-2.0
/*
 * The engine over kernel TLS: each sending socket gets kTLS TX (TCP_ULP
 * "tls", TLS_TX: TLS 1.3, AES-GCM-128, fixed test keys, one per
 * connection), each receiving socket TLS_RX with the same keys, and the
 * module sends its records through them, page data by reference
 * (sendpage on 6.1, MSG_SPLICE_PAGES on 6.12).  The destination must
 * equal the source byte for byte; the bytes on the wire must be TLS
 * records, not the plain stream; MIGSEND_SOCK_KTLS must refuse a socket
 * without kTLS TX.  No handshake here: that is userspace's (tests/tls).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "kselftest_harness.h"
#include "ms_testlib.h"

#ifndef SOL_TLS
#define SOL_TLS		282
#endif

#define PAGE		MIGSEND_PAGE_SIZE
#define MB		(1024UL * 1024)
#define MAX_CONNS	4
#define LEN		(16 * MB)
#define NPAGES		(LEN / PAGE)
#define RX_TIMEOUT_MS	120000

#define EXPECT_ERRNO(err, call) do {		\
	errno = 0;				\
	EXPECT_EQ(-1, (call));			\
	EXPECT_EQ(err, errno);			\
} while (0)

/* Test keys, made different per connection by @i; never secret. */
static void test_keys(struct tls12_crypto_info_aes_gcm_128 *ci, int i)
{
	unsigned int k;

	memset(ci, 0, sizeof(*ci));
	ci->info.version = TLS_1_3_VERSION;
	ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
	for (k = 0; k < sizeof(ci->key); k++)
		ci->key[k] = 0x10 + k + i;
	for (k = 0; k < sizeof(ci->iv); k++)
		ci->iv[k] = 0x40 + k;
	for (k = 0; k < sizeof(ci->salt); k++)
		ci->salt[k] = 0x70 + k + i;
	/* rec_seq 0: the first record after the (here absent) handshake. */
}

static int ktls_install(int fd, int i, int dir)
{
	struct tls12_crypto_info_aes_gcm_128 ci;

	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) &&
	    errno != EEXIST)
		return -1;
	test_keys(&ci, i);
	return setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

FIXTURE(ktls) {
	int dev;
	int nconns;
	int snd[MAX_CONNS], rcv[MAX_CONNS];
	struct ms_mem mem;
	struct ms_bitmap bm;
	uint8_t *dst;
	struct ms_rx rx;
	bool rx_running;
};

FIXTURE_VARIANT(ktls) {
	int nconns;
};

FIXTURE_VARIANT_ADD(ktls, one) { .nconns = 1 };
FIXTURE_VARIANT_ADD(ktls, four) { .nconns = 4 };

FIXTURE_SETUP(ktls)
{
	int i;

	self->nconns = variant->nconns;
	self->dev = ms_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ms_tcp_pairs(self->nconns, self->snd, self->rcv));
	for (i = 0; i < self->nconns; i++) {
		ASSERT_EQ(0, ktls_install(self->snd[i], i, TLS_TX))
			TH_LOG("kTLS TX: %s (is the tls module loaded?)",
			       strerror(errno));
		ASSERT_EQ(0, ktls_install(self->rcv[i], i, TLS_RX))
			TH_LOG("kTLS RX: %s", strerror(errno));
	}
	ASSERT_EQ(0, ms_mem_create(&self->mem, LEN, false));
	ASSERT_EQ(0, ms_add_region(self->dev, self->mem.fd, 0, 0, LEN));
	ASSERT_EQ(0, ms_bitmap_alloc(&self->bm, NPAGES));
	self->dst = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->dst);
}

FIXTURE_TEARDOWN(ktls)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->rx_running)
		ms_rx_stop(&self->rx);
	ms_close_fds(self->snd, self->nconns);
	ms_close_fds(self->rcv, self->nconns);
	ms_mem_destroy(&self->mem);
	ms_bitmap_free(&self->bm);
	munmap(self->dst, LEN);
}

static int add_ktls(int dev, int fd)
{
	struct migsend_sock a = { .fd = fd, .flags = MIGSEND_SOCK_KTLS };

	return ioctl(dev, MIGSEND_IOC_ADD_SOCK, &a);
}

static int add_all(FIXTURE_DATA(ktls) *self)
{
	int i;

	for (i = 0; i < self->nconns; i++)
		if (add_ktls(self->dev, self->snd[i]) != i)
			return -1;
	return 0;
}

static int run_pass(FIXTURE_DATA(ktls) *self, uint64_t pass, uint32_t flags,
		    struct migsend_pass_result *res)
{
	if (ms_pass_start(self->dev, pass, &self->bm, 0, flags) ||
	    ms_pass_wait(self->dev, res))
		return -errno;
	if (res->state != MIGSEND_STATE_DONE)
		return -res->error;
	return ms_rx_wait_pass(&self->rx, pass, RX_TIMEOUT_MS);
}

TEST_F(ktls, passes_over_ktls_arrive_byte_for_byte)
{
	struct migsend_conn_stats cs[MAX_CONNS];
	struct migsend_stats st = { .nconns = MAX_CONNS };
	struct migsend_version v;
	struct migsend_pass_result res;
	uint64_t t0;
	int i;

	ASSERT_EQ(0, ioctl(self->dev, MIGSEND_IOC_VERSION, &v));
	EXPECT_TRUE(v.features & MIGSEND_FEAT_KTLS);
	ASSERT_EQ(0, add_all(self));
	ASSERT_EQ(0, ms_rx_start(&self->rx, self->dst, 0, LEN, self->rcv,
				 self->nconns));
	self->rx_running = true;

	/* Pass 1: random, touched-zero and never-written pages. */
	ms_mem_fill_random(&self->mem, 0, NPAGES / 2, 11);
	memset(self->mem.p + NPAGES / 2 * PAGE, 0, NPAGES / 4 * PAGE);
	ms_bitmap_set(&self->bm, 0, NPAGES);
	t0 = now_ms();
	ASSERT_EQ(0, run_pass(self, 1, MIGSEND_PASS_SKIP_ZERO, &res))
		TH_LOG("receiver: %s", self->rx.errmsg);
	printf("# pass 1: %d connection(s), %lu MiB in %llu ms\n",
	       self->nconns, LEN / MB, (unsigned long long)(now_ms() - t0));
	EXPECT_EQ(0, memcmp(self->dst, self->mem.p, LEN));

	/* Pass 2: scattered changes, every page as data (holes as the zero
	 * page), so that the kernel's zero page goes through kTLS too.
	 */
	ms_bitmap_clear_all(&self->bm);
	for (i = 0; i < (int)NPAGES; i += 7) {
		ms_mem_fill_random(&self->mem, i, 1, 100 + i);
		ms_bitmap_set(&self->bm, i, 1);
	}
	ms_bitmap_set(&self->bm, NPAGES * 3 / 4, 64);	/* holes */
	ASSERT_EQ(0, run_pass(self, 2, 0, &res))
		TH_LOG("receiver: %s", self->rx.errmsg);
	EXPECT_EQ(0, memcmp(self->dst, self->mem.p, LEN));

	st.conns = (uintptr_t)cs;
	ASSERT_EQ(0, ioctl(self->dev, MIGSEND_IOC_GET_STATS, &st));
	for (i = 0; i < self->nconns; i++)
		EXPECT_EQ(MIGSEND_CONN_KTLS, cs[i].flags);
	EXPECT_EQ(2, st.pass);
	EXPECT_EQ(0, st.total.errors);
}

TEST_F(ktls, cancel_ends_a_blocked_ktls_pass_within_a_second)
{
	struct pollfd pfd = { .fd = self->dev, .events = POLLIN };
	struct migsend_pass_result res;
	uint64_t t0;

	/* Nobody reads: 16 MiB of random data fill the sockets. */
	ASSERT_EQ(0, add_all(self));
	ms_mem_fill_random(&self->mem, 0, NPAGES, 12);
	ms_bitmap_set(&self->bm, 0, NPAGES);
	ASSERT_EQ(0, ms_pass_start(self->dev, 1, &self->bm, 0, 0));
	usleep(500 * 1000);
	ASSERT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("the pass should block");
	t0 = now_ms();
	ASSERT_EQ(0, ioctl(self->dev, MIGSEND_IOC_PASS_CANCEL));
	EXPECT_EQ(1, poll(&pfd, 1, 2000));
	EXPECT_GT(1000, now_ms() - t0);
	ASSERT_EQ(0, ms_pass_wait(self->dev, &res));
	EXPECT_EQ(MIGSEND_STATE_CANCELLED, res.state);
}

TEST_F(ktls, the_wire_carries_tls_records_not_the_plain_stream)
{
	static const uint8_t magic[4] = { 0x4e, 0x52, 0x53, 0x4d };
	struct migsend_pass_result res;
	struct timeval tv = { .tv_usec = 500 * 1000 };
	uint8_t buf[65536];
	size_t got = 0;
	ssize_t n;
	int raw[1], peer[1], i;

	/* A connection whose receiver has no TLS_RX: it reads the wire. */
	ASSERT_EQ(0, ms_tcp_pairs(1, raw, peer));
	ASSERT_EQ(0, ktls_install(raw[0], 9, TLS_TX));
	ASSERT_EQ(0, add_ktls(self->dev, raw[0]));
	ms_mem_fill_random(&self->mem, 0, 8, 13);
	ms_bitmap_set(&self->bm, 0, 8);
	ASSERT_EQ(0, ms_pass_start(self->dev, 1, &self->bm, 0, 0));
	ASSERT_EQ(0, ms_pass_wait(self->dev, &res));
	ASSERT_EQ(MIGSEND_STATE_DONE, res.state);
	ASSERT_EQ(0, setsockopt(peer[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	while (got < sizeof(buf) &&
	       (n = recv(peer[0], buf + got, sizeof(buf) - got, 0)) > 0)
		got += n;
	/* 8 pages and two headers, plus TLS framing. */
	ASSERT_LT(8 * PAGE, got);
	/* TLS 1.3 records: application_data, legacy version 1.2. */
	EXPECT_EQ(0x17, buf[0]);
	EXPECT_EQ(0x03, buf[1]);
	EXPECT_EQ(0x03, buf[2]);
	for (i = 0; i + 4 <= (int)got; i++)
		if (!memcmp(buf + i, magic, 4))
			break;
	EXPECT_EQ((int)got - 3, i) TH_LOG("plain record magic at %d", i);
	EXPECT_EQ(NULL, memmem(buf, got, self->mem.p, 64));
	ms_close_fds(raw, 1);
	ms_close_fds(peer, 1);
}

TEST_F(ktls, a_socket_without_ktls_tx_is_refused)
{
	struct migsend_sock bad = { .fd = -1, .flags = 1U << 7 };
	int plain[1], plain_peer[1], ulp[1], ulp_peer[1];

	ASSERT_EQ(0, ms_tcp_pairs(1, plain, plain_peer));
	ASSERT_EQ(0, ms_tcp_pairs(1, ulp, ulp_peer));
	/* The ULP alone, no key; then a receive key only. */
	ASSERT_EQ(0, setsockopt(ulp[0], IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")));
	EXPECT_ERRNO(EPROTONOSUPPORT, add_ktls(self->dev, plain[0]));
	EXPECT_ERRNO(EPROTONOSUPPORT, add_ktls(self->dev, ulp[0]));
	ASSERT_EQ(0, ktls_install(ulp[0], 0, TLS_RX));
	EXPECT_ERRNO(EPROTONOSUPPORT, add_ktls(self->dev, ulp[0]));
	bad.fd = self->snd[0];
	EXPECT_ERRNO(EINVAL, ioctl(self->dev, MIGSEND_IOC_ADD_SOCK, &bad));

	/* An encrypted session takes no plain connection ... */
	ASSERT_EQ(0, add_ktls(self->dev, self->snd[0]));
	EXPECT_ERRNO(EINVAL, ms_add_sock(self->dev, plain[0]));
	/* ... and a plain one no encrypted connection. */
	close(self->dev);
	self->dev = ms_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ms_add_sock(self->dev, plain[0]));
	EXPECT_ERRNO(EINVAL, add_ktls(self->dev, self->snd[0]));
	/* A kTLS socket may go into a plain session, unchecked. */
	ASSERT_EQ(1, ms_add_sock(self->dev, self->snd[0]));

	ms_close_fds(plain, 1);
	ms_close_fds(plain_peer, 1);
	ms_close_fds(ulp, 1);
	ms_close_fds(ulp_peer, 1);
}

TEST_HARNESS_MAIN
