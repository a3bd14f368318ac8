// SPDX-License-Identifier: GPL-2.0
/*
 * The receiver's buffered record reader (userspace/rxbuf.c) over a real
 * socketpair: a writer thread sends a known byte stream in chunks of
 * random size; the reader asks for it in pieces shaped like records
 * (32-byte headers, payloads of one page or many, tiny END payloads, a
 * SPARSE record's pages scattered over memory) and must get every byte in
 * order, whatever the chunking.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "internal.h"

#define STREAM_LEN	(8u << 20)

struct writer {
	int fd;
	unsigned int seed;
	size_t max_chunk;
	size_t len;		/* bytes to send, then close */
};

static uint8_t stream_byte(size_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	static uint8_t buf[1 << 20];
	size_t sent = 0, i;

	while (sent < w->len) {
		size_t n = 1 + rand_r(&w->seed) % w->max_chunk;

		if (n > w->len - sent)
			n = w->len - sent;
		for (i = 0; i < n; i++)
			buf[i] = stream_byte(sent + i);
		if (ms_write_full(w->fd, buf, n))
			break;
		sent += n;
	}
	close(w->fd);
	return NULL;
}

/* A length a record reader would ask for next. */
static size_t record_piece(unsigned int *seed)
{
	switch (rand_r(seed) % 6) {
	case 0: return 32 + 32;			/* END header and payload */
	case 1: return 4096 * (1 + rand_r(seed) % 64);	/* a DATA payload */
	case 2: return 4096;
	case 3: return 1 + rand_r(seed) % 2048;	/* around the threshold */
	default: return 32;			/* a header */
	}
}

static void swap_pages(uint8_t *a, uint8_t *b)
{
	uint8_t t[4096];

	memcpy(t, a, sizeof(t));
	memcpy(a, b, sizeof(t));
	memcpy(b, t, sizeof(t));
}

static void read_stream(struct __test_metadata *_metadata, size_t max_chunk)
{
	static uint8_t got[64 * 4096];
	struct writer w = { .seed = 7, .max_chunk = max_chunk, .len = STREAM_LEN };
	unsigned int seed = 11;
	struct ms_rxbuf b;
	size_t off = 0, i;
	pthread_t t;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	w.fd = sv[1];
	ASSERT_EQ(0, ms_rxbuf_init(&b, sv[0]));
	ASSERT_EQ(0, pthread_create(&t, NULL, writer_thread, &w));
	while (off < STREAM_LEN) {
		size_t n = record_piece(&seed);

		if (n > STREAM_LEN - off)
			n = STREAM_LEN - off;
		if (n % 4096 || rand_r(&seed) % 2) {
			ASSERT_EQ(0, ms_rxbuf_read(&b, got, n));
		} else {
			/* A SPARSE record's pages: scattered, here in reverse. */
			struct iovec iov[MS_RXBUF_MAX_IOV];
			unsigned int k = n / 4096, j;

			for (j = 0; j < k; j++)
				iov[j] = (struct iovec){ got + (k - 1 - j) * 4096, 4096 };
			ASSERT_EQ(0, ms_rxbuf_readv(&b, iov, k));
			for (j = 0; j < k / 2; j++)
				swap_pages(got + j * 4096, got + (k - 1 - j) * 4096);
		}
		for (i = 0; i < n; i++)
			if (got[i] != stream_byte(off + i))
				break;
		ASSERT_EQ(n, i) TH_LOG("byte %zu of the stream is wrong", off + i);
		off += n;
	}
	/* The writer has closed: the next read is the end of the stream. */
	EXPECT_EQ(-ECONNRESET, ms_rxbuf_read(&b, got, 32));
	pthread_join(t, NULL);
	ms_rxbuf_free(&b);
	close(sv[0]);
}

TEST(bytes_arrive_in_order_in_tiny_chunks)
{
	read_stream(_metadata, 7);
}

TEST(bytes_arrive_in_order_in_page_sized_chunks)
{
	read_stream(_metadata, 5000);
}

TEST(bytes_arrive_in_order_in_large_chunks)
{
	read_stream(_metadata, 1 << 20);
}

TEST(end_of_stream_inside_a_read_is_a_reset)
{
	uint8_t buf[8192];
	struct ms_rxbuf b;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, ms_rxbuf_init(&b, sv[0]));
	ASSERT_EQ(0, ms_write_full(sv[1], buf, 100));
	close(sv[1]);
	EXPECT_EQ(0, ms_rxbuf_read(&b, buf, 32));
	/* 68 bytes are left: a header and a page cannot both come. */
	EXPECT_EQ(-ECONNRESET, ms_rxbuf_read(&b, buf, 4096));
	ms_rxbuf_free(&b);
	close(sv[0]);
}

TEST(a_read_timeout_is_reported)
{
	struct timeval tv = { .tv_usec = 50000 };
	uint8_t buf[64];
	struct ms_rxbuf b;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	ASSERT_EQ(0, ms_rxbuf_init(&b, sv[0]));
	EXPECT_EQ(-EAGAIN, ms_rxbuf_read(&b, buf, 32));
	ms_rxbuf_free(&b);
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
