// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the bitmap walker (kmod/ms_walk.h), against a naive
 * bit-by-bit reference on hand-made and random bitmaps.
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "ms_walk.h"

static bool bit(const u64 *w, u64 i)
{
	return w[i / 64] >> (i % 64) & 1;
}

static u64 naive_next(const u64 *w, u64 from, u64 end, bool set)
{
	while (from < end && bit(w, from) != set)
		from++;
	return from;
}

static void fill_random(u64 *w, size_t nwords, unsigned int seed, int density)
{
	size_t i;
	int b;

	srand(seed);
	for (i = 0; i < nwords; i++) {
		w[i] = 0;
		for (b = 0; b < 64; b++)
			if (rand() % 100 < density)
				w[i] |= 1ULL << b;
	}
}

TEST(next_set_and_clear_match_naive)
{
	u64 w[32];
	int density, seed;
	u64 from, end;

	for (density = 0; density <= 100; density += 5) {
		for (seed = 1; seed <= 4; seed++) {
			fill_random(w, 32, seed * 101 + density, density);
			for (from = 0; from < 32 * 64; from += 7) {
				end = 32 * 64 - (from % 13);
				ASSERT_EQ(naive_next(w, from, end, true),
					  ms_next_set(w, from, end));
				ASSERT_EQ(naive_next(w, from, end, false),
					  ms_next_clear(w, from, end));
			}
		}
	}
}

TEST(empty_bitmap_has_no_run)
{
	u64 w[4] = { 0 }, s, e;

	EXPECT_FALSE(ms_next_run(w, 0, 256, &s, &e));
	EXPECT_EQ(256, ms_next_set(w, 0, 256));
}

TEST(end_not_on_word_boundary_is_respected)
{
	u64 w[2] = { 0, ~0ULL }, s, e;

	/* Bits 64.. are set, but the range ends at 70. */
	ASSERT_TRUE(ms_next_run(w, 0, 70, &s, &e));
	EXPECT_EQ(64, s);
	EXPECT_EQ(70, e);
	EXPECT_FALSE(ms_next_run(w, 70, 70, &s, &e));
}

TEST(runs_cover_exactly_the_set_bits)
{
	u64 w[64], covered[64], s, e, pos = 0;
	int seed;

	for (seed = 0; seed < 20; seed++) {
		fill_random(w, 64, seed, seed * 5);
		memset(covered, 0, sizeof(covered));
		pos = 0;
		while (ms_next_run(w, pos, 64 * 64, &s, &e)) {
			ASSERT_LT(s, e);
			for (pos = s; pos < e; pos++)
				covered[pos / 64] |= 1ULL << (pos % 64);
			/* A run is maximal: the bit after it is clear. */
			if (e < 64 * 64)
				ASSERT_FALSE(bit(w, e));
		}
		ASSERT_EQ(0, memcmp(w, covered, sizeof(w)));
	}
}

static u64 naive_count(const u64 *w, u64 from, u64 end)
{
	u64 n = 0;

	for (; from < end; from++)
		n += bit(w, from);
	return n;
}

TEST(spans_partition_dirty_bits_within_limits)
{
	static u64 w[512];
	struct ms_span sp;
	u64 max_dirty, max_len, pos, total;
	int seed, density;

	for (seed = 0; seed < 6; seed++) {
		for (density = 1; density <= 100; density += 33) {
			fill_random(w, 512, seed * 7 + density, density);
			for (max_dirty = 1; max_dirty <= 300; max_dirty += 99) {
				for (max_len = 64; max_len <= 8192; max_len *= 4) {
					pos = 0;
					total = 0;
					while (ms_next_span(w, pos, 512 * 64, max_dirty,
							    max_len, &sp)) {
						ASSERT_TRUE(bit(w, sp.start));
						ASSERT_TRUE(bit(w, sp.end - 1));
						ASSERT_EQ(naive_next(w, pos, 512 * 64, true),
							  sp.start);
						ASSERT_LE(sp.end - sp.start, max_len);
						ASSERT_LE(sp.dirty, max_dirty);
						ASSERT_LT(0, sp.dirty);
						ASSERT_EQ(naive_count(w, sp.start, sp.end),
							  sp.dirty);
						total += sp.dirty;
						pos = sp.end;
					}
					ASSERT_EQ(naive_count(w, 0, 512 * 64), total);
				}
			}
		}
	}
}

TEST(span_of_full_words_stops_at_max_dirty)
{
	u64 w[8];
	struct ms_span sp;

	memset(w, 0xff, sizeof(w));
	ASSERT_TRUE(ms_next_span(w, 3, 512, 100, 4096, &sp));
	EXPECT_EQ(3, sp.start);
	EXPECT_EQ(103, sp.end);
	EXPECT_EQ(100, sp.dirty);
}

TEST_HARNESS_MAIN
