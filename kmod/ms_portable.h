/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few definitions that let the pure parts of migsend (bitmap walking,
 * wire framing, zero-page scan) compile both in the kernel and natively
 * in userspace, where the host unit tests and microbenchmarks run them.
 */
#ifndef MS_PORTABLE_H
#define MS_PORTABLE_H

#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/types.h>
#include <asm/byteorder.h>

#define ms_ctz64(x)		__ffs64(x)
#define ms_popcount64(x)	hweight64(x)
#define ms_fls64(x)		fls64(x)
#else
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define cpu_to_le16(x)		htole16(x)
#define cpu_to_le32(x)		htole32(x)
#define cpu_to_le64(x)		htole64(x)
#define le16_to_cpu(x)		le16toh(x)
#define le32_to_cpu(x)		le32toh(x)
#define le64_to_cpu(x)		le64toh(x)
#define ms_ctz64(x)		((u64)__builtin_ctzll(x))
#define ms_popcount64(x)	((u64)__builtin_popcountll(x))
#define ms_fls64(x)		((x) ? 64 - (u64)__builtin_clzll(x) : 0)
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#endif

#endif /* MS_PORTABLE_H */
