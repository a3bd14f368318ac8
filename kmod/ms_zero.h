/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Zero-page test.  Pure code: the module runs it on kmapped page-cache
 * pages, the host microbenchmark beside a plain read loop.
 */
#ifndef MS_ZERO_H
#define MS_ZERO_H

#include "ms_portable.h"

/*
 * True when the @len bytes at @p are all zero.  @p is 8-byte aligned and
 * @len a multiple of 64.  ORs one 64-byte cache line at a time so the
 * loop has few branches and stops early on the first non-zero line, which
 * for data pages is usually the first.
 */
static inline bool ms_mem_is_zero(const void *p, size_t len)
{
	const u64 *w = p;
	const u64 *end = w + len / sizeof(u64);

	for (; w < end; w += 8) {
		if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
			return false;
	}
	return true;
}

#endif /* MS_ZERO_H */
