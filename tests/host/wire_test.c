// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of record framing (kmod/ms_wire.h) and of the uapi
 * layout: sizes, offsets, byte order on the wire.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "ms_range.h"
#include "ms_wire.h"
#include "ms_zero.h"

TEST(uapi_layout_has_no_implicit_padding)
{
	EXPECT_EQ(32, sizeof(struct migsend_wire_hdr));
	EXPECT_EQ(32, sizeof(struct migsend_wire_end));
	EXPECT_EQ(8, sizeof(struct migsend_wire_sparse));
	EXPECT_EQ(24, offsetof(struct migsend_wire_hdr, pass));
	EXPECT_EQ(32, sizeof(struct migsend_version));
	EXPECT_EQ(32, sizeof(struct migsend_region));
	EXPECT_EQ(8, sizeof(struct migsend_sock));
	EXPECT_EQ(40, sizeof(struct migsend_pass));
	EXPECT_EQ(24, sizeof(struct migsend_pass_result));
	EXPECT_EQ(64, sizeof(struct migsend_counters));
	EXPECT_EQ(40, sizeof(struct migsend_conn_stats));
	EXPECT_EQ(40 + 2 * 64, sizeof(struct migsend_stats));
}

TEST(header_bytes_are_little_endian_and_complete)
{
	struct migsend_wire_hdr h;
	const unsigned char want[32] = {
		0x4e, 0x52, 0x53, 0x4d, 1, MIGSEND_REC_DATA, 0, 0,
		0x00, 0x20, 0, 0, 2, 0, 0, 0,
		0x00, 0x30, 0x02, 0x01, 0, 0, 0, 0,
		7, 0, 0, 0, 0, 0, 0, 0,
	};

	memset(&h, 0xa5, sizeof(h));
	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0x1023000, 2, 8192, 7);
	EXPECT_EQ(0, memcmp(&h, want, sizeof(want)));
}

TEST(decode_roundtrip)
{
	struct migsend_wire_hdr h;
	struct ms_rec r;

	ms_wire_hdr_encode(&h, MIGSEND_REC_ZERO, 1ULL << 40, 123456, 0, 99);
	ASSERT_EQ(0, ms_wire_hdr_decode(&h, &r));
	EXPECT_EQ(MIGSEND_REC_ZERO, r.type);
	EXPECT_EQ(1ULL << 40, r.gpa);
	EXPECT_EQ(123456, r.npages);
	EXPECT_EQ(99, r.pass);

	ms_wire_hdr_encode(&h, MIGSEND_REC_END, 0, 0,
			   sizeof(struct migsend_wire_end), 3);
	ASSERT_EQ(0, ms_wire_hdr_decode(&h, &r));
	EXPECT_EQ(MIGSEND_REC_END, r.type);
}

TEST(decode_rejects_malformed_headers)
{
	struct migsend_wire_hdr h;
	struct ms_rec r;

	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0, 1, 4096, 1);
	ASSERT_EQ(0, ms_wire_hdr_decode(&h, &r));

	h.magic ^= 1;
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0, 1, 4096, 1);
	h.version = 2;
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0, 1, 4096, 1);
	h.flags = htole16(MIGSEND_REC_F_ACK);
	EXPECT_EQ(0, ms_wire_hdr_decode(&h, &r));
	EXPECT_EQ(MIGSEND_REC_F_ACK, r.flags);
	h.flags = htole16(2);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	/* Unknown type, length not matching the page count, too many pages. */
	ms_wire_hdr_encode(&h, 9, 0, 1, 4096, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0, 2, 4096, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0, MIGSEND_MAX_DATA_PAGES + 1,
			   (MIGSEND_MAX_DATA_PAGES + 1) * 4096, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0, 0, 0, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	/* Zero run with payload, unaligned gpa, wrap-around. */
	ms_wire_hdr_encode(&h, MIGSEND_REC_ZERO, 0, 1, 4096, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_ZERO, 100, 1, 0, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_ZERO, ~0ULL & ~4095ULL, 2, 0, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	/* END with the wrong payload length or an address. */
	ms_wire_hdr_encode(&h, MIGSEND_REC_END, 0, 0, 8, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
	ms_wire_hdr_encode(&h, MIGSEND_REC_END, 4096, 0, 32, 1);
	EXPECT_EQ(-EBADMSG, ms_wire_hdr_decode(&h, &r));
}

/* A SPARSE record's header and mask, decoded. */
static int sparse_decode(u32 npages, u32 payload_len, u64 mask, struct ms_rec *r)
{
	struct migsend_wire_sparse sp;
	struct migsend_wire_hdr h;
	int err;

	ms_wire_hdr_encode(&h, MIGSEND_REC_SPARSE, 0x10000, npages, payload_len, 1);
	err = ms_wire_hdr_decode(&h, r);
	if (err)
		return err;
	ms_wire_sparse_encode(&sp, mask);
	return ms_wire_sparse_decode(&sp, r);
}

TEST(sparse_records_carry_exactly_their_data_pages)
{
	struct ms_rec r;

	ASSERT_EQ(0, sparse_decode(3, 8 + 2 * 4096, 0x2, &r));
	EXPECT_EQ(MIGSEND_REC_SPARSE, r.type);
	EXPECT_EQ(0x2, r.zero_mask);
	EXPECT_EQ(2, ms_rec_data_pages(&r));
	/* Every page zero, a mask with no bit, 64 pages: all well-formed. */
	EXPECT_EQ(0, sparse_decode(5, 8, 0x1f, &r));
	EXPECT_EQ(0, ms_rec_data_pages(&r));
	EXPECT_EQ(0, sparse_decode(2, 8 + 2 * 4096, 0, &r));
	EXPECT_EQ(0, sparse_decode(64, 8, ~0ULL, &r));
	EXPECT_EQ(0, sparse_decode(64, 8 + 4096, ~0ULL << 1, &r));
	EXPECT_EQ(1, ms_rec_data_pages(&r));
	/* The header alone: no room for the mask, more data than pages,
	 * half a page, no page, too many pages.
	 */
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 0, 0x7, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 4, 0x7, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 8 + 4 * 4096, 0, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 8 + 2048, 0x3, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(0, 8, 0, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(65, 8, 0, &r));
	/* The mask: a bit past npages, more or fewer zero pages than the
	 * payload leaves room for.
	 */
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 8 + 2 * 4096, 0x8, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 8 + 4096, 0x8 | 0x1, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 8 + 2 * 4096, 0x3, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(3, 8 + 2 * 4096, 0, &r));
	EXPECT_EQ(-EBADMSG, sparse_decode(63, 8, ~0ULL, &r));
}

/* A SPARSE record's runs, against a page-by-page reading of its mask. */
TEST(sparse_runs_cover_the_record_bit_by_bit)
{
	static const u64 masks[] = { 0, ~0ULL, 0x2, 0x5555555555555555ULL, 1ULL << 63,
				     0x00ff00000000ff01ULL, ~0ULL >> 1 };
	struct ms_rec r = { .type = MIGSEND_REC_SPARSE };
	unsigned int m, n, i, j, run;
	bool zero;

	for (m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		for (n = 1; n <= 64; n += 7) {
			r.npages = n == 64 ? 64 : n;
			r.zero_mask = n < 64 ? masks[m] & ((1ULL << n) - 1) : masks[m];
			for (i = 0; i < r.npages; i += run) {
				run = ms_sparse_run(&r, i, &zero);
				ASSERT_LT(0, run);
				ASSERT_GE(r.npages - i, run);
				for (j = i; j < i + run; j++)
					ASSERT_EQ(zero, (r.zero_mask >> j) & 1);
				if (i + run < r.npages)
					ASSERT_NE(zero, (r.zero_mask >> (i + run)) & 1);
			}
		}
	}
}

/* The worked example of docs/PROTOCOL.md, byte for byte. */
TEST(protocol_doc_example)
{
	static const unsigned char data_hdr[32] = {
		0x4e, 0x52, 0x53, 0x4d, 0x01, 0x01, 0x00, 0x00,
		0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const unsigned char zero_hdr[32] = {
		0x4e, 0x52, 0x53, 0x4d, 0x01, 0x02, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const unsigned char end[64] = {
		0x4e, 0x52, 0x53, 0x4d, 0x01, 0x03, 0x00, 0x00,
		0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x40, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct {
		struct migsend_wire_hdr h;
		struct migsend_wire_end e;
	} e;
	struct migsend_wire_hdr h;

	ms_wire_hdr_encode(&h, MIGSEND_REC_DATA, 0x1000, 1, 4096, 3);
	EXPECT_EQ(0, memcmp(&h, data_hdr, 32));
	ms_wire_hdr_encode(&h, MIGSEND_REC_ZERO, 0x2000, 3, 0, 3);
	EXPECT_EQ(0, memcmp(&h, zero_hdr, 32));
	ms_wire_hdr_encode(&e.h, MIGSEND_REC_END, 0, 0, sizeof(e.e), 3);
	ms_wire_end_encode(&e.e, 2, 32 + 4096 + 32, 1, 3);
	EXPECT_EQ(0, memcmp(&e, end, 64));
}

/* The SPARSE example of docs/PROTOCOL.md: pages 5 and 7 data, 6 zero. */
TEST(protocol_doc_sparse_example)
{
	static const unsigned char sparse[40] = {
		0x4e, 0x52, 0x53, 0x4d, 0x01, 0x04, 0x00, 0x00,
		0x08, 0x20, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct {
		struct migsend_wire_hdr h;
		struct migsend_wire_sparse sp;
	} b;

	ms_wire_hdr_encode(&b.h, MIGSEND_REC_SPARSE, 0x5000, 3,
			   ms_wire_sparse_len(3, 1), 3);
	ms_wire_sparse_encode(&b.sp, 0x2);
	EXPECT_EQ(0, memcmp(&b, sparse, 40));
}

TEST(zero_scan_finds_any_nonzero_byte)
{
	static u64 page[512];
	unsigned char *b = (unsigned char *)page;
	int i;

	memset(page, 0, sizeof(page));
	EXPECT_TRUE(ms_mem_is_zero(page, sizeof(page)));
	for (i = 0; i < 4096; i += 97) {
		b[i] = 0x80;
		EXPECT_FALSE(ms_mem_is_zero(page, sizeof(page)));
		b[i] = 0;
	}
	b[4095] = 1;
	EXPECT_FALSE(ms_mem_is_zero(page, sizeof(page)));
}

struct range { u64 gpa, len; };

static int range_cmp(const void *key, const void *elt)
{
	const struct range *r = elt;

	return ms_gpa_cmp(*(const u64 *)key, r->gpa, r->len);
}

/* Sorted regions with a gap, one ending at the top of the address space. */
TEST(region_lookup_finds_the_holder_or_nothing)
{
	static const struct range r[] = {
		{ 0, 1 << 20 }, { 1 << 20, 4096 }, { 1ULL << 32, 1ULL << 30 },
		{ ~0ULL - 8191, 8192 },
	};
	static const struct { u64 gpa; int want; } probe[] = {
		{ 0, 0 }, { (1 << 20) - 1, 0 }, { 1 << 20, 1 }, { (1 << 20) + 4095, 1 },
		{ (1 << 20) + 4096, -1 }, { (1ULL << 32) - 1, -1 }, { 1ULL << 32, 2 },
		{ (1ULL << 32) + (1ULL << 30) - 1, 2 }, { (1ULL << 32) + (1ULL << 30), -1 },
		{ ~0ULL - 8192, -1 }, { ~0ULL - 8191, 3 }, { ~0ULL, 3 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
		const struct range *got = bsearch(&probe[i].gpa, r, 4, sizeof(r[0]), range_cmp);

		EXPECT_EQ(probe[i].want, got ? (int)(got - r) : -1)
			TH_LOG("gpa %#llx", (unsigned long long)probe[i].gpa);
	}
	EXPECT_EQ(NULL, bsearch(&probe[0].gpa, r, 0, sizeof(r[0]), range_cmp));
}

TEST_HARNESS_MAIN
