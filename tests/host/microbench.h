/* SPDX-License-Identifier: GPL-2.0 */
#ifndef MICROBENCH_H
#define MICROBENCH_H

#include <stddef.h>
#include <stdint.h>

uint64_t mb_read_loop(const void *p, size_t len);
/* Zero pages found, scanning 4 KiB pages with ms_mem_is_zero(). */
uint64_t mb_zero_scan(const void *p, size_t len);
/* Dirty pages found, walking runs with ms_next_run(). */
uint64_t mb_walk(const uint64_t *bm, uint64_t nbits);

#endif
