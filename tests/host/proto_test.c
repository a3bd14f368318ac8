// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the control protocol's framing (userspace/proto.c):
 * headers, HELLO layouts, ABORT texts, tokens, and I/O over a socketpair.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "internal.h"

TEST(ctl_header_layout_and_roundtrip)
{
	struct migsend_ctl_hdr h;
	const unsigned char want[16] = {
		0x4d, 0x53, 0x43, 0x54, MIGSEND_CTL_ACK, 0, 1, 0,
		24, 0, 0, 0, 0, 0, 0, 0,
	};
	uint16_t type;
	uint32_t len;

	EXPECT_EQ(16, sizeof(h));
	EXPECT_EQ(56, sizeof(struct migsend_ctl_hello));
	EXPECT_EQ(40, sizeof(struct migsend_ctl_join));
	EXPECT_EQ(24, sizeof(struct migsend_ctl_ack));
	EXPECT_EQ(8, sizeof(struct migsend_ctl_welcome));
	ms_ctl_hdr_encode(&h, MIGSEND_CTL_ACK, 24);
	EXPECT_EQ(0, memcmp(&h, want, sizeof(want)));
	ASSERT_EQ(0, ms_ctl_hdr_decode(&h, &type, &len));
	EXPECT_EQ(MIGSEND_CTL_ACK, type);
	EXPECT_EQ(24, len);
}

TEST(ctl_header_rejects_bad_fields)
{
	struct migsend_ctl_hdr h;
	uint16_t type;
	uint32_t len;

	ms_ctl_hdr_encode(&h, MIGSEND_CTL_ACK, 0);
	h.magic ^= 1;
	EXPECT_EQ(-EPROTO, ms_ctl_hdr_decode(&h, &type, &len));
	ms_ctl_hdr_encode(&h, MIGSEND_CTL_ACK, 0);
	h.version = htole16(2);
	EXPECT_EQ(-EPROTO, ms_ctl_hdr_decode(&h, &type, &len));
	ms_ctl_hdr_encode(&h, MIGSEND_CTL_ACK, 0);
	h.reserved = 1;
	EXPECT_EQ(-EPROTO, ms_ctl_hdr_decode(&h, &type, &len));
	ms_ctl_hdr_encode(&h, 0, 0);
	EXPECT_EQ(-EPROTO, ms_ctl_hdr_decode(&h, &type, &len));
	ms_ctl_hdr_encode(&h, MIGSEND_CTL_RUNNING + 1, 0);
	EXPECT_EQ(-EPROTO, ms_ctl_hdr_decode(&h, &type, &len));
	/* The last type a sender reads: the QEMU handover's RUNNING. */
	ms_ctl_hdr_encode(&h, MIGSEND_CTL_RUNNING, 8);
	EXPECT_EQ(0, ms_ctl_hdr_decode(&h, &type, &len));
	EXPECT_EQ(MIGSEND_CTL_RUNNING, type);
	ms_ctl_hdr_encode(&h, MIGSEND_CTL_STATE, MIGSEND_CTL_MAX_PAYLOAD + 1);
	EXPECT_EQ(-EPROTO, ms_ctl_hdr_decode(&h, &type, &len));
}

TEST(hello_roundtrip_and_layout_checks)
{
	struct migsend_layout_region r[3] = {
		{ 0, 1 << 20 }, { 4 << 20, 8 << 20 }, { 1ULL << 32, 4096 },
	};
	uint8_t token[MIGSEND_TOKEN_LEN], buf[512];
	static struct migsend_hello out;
	int len;

	memset(token, 0x42, sizeof(token));
	len = ms_hello_encode(buf, sizeof(buf), token, 4, r, 3);
	ASSERT_EQ(56 + 3 * 16, len);
	ASSERT_EQ(0, ms_hello_decode(buf, len, &out));
	EXPECT_EQ(4, out.nconns);
	EXPECT_EQ(3, out.nregions);
	EXPECT_EQ((1 << 20) + (8 << 20) + 4096, out.total_bytes);
	EXPECT_EQ(1ULL << 32, out.regions[2].gpa);
	EXPECT_TRUE(ms_token_equal(token, out.token));

	/* Truncated, or a total that does not add up. */
	EXPECT_EQ(-EPROTO, ms_hello_decode(buf, len - 1, &out));
	((struct migsend_ctl_hello *)buf)->total_bytes ^= htole64(1);
	EXPECT_EQ(-EPROTO, ms_hello_decode(buf, len, &out));

	/* Overlapping, unsorted, unaligned, empty, wrapping layouts. */
	r[1].gpa = 512 << 10;
	EXPECT_EQ(-EINVAL, ms_hello_encode(buf, sizeof(buf), token, 4, r, 3));
	r[1].gpa = 4 << 20;
	r[2].gpa = 0;
	EXPECT_EQ(-EINVAL, ms_hello_encode(buf, sizeof(buf), token, 4, r, 3));
	r[2].gpa = (1ULL << 32) + 1;
	EXPECT_EQ(-EINVAL, ms_hello_encode(buf, sizeof(buf), token, 4, r, 3));
	r[2].gpa = 1ULL << 32;
	r[2].len = 0;
	EXPECT_EQ(-EINVAL, ms_hello_encode(buf, sizeof(buf), token, 4, r, 3));
	r[2].gpa = ~0ULL & ~4095ULL;
	r[2].len = 8192;
	EXPECT_EQ(-EINVAL, ms_hello_encode(buf, sizeof(buf), token, 4, r, 3));
	EXPECT_EQ(-EINVAL, ms_hello_encode(buf, sizeof(buf), token, 4, r, 0));
}

TEST(hello_decode_rejects_wrong_versions_and_counts)
{
	struct migsend_layout_region r = { 0, 4096 };
	uint8_t token[MIGSEND_TOKEN_LEN] = { 0 }, buf[128];
	struct migsend_ctl_hello *h = (void *)buf;
	static struct migsend_hello out;
	int len = ms_hello_encode(buf, sizeof(buf), token, 1, &r, 1);

	h->page_size = htole32(2 << 20);
	EXPECT_EQ(-EPROTO, ms_hello_decode(buf, len, &out));
	ms_hello_encode(buf, sizeof(buf), token, 1, &r, 1);
	h->wire_version = htole32(9);
	EXPECT_EQ(-EPROTO, ms_hello_decode(buf, len, &out));
	ms_hello_encode(buf, sizeof(buf), token, 0, &r, 1);
	EXPECT_EQ(-EPROTO, ms_hello_decode(buf, len, &out));
	ms_hello_encode(buf, sizeof(buf), token, MIGSEND_MAX_CONNS + 1, &r, 1);
	EXPECT_EQ(-EPROTO, ms_hello_decode(buf, len, &out));
}

TEST(welcome_features_empty_full_and_extended)
{
	uint8_t buf[16] = { 0 };
	uint64_t f = 99;

	/* An older receiver's WELCOME: no payload, no feature. */
	EXPECT_EQ(0, ms_welcome_decode(buf, 0, &f));
	EXPECT_EQ(0, f);
	buf[0] = MIGSEND_CTL_F_SPARSE;
	buf[7] = 0x80;			/* a feature of a later version */
	EXPECT_EQ(0, ms_welcome_decode(buf, 8, &f));
	EXPECT_EQ(MIGSEND_CTL_F_SPARSE | 1ULL << 63, f);
	/* A later version's longer WELCOME: its start is read. */
	EXPECT_EQ(0, ms_welcome_decode(buf, 16, &f));
	EXPECT_EQ(MIGSEND_CTL_F_SPARSE | 1ULL << 63, f);
	EXPECT_EQ(-EPROTO, ms_welcome_decode(buf, 7, &f));
}

TEST(abort_text_is_bounded_and_printable)
{
	static const char text[] = "bad\ttoken\x1b[2J and more text that is long";
	uint8_t buf[8 + MIGSEND_REASON_MAX];
	struct migsend_ctl_abort *a = (void *)buf;
	char reason[32];

	a->error = htole32(EACCES);
	a->reserved = 0;
	memcpy(a + 1, text, sizeof(text) - 1);
	EXPECT_EQ(EACCES, ms_ctl_abort_decode(buf, 8 + sizeof(text) - 1, reason,
					      sizeof(reason)));
	EXPECT_EQ(31, strlen(reason));
	EXPECT_EQ(NULL, strchr(reason, '\x1b'));
	EXPECT_EQ(-EPROTO, ms_ctl_abort_decode(buf, 4, reason, sizeof(reason)));
	EXPECT_EQ(-EPROTO, ms_ctl_abort_decode(buf, 8 + MIGSEND_REASON_MAX + 1,
					       reason, sizeof(reason)));
}

TEST(messages_over_a_socketpair)
{
	uint8_t buf[64];
	uint16_t type;
	uint32_t len;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, ms_ctl_send(sv[0], MIGSEND_CTL_STATE, "hello", 5));
	ASSERT_EQ(0, ms_ctl_recv(sv[1], &type, buf, sizeof(buf), &len));
	EXPECT_EQ(MIGSEND_CTL_STATE, type);
	EXPECT_EQ(5, len);
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	/* Larger than the caller's buffer. */
	ASSERT_EQ(0, ms_ctl_send(sv[0], MIGSEND_CTL_STATE, buf, 64));
	EXPECT_EQ(-EMSGSIZE, ms_ctl_recv(sv[1], &type, buf, 8, &len));
	close(sv[0]);
	/* End of stream inside a message. */
	EXPECT_NE(0, ms_ctl_recv(sv[1], &type, buf, sizeof(buf), &len));
	close(sv[1]);
}

TEST(tokens_compare_whole)
{
	uint8_t a[MIGSEND_TOKEN_LEN] = { 0 }, b[MIGSEND_TOKEN_LEN] = { 0 };

	EXPECT_TRUE(ms_token_equal(a, b));
	b[MIGSEND_TOKEN_LEN - 1] = 1;
	EXPECT_FALSE(ms_token_equal(a, b));
}

TEST_HARNESS_MAIN
