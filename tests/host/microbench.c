// SPDX-License-Identifier: GPL-2.0
/*
 * Host-native microbenchmarks of the code the module runs: the zero-page
 * scan beside a plain read loop over the same buffer (the memory
 * bandwidth limit), and the bitmap walker over a 32 MiB bitmap (a 1 TiB
 * guest) that is 0 %, 1 % and 100 % dirty.  The measured functions are
 * compiled as the kernel compiles them: general registers only, no SIMD
 * (microbench_kernel.c).  Prints one line per measurement:
 *   MICRO name=... gb_per_s=...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "microbench.h"

#define SCAN_BYTES	(256UL << 20)
#define BITMAP_BYTES	(32UL << 20)
#define REPEAT		5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The best of REPEAT runs, in GB/s of @bytes. */
static double best_gbps(double (*fn)(void *arg), void *arg, size_t bytes)
{
	double best = 0;
	int i;

	for (i = 0; i < REPEAT; i++) {
		double t = fn(arg);

		if (bytes / t / 1e9 > best)
			best = bytes / t / 1e9;
	}
	return best;
}

static void *buf;
static uint64_t sink;

static double run_read(void *arg)
{
	double t0 = now_s();

	(void)arg;
	sink += mb_read_loop(buf, SCAN_BYTES);
	return now_s() - t0;
}

static double run_zero(void *arg)
{
	double t0 = now_s();

	(void)arg;
	sink += mb_zero_scan(buf, SCAN_BYTES);
	return now_s() - t0;
}

static double run_walk(void *arg)
{
	double t0 = now_s();

	sink += mb_walk(arg, BITMAP_BYTES * 8);
	return now_s() - t0;
}

int main(void)
{
	uint64_t *bm;
	size_t i;
	int pct;

	buf = aligned_alloc(4096, SCAN_BYTES);
	bm = aligned_alloc(4096, BITMAP_BYTES);
	if (!buf || !bm)
		return 1;
	memset(buf, 0, SCAN_BYTES);	/* zero pages: the scan reads all */
	printf("MICRO name=read_loop gb_per_s=%.2f\n", best_gbps(run_read, NULL, SCAN_BYTES));
	printf("MICRO name=zero_scan gb_per_s=%.2f\n", best_gbps(run_zero, NULL, SCAN_BYTES));
	for (pct = 0; pct <= 100; pct = pct ? pct * 100 : 1) {
		memset(bm, 0, BITMAP_BYTES);
		srand(1);
		for (i = 0; pct && i < BITMAP_BYTES * 8; i++)
			if (pct == 100 || rand() % 100 < pct)
				bm[i / 64] |= 1ULL << (i % 64);
		printf("MICRO name=walk_%d%% gb_per_s=%.2f\n", pct,
		       best_gbps(run_walk, bm, BITMAP_BYTES));
	}
	return sink == 42;	/* keep the results alive */
}
