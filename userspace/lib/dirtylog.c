// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dirty log of another process's memory, from the kernel's soft-dirty
 * bits (Documentation/admin-guide/mm/soft-dirty.rst): writing "4" to
 * /proc/PID/clear_refs clears the bit of every page table entry of the
 * process and write-protects it; the next write to the page faults and
 * sets the bit again; /proc/PID/pagemap shows it as bit 55 of the page's
 * entry, and the PAGEMAP_SCAN ioctl (6.7+) returns only the ranges that
 * have it, without an 8-byte entry per page.
 *
 * What the kernel does not give, this file does not pretend:
 * - Getting and clearing are two calls.  A page first written between the
 *   read and the clear loses its bit (set after the read, cleared by the
 *   clear) and is in no log: the caller stops the writers around a take.
 * - hugetlbfs mappings keep no soft-dirty bits at all (clear_refs skips
 *   them): their pages count as dirty in a final read only.
 * - The bits are the process's: clear_refs clears every mapping of it.
 * Pages never touched have no entry: they are not dirty.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MS_PAGE		4096ULL
#define MS_PM_SOFT_DIRTY	(1ULL << 55)
#define MS_PM_CHUNK	(64 * 1024)	/* pagemap entries per read: 512 KiB */
#define MS_SCAN_VEC	4096		/* PAGEMAP_SCAN regions per call */

/* The PAGEMAP_SCAN ABI (uapi/linux/fs.h of 6.7+; Debian 12's headers predate it). */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)
#endif

struct ms_dl_range {
	uint64_t addr;
	uint64_t page;		/* first bit in the log */
	uint64_t npages;
	bool untracked;		/* hugetlbfs: no soft-dirty bits */
};

struct migsend_dirtylog {
	int pid;
	int pagemap;
	int clear_refs;
	enum migsend_dirtylog_method method;
	unsigned int n;
	struct ms_dl_range *ranges;
	uint64_t gpa, npages;
	uint64_t *bitmap;
	uint64_t *entries;		/* pagemap read buffer */
	struct page_region *vec;	/* PAGEMAP_SCAN output */
	struct migsend_dirtylog_stats last;
};

static uint64_t ms_dl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void ms_set_bits(uint64_t *w, uint64_t start, uint64_t n)
{
	while (n && start % 64) {
		w[start / 64] |= htole64(1ULL << (start % 64));
		start++;
		n--;
	}
	for (; n >= 64; start += 64, n -= 64)
		w[start / 64] = ~0ULL;
	for (; n; start++, n--)
		w[start / 64] |= htole64(1ULL << (start % 64));
}

/*
 * Does this kernel keep soft-dirty bits?  A page of a new mapping of our
 * own is soft-dirty once written; without CONFIG_MEM_SOFT_DIRTY bit 55 is
 * never set.  Nothing of any other process is touched.
 */
int migsend_dirtylog_supported(void)
{
	volatile uint8_t *p;
	uint64_t entry = 0;
	ssize_t n = -1;
	int fd, err = 0;

	p = mmap(NULL, MS_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return ms_fail(errno, "probing for soft-dirty bits");
	p[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = pread(fd, &entry, sizeof(entry), (uintptr_t)p / MS_PAGE * sizeof(entry));
		err = errno;
		close(fd);
	} else {
		err = errno;
	}
	munmap((void *)p, MS_PAGE);
	if (n != sizeof(entry))
		return ms_fail(n < 0 || fd < 0 ? err : EIO, "reading /proc/self/pagemap");
	if (!(entry & MS_PM_SOFT_DIRTY))
		return ms_fail(EOPNOTSUPP, "this kernel keeps no soft-dirty bits (built without CONFIG_MEM_SOFT_DIRTY): no dirty log of another process is possible");
	return 0;
}

const char *migsend_dirtylog_method_name(enum migsend_dirtylog_method m)
{
	switch (m) {
	case MIGSEND_DIRTYLOG_PAGEMAP: return "pagemap";
	case MIGSEND_DIRTYLOG_SCAN: return "PAGEMAP_SCAN";
	default: return "auto";
	}
}

/*
 * Which mappings of @d's ranges are hugetlbfs ones (KernelPageSize above
 * 4 kB in /proc/PID/smaps), and is every byte of each range mapped?
 */
static int ms_dl_scan_smaps(struct migsend_dirtylog *d)
{
	char path[64], line[512];
	uint64_t *covered = calloc(d->n, sizeof(*covered));
	unsigned long long start = 0, end = 0, kps;
	unsigned int i;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)d->pid);
	f = fopen(path, "re");
	if (!f || !covered) {
		err = ms_fail(f ? ENOMEM : errno, "opening %s", path);
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &start, &end) == 2)
			continue;
		if (sscanf(line, "KernelPageSize: %llu kB", &kps) != 1)
			continue;
		for (i = 0; i < d->n; i++) {
			struct ms_dl_range *r = &d->ranges[i];
			uint64_t lo = r->addr > start ? r->addr : start;
			uint64_t rend = r->addr + r->npages * MS_PAGE;
			uint64_t hi = rend < end ? rend : end;

			if (lo >= hi)
				continue;
			covered[i] += hi - lo;
			if (kps != 4)
				r->untracked = true;
		}
	}
	for (i = 0; i < d->n; i++)
		if (covered[i] != d->ranges[i].npages * MS_PAGE) {
			err = ms_fail(EINVAL, "process %d does not map all of %#llx-%#llx",
				      (int)d->pid, (unsigned long long)d->ranges[i].addr,
				      (unsigned long long)(d->ranges[i].addr +
							   d->ranges[i].npages * MS_PAGE - 1));
			break;
		}
out:
	if (f)
		fclose(f);
	free(covered);
	return err;
}

static int ms_dl_check_ranges(const struct migsend_dirtylog_range *r, unsigned int n,
			      uint64_t gpa, uint64_t npages)
{
	uint64_t end = gpa + npages * MS_PAGE;
	unsigned int i, j;

	if (!n || !npages || gpa % MS_PAGE || end <= gpa)
		return ms_fail(EINVAL, "dirty log: no range, or a log not page aligned");
	for (i = 0; i < n; i++) {
		if (r[i].addr % MS_PAGE || r[i].gpa % MS_PAGE || r[i].len % MS_PAGE ||
		    !r[i].len || r[i].gpa < gpa || r[i].gpa + r[i].len > end ||
		    r[i].gpa + r[i].len < r[i].gpa)
			return ms_fail(EINVAL, "dirty log: range %u (gpa %#llx, %llu bytes) not page aligned or outside the log",
				       i, (unsigned long long)r[i].gpa,
				       (unsigned long long)r[i].len);
		for (j = 0; j < i; j++)
			if (r[i].gpa < r[j].gpa + r[j].len && r[j].gpa < r[i].gpa + r[i].len)
				return ms_fail(EINVAL, "dirty log: ranges %u and %u overlap", j, i);
	}
	return 0;
}

/* Does this kernel have PAGEMAP_SCAN?  Asked with an empty range. */
static bool ms_dl_have_scan(int pagemap)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.category_mask = PAGE_IS_SOFT_DIRTY,
		.return_mask = PAGE_IS_SOFT_DIRTY,
	};

	return ioctl(pagemap, PAGEMAP_SCAN, &a) >= 0;
}

static int ms_dl_open_files(struct migsend_dirtylog *d)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)d->pid);
	d->pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (d->pagemap < 0)
		return ms_fail(errno, "opening %s", path);
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)d->pid);
	d->clear_refs = open(path, O_WRONLY | O_CLOEXEC);
	if (d->clear_refs < 0)
		return ms_fail(errno, "opening %s", path);
	return 0;
}

static int ms_dl_pick_method(struct migsend_dirtylog *d, enum migsend_dirtylog_method m)
{
	bool scan = ms_dl_have_scan(d->pagemap);

	if (m == MIGSEND_DIRTYLOG_SCAN && !scan)
		return ms_fail(EOPNOTSUPP, "this kernel has no PAGEMAP_SCAN ioctl (Linux 6.7 and later)");
	d->method = m == MIGSEND_DIRTYLOG_AUTO ?
		    (scan ? MIGSEND_DIRTYLOG_SCAN : MIGSEND_DIRTYLOG_PAGEMAP) : m;
	if (d->method == MIGSEND_DIRTYLOG_SCAN)
		d->vec = calloc(MS_SCAN_VEC, sizeof(*d->vec));
	else
		d->entries = malloc(MS_PM_CHUNK * sizeof(*d->entries));
	return d->vec || d->entries ? 0 : ms_fail(ENOMEM, "the dirty log's buffer");
}

int migsend_dirtylog_open(int pid, const struct migsend_dirtylog_range *r, unsigned int n,
			  uint64_t gpa, uint64_t npages, enum migsend_dirtylog_method m,
			  struct migsend_dirtylog **out)
{
	struct migsend_dirtylog *d;
	unsigned int i;
	int err;

	err = ms_dl_check_ranges(r, n, gpa, npages);
	if (err)
		return err;
	err = migsend_dirtylog_supported();
	if (err)
		return err;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ms_fail(ENOMEM, "the dirty log");
	d->pid = pid;
	d->pagemap = d->clear_refs = -1;
	d->n = n;
	d->gpa = gpa;
	d->npages = npages;
	d->ranges = calloc(n, sizeof(*d->ranges));
	d->bitmap = calloc((npages + 63) / 64, sizeof(uint64_t));
	if (!d->ranges || !d->bitmap) {
		err = ms_fail(ENOMEM, "the dirty log of %llu pages", (unsigned long long)npages);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		d->ranges[i].addr = r[i].addr;
		d->ranges[i].page = (r[i].gpa - gpa) / MS_PAGE;
		d->ranges[i].npages = r[i].len / MS_PAGE;
	}
	err = ms_dl_open_files(d);
	if (!err)
		err = ms_dl_scan_smaps(d);
	if (!err)
		err = ms_dl_pick_method(d, m);
	if (err)
		goto fail;
	*out = d;
	return 0;
fail:
	migsend_dirtylog_close(d);
	return err;
}

enum migsend_dirtylog_method migsend_dirtylog_method(const struct migsend_dirtylog *d)
{
	return d->method;
}

bool migsend_dirtylog_untracked(const struct migsend_dirtylog *d)
{
	unsigned int i;

	for (i = 0; i < d->n; i++)
		if (d->ranges[i].untracked)
			return true;
	return false;
}

int migsend_dirtylog_clear(struct migsend_dirtylog *d)
{
	uint64_t t0 = ms_dl_now_ns();

	if (pwrite(d->clear_refs, "4", 1, 0) != 1)
		return ms_fail(errno == ESRCH ? ESRCH : errno,
			       "clearing the soft-dirty bits of process %d", (int)d->pid);
	d->last.clear_ns = ms_dl_now_ns() - t0;
	return 0;
}

/* One range from pagemap: 8 bytes per page, bit 55. */
static int ms_dl_read_pagemap(struct migsend_dirtylog *d, const struct ms_dl_range *r)
{
	uint64_t done = 0, i, n;
	ssize_t got;

	while (done < r->npages) {
		n = r->npages - done < MS_PM_CHUNK ? r->npages - done : MS_PM_CHUNK;
		got = pread(d->pagemap, d->entries, n * sizeof(uint64_t),
			    (r->addr / MS_PAGE + done) * sizeof(uint64_t));
		if (got != (ssize_t)(n * sizeof(uint64_t)))
			return ms_fail(got < 0 ? errno : EIO, "reading the pagemap of process %d",
				       (int)d->pid);
		for (i = 0; i < n; i++)
			if (d->entries[i] & MS_PM_SOFT_DIRTY)
				ms_set_bits(d->bitmap, r->page + done + i, 1);
		done += n;
	}
	return 0;
}

/* One range with PAGEMAP_SCAN: only the soft-dirty ranges come back. */
static int ms_dl_read_scan(struct migsend_dirtylog *d, const struct ms_dl_range *r)
{
	uint64_t end = r->addr + r->npages * MS_PAGE;
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = r->addr,
		.end = end,
		.vec = (uintptr_t)d->vec,
		.vec_len = MS_SCAN_VEC,
		.category_mask = PAGE_IS_SOFT_DIRTY,
		.return_mask = PAGE_IS_SOFT_DIRTY,
	};
	long i, got;

	while (a.start < end) {
		got = ioctl(d->pagemap, PAGEMAP_SCAN, &a);
		if (got < 0)
			return ms_fail(errno, "PAGEMAP_SCAN of process %d", (int)d->pid);
		for (i = 0; i < got; i++) {
			uint64_t first = (d->vec[i].start - r->addr) / MS_PAGE;
			uint64_t count = (d->vec[i].end - d->vec[i].start) / MS_PAGE;

			ms_set_bits(d->bitmap, r->page + first, count);
		}
		if (a.walk_end <= a.start)
			return ms_fail(EIO, "PAGEMAP_SCAN of process %d made no progress",
				       (int)d->pid);
		a.start = a.walk_end;
	}
	return 0;
}

int migsend_dirtylog_read(struct migsend_dirtylog *d, bool final, const uint64_t **bitmap)
{
	uint64_t t0 = ms_dl_now_ns();
	unsigned int i;
	int err = 0;

	memset(d->bitmap, 0, (d->npages + 63) / 64 * sizeof(uint64_t));
	d->last.dirty_pages = 0;
	for (i = 0; !err && i < d->n; i++) {
		const struct ms_dl_range *r = &d->ranges[i];

		if (r->untracked) {
			if (final)
				ms_set_bits(d->bitmap, r->page, r->npages);
		} else if (d->method == MIGSEND_DIRTYLOG_SCAN) {
			err = ms_dl_read_scan(d, r);
		} else {
			err = ms_dl_read_pagemap(d, r);
		}
	}
	if (err)
		return err;
	d->last.read_ns = ms_dl_now_ns() - t0;
	for (i = 0; i < (d->npages + 63) / 64; i++)
		d->last.dirty_pages += __builtin_popcountll(d->bitmap[i]);
	*bitmap = d->bitmap;
	return 0;
}

int migsend_dirtylog_take(struct migsend_dirtylog *d, const uint64_t **bitmap)
{
	int err = migsend_dirtylog_read(d, false, bitmap);

	return err ? err : migsend_dirtylog_clear(d);
}

void migsend_dirtylog_last(const struct migsend_dirtylog *d, struct migsend_dirtylog_stats *st)
{
	*st = d->last;
}

void migsend_dirtylog_close(struct migsend_dirtylog *d)
{
	if (!d)
		return;
	if (d->pagemap >= 0)
		close(d->pagemap);
	if (d->clear_refs >= 0)
		close(d->clear_refs);
	free(d->ranges);
	free(d->bitmap);
	free(d->entries);
	free(d->vec);
	free(d);
}
