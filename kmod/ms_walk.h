/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty-bitmap walking, a 64-bit word at a time.  Pure code: no kernel
 * services, compiled in the module and natively for the host tests.
 *
 * The words are in CPU byte order here (the caller converts from the
 * little-endian bitmap).  Bit i of the bitmap is bit (i % 64) of word
 * (i / 64).  Empty words cost one load and one compare; clean pages are
 * never visited one by one.
 */
#ifndef MS_WALK_H
#define MS_WALK_H

#include "ms_portable.h"

#define MS_BITS_PER_WORD	64

/* Bits [from, 64) of a word. */
static inline u64 ms_mask_from(u64 from)
{
	return ~0ULL << (from % MS_BITS_PER_WORD);
}

/*
 * The first set bit at or after @from and below @end, or @end when there
 * is none.  @end must not exceed the number of bits in @w.  Empty words
 * are skipped four at a time: one OR and one branch per 256 clean pages.
 */
static inline u64 ms_next_set(const u64 *w, u64 from, u64 end)
{
	u64 i, nwords, word;

	if (from >= end)
		return end;
	i = from / MS_BITS_PER_WORD;
	nwords = (end + MS_BITS_PER_WORD - 1) / MS_BITS_PER_WORD;
	word = w[i] & ms_mask_from(from);
	if (!word) {
		for (i++; i + 4 <= nwords; i += 4)
			if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
				break;
		for (; i < nwords && !(word = w[i]); i++)
			;
		if (i >= nwords)
			return end;
	}
	from = i * MS_BITS_PER_WORD + ms_ctz64(word);
	return from < end ? from : end;
}

/* The first clear bit at or after @from and below @end, or @end. */
static inline u64 ms_next_clear(const u64 *w, u64 from, u64 end)
{
	u64 i, nwords, word;

	if (from >= end)
		return end;
	i = from / MS_BITS_PER_WORD;
	nwords = (end + MS_BITS_PER_WORD - 1) / MS_BITS_PER_WORD;
	word = ~w[i] & ms_mask_from(from);
	if (!word) {
		for (i++; i + 4 <= nwords; i += 4)
			if (~(w[i] & w[i + 1] & w[i + 2] & w[i + 3]))
				break;
		for (; i < nwords && !(word = ~w[i]); i++)
			;
		if (i >= nwords)
			return end;
	}
	from = i * MS_BITS_PER_WORD + ms_ctz64(word);
	return from < end ? from : end;
}

/*
 * Find the next run of set bits [*start, *stop) at or after @from, below
 * @end.  Returns false when there is none.
 */
static inline bool ms_next_run(const u64 *w, u64 from, u64 end,
			       u64 *start, u64 *stop)
{
	u64 s = ms_next_set(w, from, end);

	if (s >= end)
		return false;
	*start = s;
	*stop = ms_next_clear(w, s, end);
	return true;
}

/* A piece of work: bits [start, end), holding @dirty set bits. */
struct ms_span {
	u64 start;
	u64 end;
	u64 dirty;
};

/* Position just after the @n-th (1-based) set bit of @word. */
static inline u64 ms_after_nth_set(u64 word, u64 n)
{
	while (--n)
		word &= word - 1;
	return ms_ctz64(word) + 1;
}

/*
 * Cut the next span of work out of bits [from, end): it starts at the
 * first set bit, is at most @max_len bits long and holds at most
 * @max_dirty set bits; it ends just after its last set bit.  Returns
 * false when no bit is set in [from, end).
 */
static inline bool ms_next_span(const u64 *w, u64 from, u64 end,
				u64 max_dirty, u64 max_len, struct ms_span *s)
{
	u64 start = ms_next_set(w, from, end);
	u64 limit, pos, dirty = 0, last = start;

	if (start >= end)
		return false;
	limit = end - start > max_len ? start + max_len : end;
	pos = start;
	while (pos < limit && dirty < max_dirty) {
		u64 base = pos / MS_BITS_PER_WORD * MS_BITS_PER_WORD;
		u64 word = w[pos / MS_BITS_PER_WORD] & ms_mask_from(pos);
		u64 n;

		if (limit - base < MS_BITS_PER_WORD)
			word &= ~ms_mask_from(limit);
		n = ms_popcount64(word);
		if (n && dirty + n <= max_dirty) {
			last = base + ms_fls64(word);
			dirty += n;
		} else if (n) {
			last = base + ms_after_nth_set(word, max_dirty - dirty);
			dirty = max_dirty;
		}
		pos = base + MS_BITS_PER_WORD;
	}
	s->start = start;
	s->end = last;
	s->dirty = dirty;
	return true;
}

#endif /* MS_WALK_H */
