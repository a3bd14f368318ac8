/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest-physical ranges.  Regions are kept sorted by address without
 * overlap, so the one holding an address is found with the library's
 * bsearch() (the kernel's lib/bsearch.c, libc's in userspace) and this
 * comparison.  Pure code: the host tests check it.
 */
#ifndef MS_RANGE_H
#define MS_RANGE_H

#include "ms_portable.h"

/* Where @gpa lies against [@start, @start + @len): -1 before, 0 in, 1 past. */
static inline int ms_gpa_cmp(u64 gpa, u64 start, u64 len)
{
	if (gpa < start)
		return -1;
	return gpa - start >= len ? 1 : 0;
}

#endif /* MS_RANGE_H */
