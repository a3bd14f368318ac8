// SPDX-License-Identifier: GPL-2.0
/*
 * The measured code, built like the kernel builds it: general-purpose
 * registers only (-mgeneral-regs-only), so no SIMD sneaks in here that the
 * module would not have.
 */
#include "microbench.h"
#include "ms_walk.h"
#include "ms_zero.h"

uint64_t mb_read_loop(const void *p, size_t len)
{
	const uint64_t *w = p, *end = w + len / sizeof(*w);
	uint64_t acc = 0;

	for (; w < end; w += 8)
		acc += w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
	return acc;
}

uint64_t mb_zero_scan(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t zero = 0;
	size_t off;

	for (off = 0; off < len; off += 4096)
		zero += ms_mem_is_zero(b + off, 4096);
	return zero;
}

uint64_t mb_walk(const uint64_t *bm, uint64_t nbits)
{
	u64 pos = 0, s, e, dirty = 0;

	while (ms_next_run((const u64 *)bm, pos, nbits, &s, &e)) {
		dirty += e - s;
		pos = e;
	}
	return dirty;
}
