// SPDX-License-Identifier: GPL-2.0
/*
 * The send engine, end to end: guest memory in memfds (shmem, THP,
 * hugetlbfs, swapped out), real TCP connections over veth into a peer
 * network namespace, the reference receiver applying the records, and the
 * destination compared byte for byte with the source after each pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>

#include "kselftest_harness.h"
#include "ms_testlib.h"

#define PAGE		MIGSEND_PAGE_SIZE
#define MB		(1024UL * 1024)
#define MAX_CONNS	8
#define RX_TIMEOUT_MS	60000

/* A sender session with its connections and a receiver at the peer. */
struct mig {
	int dev;
	int nconns;
	int snd[MAX_CONNS];
	int rcv[MAX_CONNS];
	uint8_t *dst;
	uint64_t dst_gpa;
	uint64_t dst_len;
	struct ms_rx rx;
	bool rx_running;
};

static int mig_open(struct mig *m, int nconns, uint64_t gpa, uint64_t len)
{
	int i;

	memset(m, 0, sizeof(*m));
	m->nconns = nconns;
	m->dev = ms_open();
	if (m->dev < 0 || ms_tcp_pairs(nconns, m->snd, m->rcv))
		return -1;
	for (i = 0; i < nconns; i++)
		if (ms_add_sock(m->dev, m->snd[i]) != i)
			return -1;
	m->dst_gpa = gpa;
	m->dst_len = len;
	m->dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return m->dst == MAP_FAILED ? -1 : 0;
}

static int mig_start_rx(struct mig *m)
{
	if (ms_rx_start(&m->rx, m->dst, m->dst_gpa, m->dst_len, m->rcv,
			m->nconns))
		return -1;
	m->rx_running = true;
	return 0;
}

static void mig_close(struct mig *m)
{
	if (m->dev >= 0)
		close(m->dev);
	m->dev = -1;
	if (m->rx_running)
		ms_rx_stop(&m->rx);
	m->rx_running = false;
	ms_close_fds(m->snd, m->nconns);
	ms_close_fds(m->rcv, m->nconns);
	if (m->dst && m->dst != MAP_FAILED)
		munmap(m->dst, m->dst_len);
	m->dst = NULL;
}

/* Run one pass to its end at the sender and at the receiver. */
static int mig_pass(struct mig *m, uint64_t pass, const struct ms_bitmap *b,
		    uint64_t gpa, uint32_t flags, struct migsend_pass_result *res)
{
	int err;

	if (ms_pass_start(m->dev, pass, b, gpa, flags))
		return -errno;
	if (ms_pass_wait(m->dev, res))
		return -errno;
	if (res->state != MIGSEND_STATE_DONE)
		return -res->error ? -res->error : -EIO;
	err = ms_rx_wait_pass(&m->rx, pass, RX_TIMEOUT_MS);
	if (err)
		fprintf(stderr, "# receiver: %s\n", m->rx.errmsg);
	return err;
}

static int mig_stats(struct mig *m, struct migsend_stats *st,
		     struct migsend_conn_stats *cs)
{
	memset(st, 0, sizeof(*st));
	st->conns = (uintptr_t)cs;
	st->nconns = cs ? MAX_CONNS : 0;
	return ioctl(m->dev, MIGSEND_IOC_GET_STATS, st);
}

/* Every page of @mem equals the receiver's copy at @gpa. */
static bool same_memory(struct mig *m, const struct ms_mem *mem, uint64_t gpa)
{
	return !memcmp(m->dst + (gpa - m->dst_gpa), mem->p, mem->len);
}

/* How many bytes from @p on are zero. */
static size_t zero_prefix(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len && !p[i])
		i++;
	return i;
}

/* ----- full passes over one region, 1 to 8 connections ------------------ */

FIXTURE(conns) {
	struct mig m;
	struct ms_mem mem;
	struct ms_bitmap bm;
};

FIXTURE_VARIANT(conns) {
	int nconns;
};

FIXTURE_VARIANT_ADD(conns, one) { .nconns = 1 };
FIXTURE_VARIANT_ADD(conns, two) { .nconns = 2 };
FIXTURE_VARIANT_ADD(conns, four) { .nconns = 4 };
FIXTURE_VARIANT_ADD(conns, eight) { .nconns = 8 };

#define CONNS_LEN	(16 * MB)
#define CONNS_GPA	(1ULL << 32)

FIXTURE_SETUP(conns)
{
	ASSERT_EQ(0, mig_open(&self->m, variant->nconns, CONNS_GPA, CONNS_LEN));
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ms_mem_create(&self->mem, CONNS_LEN, false));
	ASSERT_EQ(0, ms_add_region(self->m.dev, self->mem.fd, 0, CONNS_GPA,
				   CONNS_LEN));
	ASSERT_EQ(0, ms_bitmap_alloc(&self->bm, CONNS_LEN / PAGE));
	ms_bitmap_set(&self->bm, 0, CONNS_LEN / PAGE);
}

FIXTURE_TEARDOWN(conns)
{
	mig_close(&self->m);
	ms_mem_destroy(&self->mem);
	ms_bitmap_free(&self->bm);
}

TEST_F(conns, random_memory)
{
	struct migsend_conn_stats cs[MAX_CONNS];
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t npages = CONNS_LEN / PAGE, bytes = 0;
	int i;

	ms_mem_fill_random(&self->mem, 0, npages, 1);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	EXPECT_EQ(1, res.pass);
	EXPECT_LT(0, res.elapsed_ns);

	ASSERT_EQ(0, mig_stats(&self->m, &st, cs));
	EXPECT_EQ(npages, st.last.dirty_pages);
	EXPECT_EQ(npages, st.last.data_pages);
	EXPECT_EQ(0, st.last.zero_pages_hole + st.last.zero_pages_scanned);
	EXPECT_EQ(MIGSEND_STATE_DONE, st.state);
	EXPECT_EQ((uint32_t)variant->nconns, st.nconns);
	for (i = 0; i < variant->nconns; i++) {
		bytes += cs[i].pass_wire_bytes;
		EXPECT_EQ(0, cs[i].flags);
	}
	EXPECT_EQ(st.last.wire_bytes, bytes);
	EXPECT_LE(npages * PAGE, st.last.wire_bytes);
	/* Headers cost well under 1 %. */
	EXPECT_GT(npages * PAGE / 100, st.last.wire_bytes - npages * PAGE);
	EXPECT_EQ(st.total.wire_bytes, st.last.wire_bytes);
}

TEST_F(conns, touched_zero_pages_are_zero_runs)
{
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t npages = CONNS_LEN / PAGE;

	/* The destination holds old data that must be zeroed. */
	memset(self->m.dst, 0x5a, CONNS_LEN);
	memset(self->mem.p, 0, CONNS_LEN);	/* allocates every page */
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(npages, st.last.zero_pages_scanned);
	EXPECT_EQ(0, st.last.data_pages);
	EXPECT_GT(npages * PAGE / 200, st.last.wire_bytes);
}

TEST_F(conns, holes_are_never_allocated)
{
	struct migsend_pass_result res;
	struct migsend_stats st;
	struct stat sb;
	uint64_t npages = CONNS_LEN / PAGE;

	memset(self->m.dst, 0x5a, CONNS_LEN);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	/* Sending the holes allocated nothing.  (Reading them through the
	 * shared mapping would: compare against zeros instead.)
	 */
	ASSERT_EQ(0, fstat(self->mem.fd, &sb));
	EXPECT_EQ(0, sb.st_blocks);
	EXPECT_EQ(CONNS_LEN, zero_prefix(self->m.dst, CONNS_LEN));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(npages, st.last.zero_pages_hole);
	EXPECT_EQ(0, st.last.zero_pages_scanned);
	EXPECT_GT(npages * PAGE / 200, st.last.wire_bytes);
}

TEST_F(conns, mixed_memory)
{
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t npages = CONNS_LEN / PAGE, i, data = 0;

	/* Runs of data, touched zero pages and holes of varying length. */
	for (i = 0; i < npages; i++) {
		switch ((i * 7 + i / 13) % 5) {
		case 0:
		case 1:
			ms_mem_fill_random(&self->mem, i, 1, i);
			data++;
			break;
		case 2:
			memset(self->mem.p + i * PAGE, 0, PAGE);
			break;
		default:
			break;	/* a hole */
		}
	}
	memset(self->m.dst, 0x5a, CONNS_LEN);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(data, st.last.data_pages);
	EXPECT_EQ(npages, st.last.data_pages + st.last.zero_pages_hole +
			  st.last.zero_pages_scanned);
}

/*
 * Guest memory for the SPARSE tests: every other page zero, the
 * mixed_memory pattern, data and zero runs of 1 to 150 pages (records
 * that end in zero pages, zero runs longer than a record), and random
 * data with a few holes.  Returns the number of data pages.
 */
static uint64_t fill_sparse_pattern(struct ms_mem *mem, uint64_t npages, unsigned int seed)
{
	uint64_t i = 0, q = npages / 4, data = 0, run;
	bool zero = false;

	srand(seed);
	for (; i < q; i++) {
		if (i % 2 == 0) {
			ms_mem_fill_random(mem, i, 1, seed + i);
			data++;
		} else {
			memset(mem->p + i * PAGE, 0, PAGE);
		}
	}
	for (; i < 2 * q; i++) {
		if ((i * 7 + i / 13) % 5 < 2) {
			ms_mem_fill_random(mem, i, 1, seed + i);
			data++;
		} else if ((i * 7 + i / 13) % 5 == 2) {
			memset(mem->p + i * PAGE, 0, PAGE);
		} else {
			fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  i * PAGE, PAGE);
		}
	}
	for (; i < 3 * q; i += run, zero = !zero) {
		run = 1 + rand() % (zero ? 150 : 70);
		if (run > 3 * q - i)
			run = 3 * q - i;
		if (zero) {
			memset(mem->p + i * PAGE, 0, run * PAGE);
		} else {
			ms_mem_fill_random(mem, i, run, seed + i);
			data += run;
		}
	}
	for (; i < npages; i++) {
		if (rand() % 50) {
			ms_mem_fill_random(mem, i, 1, seed + i);
			data++;
		} else {
			fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  i * PAGE, PAGE);
		}
	}
	return data;
}

static uint64_t sparse_records(const struct mig *m)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < m->nconns; i++)
		n += m->rx.conns[i].sparse_records;
	return n;
}

TEST_F(conns, sparse_records_carry_zero_pages_among_data)
{
	uint32_t flags = MIGSEND_PASS_SKIP_ZERO | MIGSEND_PASS_SPARSE;
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t npages = CONNS_LEN / PAGE, data, dense_records, i;
	int pass;

	data = fill_sparse_pattern(&self->mem, npages, 9);
	memset(self->m.dst, 0x5a, CONNS_LEN);
	/* The same memory without SPARSE first, for its record count. */
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	ASSERT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	dense_records = st.last.records;
	EXPECT_EQ(0, sparse_records(&self->m));

	memset(self->m.dst, 0x5a, CONNS_LEN);
	ASSERT_EQ(0, mig_pass(&self->m, 2, &self->bm, CONNS_GPA, flags, &res));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(npages, st.last.dirty_pages);
	EXPECT_EQ(data, st.last.data_pages);
	EXPECT_EQ(npages, st.last.data_pages + st.last.zero_pages_hole +
			  st.last.zero_pages_scanned);
	EXPECT_LT(0, sparse_records(&self->m));
	/* Every other page zero: one record per 64 pages, not one per page. */
	EXPECT_GT(dense_records / 4, st.last.records);
	/* Headers and masks cost well under 1 %. */
	EXPECT_GT(data * PAGE / 100, st.last.wire_bytes - data * PAGE);

	/* Later passes: data that becomes zero, zero that becomes data. */
	for (pass = 3; pass <= 5; pass++) {
		ms_bitmap_clear_all(&self->bm);
		for (i = pass; i < npages; i += 1 + pass % 3) {
			if ((i / 3) % 2)
				memset(self->mem.p + i * PAGE, 0, PAGE);
			else
				ms_mem_fill_random(&self->mem, i, 1, pass * npages + i);
			ms_bitmap_set(&self->bm, i, 1);
		}
		ASSERT_EQ(0, mig_pass(&self->m, pass, &self->bm, CONNS_GPA, flags, &res));
		ASSERT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	}
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(0, st.total.errors);
}

TEST_F(conns, without_zero_skipping_every_page_is_data)
{
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t npages = CONNS_LEN / PAGE;

	ms_mem_fill_random(&self->mem, 0, npages / 2, 3);
	memset(self->m.dst, 0x5a, CONNS_LEN);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA, 0, &res));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(npages, st.last.data_pages);
	EXPECT_EQ(0, st.last.zero_pages_scanned);
}

TEST_F(conns, passes_resend_changes_and_new_zero_pages)
{
	struct migsend_pass_result res;
	uint64_t npages = CONNS_LEN / PAGE, i;
	int pass;

	ms_mem_fill_random(&self->mem, 0, npages, 11);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	ASSERT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	for (pass = 2; pass <= 4; pass++) {
		ms_bitmap_clear_all(&self->bm);
		for (i = pass; i < npages; i += 3 + pass) {
			if (i % 2)	/* data that becomes zero */
				memset(self->mem.p + i * PAGE, 0, PAGE);
			else
				ms_mem_fill_random(&self->mem, i, 1, pass * npages + i);
			ms_bitmap_set(&self->bm, i, 1);
		}
		ASSERT_EQ(0, mig_pass(&self->m, pass, &self->bm, CONNS_GPA,
				      MIGSEND_PASS_SKIP_ZERO, &res));
		ASSERT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	}
}

TEST_F(conns, scattered_pass_and_empty_pass)
{
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t npages = CONNS_LEN / PAGE, i, dirty = 0;

	ms_mem_fill_random(&self->mem, 0, npages, 5);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	/* 10 % of the pages at random positions. */
	ms_bitmap_clear_all(&self->bm);
	srand(42);
	for (i = 0; i < npages; i++) {
		if (rand() % 10 == 0) {
			ms_mem_fill_random(&self->mem, i, 1, i + 77);
			ms_bitmap_set(&self->bm, i, 1);
			dirty++;
		}
	}
	ASSERT_EQ(0, mig_pass(&self->m, 2, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, CONNS_GPA));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(dirty, st.last.dirty_pages);
	EXPECT_EQ(dirty, st.last.data_pages);

	/* Nothing dirty: only END records. */
	ms_bitmap_clear_all(&self->bm);
	ASSERT_EQ(0, mig_pass(&self->m, 3, &self->bm, CONNS_GPA,
			      MIGSEND_PASS_SKIP_ZERO, &res));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(0, st.last.dirty_pages);
	EXPECT_EQ((uint64_t)variant->nconns, st.last.records);
	EXPECT_EQ(0, st.total.errors);
}

/* ----- memory layouts ---------------------------------------------------- */

FIXTURE(layout) {
	struct mig m;
};

FIXTURE_SETUP(layout)
{
	self->m.dev = -1;
}

FIXTURE_TEARDOWN(layout)
{
	mig_close(&self->m);
}

TEST_F(layout, several_regions_and_fds_with_gaps)
{
	/* Three memfds, one holding two regions, with holes in gpa between. */
	const struct { int mem; uint64_t off, gpa, len; } r[] = {
		{ 0, 0, 0, 4 * MB },
		{ 1, 0, 8 * MB, 2 * MB },
		{ 0, 4 * MB, 12 * MB, 4 * MB },
		{ 2, 1 * MB, 20 * MB, 3 * MB },
	};
	struct ms_mem mem[3];
	struct ms_bitmap bm;
	struct migsend_pass_result res;
	uint64_t span = 24 * MB;
	unsigned int i;

	ASSERT_EQ(0, mig_open(&self->m, 3, 0, span));
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ms_mem_create(&mem[0], 8 * MB, false));
	ASSERT_EQ(0, ms_mem_create(&mem[1], 2 * MB, false));
	ASSERT_EQ(0, ms_mem_create(&mem[2], 4 * MB, false));
	for (i = 0; i < 3; i++)
		ms_mem_fill_random(&mem[i], 0, mem[i].len / PAGE / 2, i + 1);
	/* Registered out of order on purpose. */
	for (i = 4; i-- > 0;)
		ASSERT_EQ(0, ms_add_region(self->m.dev, mem[r[i].mem].fd,
					   r[i].off, r[i].gpa, r[i].len));
	ASSERT_EQ(0, ms_bitmap_alloc(&bm, span / PAGE));
	for (i = 0; i < 4; i++)
		ms_bitmap_set(&bm, r[i].gpa / PAGE, r[i].len / PAGE);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, memcmp(self->m.dst + r[i].gpa,
				    mem[r[i].mem].p + r[i].off, r[i].len));

	/* A dirty bit in a gap fails the pass with ERANGE. */
	ms_bitmap_clear_all(&bm);
	ms_bitmap_set(&bm, 5 * MB / PAGE, 1);
	ASSERT_EQ(0, ms_pass_start(self->m.dev, 2, &bm, 0, MIGSEND_PASS_SKIP_ZERO));
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_FAILED, res.state);
	EXPECT_EQ(ERANGE, res.error);

	ms_bitmap_free(&bm);
	for (i = 0; i < 3; i++)
		ms_mem_destroy(&mem[i]);
}

TEST_F(layout, hugetlbfs_memory)
{
	struct ms_mem mem;
	struct ms_bitmap bm;
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t len = 32 * MB, npages = len / PAGE, i;

	ASSERT_EQ(0, mig_open(&self->m, 2, 0, len));
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ms_mem_create(&mem, len, true));
	/* Of 16 huge pages: 0-3 random, 4-7 touched zero, 11 holds one
	 * non-zero byte in its middle, the other 7 are never faulted.
	 */
	ms_mem_fill_random(&mem, 0, 4 * 512, 9);
	memset(mem.p + 4 * 2 * MB, 0, 4 * 2 * MB);
	mem.p[11 * 2 * MB + 1 * MB + 17] = 1;
	memset(self->m.dst, 0x5a, len);

	/* Offsets and lengths must be whole huge pages. */
	EXPECT_EQ(-1, ms_add_region(self->m.dev, mem.fd, PAGE, 0, 2 * MB));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ms_add_region(self->m.dev, mem.fd, 0, 0, len));
	ASSERT_EQ(0, ms_bitmap_alloc(&bm, npages));
	ms_bitmap_set(&bm, 0, npages);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_EQ(0, memcmp(self->m.dst, mem.p, len));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(4 * 512 + 1, st.last.data_pages);
	EXPECT_EQ(7 * 512, st.last.zero_pages_hole);
	EXPECT_EQ(4 * 512 + 511, st.last.zero_pages_scanned);

	/* A second pass over a part of it, with changed data. */
	ms_bitmap_clear_all(&bm);
	for (i = 100; i < npages; i += 97) {
		ms_mem_fill_random(&mem, i, 1, i);
		ms_bitmap_set(&bm, i, 1);
	}
	ASSERT_EQ(0, mig_pass(&self->m, 2, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_EQ(0, memcmp(self->m.dst, mem.p, len));
	ms_bitmap_free(&bm);
	ms_mem_destroy(&mem);
}

static int write_sysfs(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static uint64_t meminfo_kb(const char *key);

TEST_F(layout, shmem_transparent_huge_pages)
{
	const char *knob = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
	struct ms_mem mem;
	struct ms_bitmap bm;
	struct migsend_pass_result res;
	uint64_t len = 16 * MB, npages = len / PAGE, i;

	ASSERT_EQ(0, write_sysfs(knob, "always"));
	ASSERT_EQ(0, mig_open(&self->m, 2, 0, len));
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ms_mem_create(&mem, len, false));
	ms_mem_fill_random(&mem, 0, npages, 21);
	for (i = 5; i < npages; i += 9)	/* zero pages inside large folios */
		memset(mem.p + i * PAGE, 0, PAGE);
	ASSERT_EQ(0, ms_add_region(self->m.dev, mem.fd, 0, 0, len));
	ASSERT_EQ(0, ms_bitmap_alloc(&bm, npages));
	ms_bitmap_set(&bm, 0, npages);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_EQ(0, memcmp(self->m.dst, mem.p, len));
	ASSERT_LT(0, meminfo_kb("ShmemHugePages"));

	/*
	 * Dirty runs that start inside the huge folios, the page cache's
	 * sibling entries: in pass 2 runs within one folio (page 3, 100 and
	 * 257 of every 512, one page or a few), in pass 3 runs from one into
	 * the next (pages 500 to 529), each the first lookup of its folio.
	 */
	ms_bitmap_clear_all(&bm);
	for (i = 0; i < npages; i += 512) {
		ms_mem_fill_random(&mem, i + 3, 1, 22 + i);
		ms_mem_fill_random(&mem, i + 100, 5, 23 + i);
		ms_mem_fill_random(&mem, i + 257, 1, 24 + i);
		ms_bitmap_set(&bm, i + 3, 1);
		ms_bitmap_set(&bm, i + 100, 5);
		ms_bitmap_set(&bm, i + 257, 1);
	}
	ASSERT_EQ(0, mig_pass(&self->m, 2, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_EQ(0, memcmp(self->m.dst, mem.p, len));
	ms_bitmap_clear_all(&bm);
	for (i = 0; i + 530 <= npages; i += 1024) {
		ms_mem_fill_random(&mem, i + 500, 30, 25 + i);
		ms_bitmap_set(&bm, i + 500, 30);
	}
	ASSERT_EQ(0, mig_pass(&self->m, 3, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_EQ(0, memcmp(self->m.dst, mem.p, len));
	write_sysfs(knob, "never");
	ms_bitmap_free(&bm);
	ms_mem_destroy(&mem);
}

static uint64_t meminfo_kb(const char *key)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	size_t n = strlen(key);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static uint64_t swap_used(void)
{
	return (meminfo_kb("SwapTotal") - meminfo_kb("SwapFree")) * 1024;
}

TEST_F(layout, swapped_out_shmem_pages)
{
	struct ms_mem mem;
	struct ms_bitmap bm;
	struct migsend_pass_result res;
	struct migsend_stats st;
	uint64_t len = 8 * MB, npages = len / PAGE;
	uint8_t *copy;

	ASSERT_EQ(0, system("swapoff -a 2>/dev/null;"
			    " echo 64M > /sys/block/zram0/disksize &&"
			    " mkswap /dev/zram0 >/dev/null && swapon /dev/zram0"));
	ASSERT_EQ(0, mig_open(&self->m, 2, 0, len));
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ms_mem_create(&mem, len, false));
	ms_mem_fill_random(&mem, 0, npages, 31);
	copy = malloc(len);
	ASSERT_NE(NULL, copy);
	memcpy(copy, mem.p, len);
	/* Push the memfd's pages out to swap. */
	ASSERT_EQ(0, madvise(mem.p, len, MADV_PAGEOUT));
	ASSERT_LT(len / 2, swap_used());
	ASSERT_EQ(0, ms_add_region(self->m.dev, mem.fd, 0, 0, len));
	ASSERT_EQ(0, ms_bitmap_alloc(&bm, npages));
	ms_bitmap_set(&bm, 0, npages);
	ASSERT_EQ(0, mig_pass(&self->m, 1, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_EQ(0, memcmp(self->m.dst, copy, len));
	ASSERT_EQ(0, mig_stats(&self->m, &st, NULL));
	EXPECT_EQ(npages, st.last.data_pages);
	free(copy);
	ms_bitmap_free(&bm);
	ms_mem_destroy(&mem);
	system("swapoff /dev/zram0");
}

/* ----- bad arguments: the documented errno, nothing changed ------------- */

FIXTURE(args) {
	int dev;
	struct ms_mem mem;
};

FIXTURE_SETUP(args)
{
	self->dev = ms_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ms_mem_create(&self->mem, 4 * MB, false));
}

FIXTURE_TEARDOWN(args)
{
	close(self->dev);
	ms_mem_destroy(&self->mem);
}

static int nregions(int dev)
{
	struct migsend_stats st = { 0 };

	if (ioctl(dev, MIGSEND_IOC_GET_STATS, &st))
		return -1;
	return st.nregions;
}

#define EXPECT_ERRNO(err, call) do {		\
	errno = 0;				\
	EXPECT_EQ(-1, (call));			\
	EXPECT_EQ(err, errno);			\
} while (0)

TEST_F(args, add_region_rejects_bad_input)
{
	struct migsend_region r = { .fd = self->mem.fd, .len = MB };
	int dev = self->dev, fd = self->mem.fd, pipefd[2], wronly, sock;
	char path[64];

	EXPECT_ERRNO(EBADF, ms_add_region(dev, 9999, 0, 0, MB));
	EXPECT_ERRNO(EBADF, ms_add_region(dev, -1, 0, 0, MB));
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_ERRNO(ENODEV, ms_add_region(dev, pipefd[0], 0, 0, MB));
	sock = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_ERRNO(ENODEV, ms_add_region(dev, sock, 0, 0, MB));
	EXPECT_ERRNO(ENODEV, ms_add_region(dev, dev, 0, 0, MB));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	wronly = open(path, O_WRONLY);
	ASSERT_LE(0, wronly);
	EXPECT_ERRNO(EACCES, ms_add_region(dev, wronly, 0, 0, MB));
	EXPECT_ERRNO(EINVAL, ms_add_region(dev, fd, 0, 0, 0));
	EXPECT_ERRNO(EINVAL, ms_add_region(dev, fd, 100, 0, MB));
	EXPECT_ERRNO(EINVAL, ms_add_region(dev, fd, 0, 100, MB));
	EXPECT_ERRNO(EINVAL, ms_add_region(dev, fd, 0, 0, MB + 1));
	r.flags = 1;
	EXPECT_ERRNO(EINVAL, ioctl(dev, MIGSEND_IOC_ADD_REGION, &r));
	EXPECT_ERRNO(EOVERFLOW, ms_add_region(dev, fd, 0, ~0ULL & ~4095ULL, MB));
	EXPECT_ERRNO(EOVERFLOW, ms_add_region(dev, fd, ~0ULL & ~4095ULL, 0, MB));
	EXPECT_ERRNO(ENXIO, ms_add_region(dev, fd, 0, 0, 8 * MB));
	EXPECT_ERRNO(ENXIO, ms_add_region(dev, fd, 4 * MB, 0, PAGE));
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_ADD_REGION, (void *)16));
	EXPECT_EQ(0, nregions(dev));

	ASSERT_EQ(0, ms_add_region(dev, fd, 0, 16 * MB, 2 * MB));
	EXPECT_ERRNO(EEXIST, ms_add_region(dev, fd, 0, 16 * MB, PAGE));
	EXPECT_ERRNO(EEXIST, ms_add_region(dev, fd, 0, 15 * MB, 2 * MB));
	EXPECT_ERRNO(EEXIST, ms_add_region(dev, fd, 0, 17 * MB, 2 * MB));
	EXPECT_ERRNO(EEXIST, ms_add_region(dev, fd, 0, 14 * MB, 4 * MB));
	EXPECT_EQ(1, nregions(dev));
	/* Adjacent is fine. */
	EXPECT_EQ(0, ms_add_region(dev, fd, 0, 18 * MB, PAGE));
	EXPECT_EQ(0, ms_add_region(dev, fd, 0, 16 * MB - PAGE, PAGE));
	EXPECT_EQ(3, nregions(dev));
	close(pipefd[0]);
	close(pipefd[1]);
	close(sock);
	close(wronly);
}

TEST_F(args, add_region_limit_is_enospc)
{
	int i;

	for (i = 0; i < MIGSEND_MAX_REGIONS; i++)
		ASSERT_EQ(0, ms_add_region(self->dev, self->mem.fd, 0,
					   (uint64_t)i * 2 * PAGE, PAGE));
	EXPECT_ERRNO(ENOSPC, ms_add_region(self->dev, self->mem.fd, 0,
					   1ULL << 40, PAGE));
	EXPECT_EQ(MIGSEND_MAX_REGIONS, nregions(self->dev));
}

static int listening_socket(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
		return -1;
	return fd;
}

TEST_F(args, add_sock_rejects_bad_sockets)
{
	struct migsend_sock a = { .fd = 0, .flags = 1U << 5 };	/* unknown */
	int dev = self->dev, udp, unx[2], lsn, fresh, snd[2], rcv[2], other;

	EXPECT_ERRNO(EBADF, ms_add_sock(dev, 9999));
	EXPECT_ERRNO(ENOTSOCK, ms_add_sock(dev, self->mem.fd));
	EXPECT_ERRNO(ENOTSOCK, ms_add_sock(dev, dev));
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	EXPECT_ERRNO(EPROTOTYPE, ms_add_sock(dev, udp));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, unx));
	EXPECT_ERRNO(EPROTOTYPE, ms_add_sock(dev, unx[0]));
	lsn = listening_socket();
	ASSERT_LE(0, lsn);
	EXPECT_ERRNO(ENOTCONN, ms_add_sock(dev, lsn));
	fresh = socket(AF_INET6, SOCK_STREAM, 0);
	EXPECT_ERRNO(ENOTCONN, ms_add_sock(dev, fresh));
	EXPECT_ERRNO(EINVAL, ioctl(dev, MIGSEND_IOC_ADD_SOCK, &a));
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_ADD_SOCK, (void *)16));

	ASSERT_EQ(0, ms_tcp_pairs(2, snd, rcv));
	EXPECT_EQ(0, ms_add_sock(dev, snd[0]));
	EXPECT_ERRNO(EEXIST, ms_add_sock(dev, snd[0]));
	other = ms_open();
	ASSERT_LE(0, other);
	EXPECT_ERRNO(EBUSY, ms_add_sock(other, snd[0]));
	EXPECT_EQ(0, ms_add_sock(other, snd[1]));
	/* Once its session is gone, a socket is free again. */
	close(other);
	EXPECT_EQ(1, ms_add_sock(dev, snd[1]));
	close(udp);
	ms_close_fds(unx, 2);
	close(lsn);
	close(fresh);
	ms_close_fds(snd, 2);
	ms_close_fds(rcv, 2);
}

TEST_F(args, add_sock_limit_is_enospc)
{
	static int snd[MIGSEND_MAX_CONNS + 1], rcv[MIGSEND_MAX_CONNS + 1];
	int i;

	ASSERT_EQ(0, ms_tcp_pairs(MIGSEND_MAX_CONNS + 1, snd, rcv));
	for (i = 0; i < MIGSEND_MAX_CONNS; i++)
		ASSERT_EQ(i, ms_add_sock(self->dev, snd[i]));
	EXPECT_ERRNO(ENOSPC, ms_add_sock(self->dev, snd[MIGSEND_MAX_CONNS]));
	close(self->dev);
	self->dev = ms_open();
	ms_close_fds(snd, MIGSEND_MAX_CONNS + 1);
	ms_close_fds(rcv, MIGSEND_MAX_CONNS + 1);
}

TEST_F(args, pass_start_wait_stats_reject_bad_input)
{
	struct migsend_pass_result res;
	struct migsend_stats st = { 0 };
	struct migsend_pass p = { .pass = 1 };
	struct ms_bitmap bm;
	int dev = self->dev, snd[1], rcv[1];
	uint8_t *guard;

	ASSERT_EQ(0, ms_bitmap_alloc(&bm, 1024));
	EXPECT_ERRNO(ENOENT, ms_pass_wait(dev, &res));
	EXPECT_ERRNO(ENOTCONN, ms_pass_start(dev, 1, &bm, 0, 0));
	ASSERT_EQ(0, ms_tcp_pairs(1, snd, rcv));
	ASSERT_EQ(0, ms_add_sock(dev, snd[0]));
	EXPECT_ERRNO(ENOENT, ms_pass_start(dev, 1, &bm, 0, 0));
	ASSERT_EQ(0, ms_add_region(dev, self->mem.fd, 0, 0, 4 * MB));
	EXPECT_ERRNO(EINVAL, ms_pass_start(dev, 1, &bm, 0, 1U << 7));
	/* Zero pages go inside SPARSE records only when they are looked for. */
	EXPECT_ERRNO(EINVAL, ms_pass_start(dev, 1, &bm, 0, MIGSEND_PASS_SPARSE));
	EXPECT_ERRNO(EINVAL, ms_pass_start(dev, 1, &bm, 100, 0));
	p.npages = 1ULL << 60;
	p.bitmap = (uintptr_t)bm.words;
	EXPECT_ERRNO(EOVERFLOW, ioctl(dev, MIGSEND_IOC_PASS_START, &p));
	p.npages = 1024;
	p.gpa = ~0ULL & ~4095ULL;
	EXPECT_ERRNO(EOVERFLOW, ioctl(dev, MIGSEND_IOC_PASS_START, &p));
	p.gpa = 0;
	p.npages = MIGSEND_MAX_PASS_PAGES + 1;
	EXPECT_ERRNO(E2BIG, ioctl(dev, MIGSEND_IOC_PASS_START, &p));
	/* The largest bitmap, but the buffer is one page followed by none. */
	guard = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, guard);
	ASSERT_EQ(0, mprotect(guard + PAGE, PAGE, PROT_NONE));
	p.bitmap = (uintptr_t)guard;
	p.npages = MIGSEND_MAX_PASS_PAGES;
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_PASS_START, &p));
	p.npages = PAGE * 8 + 1;
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_PASS_START, &p));
	munmap(guard, 2 * PAGE);
	p.npages = 1024;
	p.bitmap = 0xffff800000000000ULL;	/* kernel address */
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_PASS_START, &p));
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_PASS_START, (void *)16));
	EXPECT_ERRNO(ENOENT, ms_pass_wait(dev, &res));

	/* Nothing dirty: a pass of END records only. */
	ASSERT_EQ(0, ms_pass_start(dev, 5, &bm, 0, 0));
	ASSERT_EQ(0, ms_pass_wait(dev, &res));
	EXPECT_EQ(MIGSEND_STATE_DONE, res.state);
	EXPECT_ERRNO(EINVAL, ms_pass_start(dev, 5, &bm, 0, 0));
	EXPECT_ERRNO(EINVAL, ms_pass_start(dev, 4, &bm, 0, 0));
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_PASS_WAIT, (void *)16));

	st.reserved = 1;
	EXPECT_ERRNO(EINVAL, ioctl(dev, MIGSEND_IOC_GET_STATS, &st));
	st.reserved = 0;
	st.nconns = 4;
	st.conns = 16;
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_GET_STATS, &st));
	EXPECT_ERRNO(EFAULT, ioctl(dev, MIGSEND_IOC_GET_STATS, (void *)16));
	/* Cancel with nothing running is fine. */
	EXPECT_EQ(0, ioctl(dev, MIGSEND_IOC_PASS_CANCEL));
	ms_bitmap_free(&bm);
	ms_close_fds(snd, 1);
	ms_close_fds(rcv, 1);
}

/* ----- the bitmap's copy: clean, full, mixed and partial chunks --------- */

#define CHUNK		32768ULL	/* bits of one chunk of the module's copy */

/* Pages [first, first + n) equal between source and destination. */
static bool same_pages(struct mig *m, const struct ms_mem *mem,
		       uint64_t first, uint64_t n)
{
	return !memcmp(m->dst + first * PAGE, mem->p + first * PAGE, n * PAGE);
}

/* Pages [first, first + n) of the destination all zero (read, not written). */
static bool zero_pages(struct mig *m, uint64_t first, uint64_t n)
{
	return zero_prefix(m->dst + first * PAGE, n * PAGE) == n * PAGE;
}

TEST(bitmap_chunks_clean_full_mixed_and_partial)
{
	/* Four whole chunks and a partial one (512 MiB + 100 pages of
	 * guest, nearly all never written): chunk 0 and 3 all dirty, chunk 1
	 * clean, chunk 2 mixed, the last partial one all dirty.
	 */
	const uint64_t npages = 4 * CHUNK + 100, c2 = 2 * CHUNK, last = 4 * CHUNK;
	struct migsend_pass_result res;
	struct migsend_stats st;
	struct ms_bitmap bm;
	struct ms_mem mem;
	struct mig m;

	ASSERT_EQ(0, mig_open(&m, 2, 0, npages * PAGE));
	ASSERT_EQ(0, mig_start_rx(&m));
	ASSERT_EQ(0, ms_mem_create(&mem, npages * PAGE, false));
	ASSERT_EQ(0, ms_add_region(m.dev, mem.fd, 0, 0, npages * PAGE));
	ASSERT_EQ(0, ms_bitmap_alloc(&bm, npages));
	ms_mem_fill_random(&mem, 0, 16, 21);
	ms_mem_fill_random(&mem, CHUNK - 68, 68, 22);
	ms_mem_fill_random(&mem, c2 + 100, 64, 23);
	ms_mem_fill_random(&mem, c2 + 30000, 1, 24);
	ms_mem_fill_random(&mem, last, 100, 25);
	ms_bitmap_set(&bm, 0, CHUNK);
	ms_bitmap_set(&bm, c2 + 100, 64);
	ms_bitmap_set(&bm, c2 + 30000, 1);
	ms_bitmap_set(&bm, 3 * CHUNK, CHUNK + 100);

	ASSERT_EQ(0, mig_pass(&m, 1, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_TRUE(same_pages(&m, &mem, 0, 16));
	EXPECT_TRUE(same_pages(&m, &mem, CHUNK - 68, 68));
	EXPECT_TRUE(same_pages(&m, &mem, c2 + 100, 64));
	EXPECT_TRUE(same_pages(&m, &mem, c2 + 30000, 1));
	EXPECT_TRUE(same_pages(&m, &mem, last, 100));
	EXPECT_TRUE(zero_pages(&m, 16, CHUNK - 68 - 16));
	EXPECT_TRUE(zero_pages(&m, CHUNK, CHUNK + 100));
	ASSERT_EQ(0, mig_stats(&m, &st, NULL));
	EXPECT_EQ(CHUNK + 65 + CHUNK + 100, st.last.dirty_pages);
	EXPECT_EQ(16 + 68 + 65 + 100, st.last.data_pages);
	EXPECT_EQ(st.last.dirty_pages - st.last.data_pages,
		  st.last.zero_pages_hole);

	/* The same bitmap, each bit flipped: the clean chunk is now full. */
	for (uint64_t i = 0; i < (npages + 63) / 64; i++)
		bm.words[i] = ~bm.words[i];
	ms_mem_fill_random(&mem, CHUNK + 7, 1, 26);
	ASSERT_EQ(0, mig_pass(&m, 2, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res));
	EXPECT_TRUE(same_pages(&m, &mem, CHUNK + 7, 1));
	ASSERT_EQ(0, mig_stats(&m, &st, NULL));
	EXPECT_EQ(CHUNK - 65 + CHUNK, st.last.dirty_pages);
	EXPECT_EQ(1, st.last.data_pages);

	mig_close(&m);
	ms_mem_destroy(&mem);
	ms_bitmap_free(&bm);
}

/* ----- failures and teardown ------------------------------------------- */

/*
 * A session whose receiver never reads: a pass of 64 MiB of random data
 * fills the socket buffers and blocks.
 */
FIXTURE(stuck) {
	struct mig m;
	struct ms_mem mem;
	struct ms_bitmap bm;
};

#define STUCK_LEN	(64 * MB)

FIXTURE_SETUP(stuck)
{
	ASSERT_EQ(0, mig_open(&self->m, 2, 0, STUCK_LEN));
	ASSERT_EQ(0, ms_mem_create(&self->mem, STUCK_LEN, false));
	ms_mem_fill_random(&self->mem, 0, STUCK_LEN / PAGE, 7);
	ASSERT_EQ(0, ms_add_region(self->m.dev, self->mem.fd, 0, 0, STUCK_LEN));
	ASSERT_EQ(0, ms_bitmap_alloc(&self->bm, STUCK_LEN / PAGE));
	ms_bitmap_set(&self->bm, 0, STUCK_LEN / PAGE);
}

FIXTURE_TEARDOWN(stuck)
{
	mig_close(&self->m);
	ms_mem_destroy(&self->mem);
	ms_bitmap_free(&self->bm);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static bool pass_running(int dev)
{
	struct pollfd pfd = { .fd = dev, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

/* Start the stuck pass and let it fill the sockets. */
static int start_stuck(struct mig *m, const struct ms_bitmap *bm)
{
	if (ms_pass_start(m->dev, 1, bm, 0, MIGSEND_PASS_SKIP_ZERO))
		return -1;
	usleep(300 * 1000);
	return pass_running(m->dev) ? 0 : -1;
}

TEST_F(stuck, cancel_ends_a_blocked_pass_within_a_second)
{
	struct migsend_conn_stats cs[MAX_CONNS];
	struct migsend_pass_result res;
	struct migsend_stats st;
	struct pollfd pfd = { .fd = self->m.dev, .events = POLLIN };
	int fl = fcntl(self->m.dev, F_GETFL);
	uint64_t t0;

	ASSERT_EQ(0, start_stuck(&self->m, &self->bm));
	/* Still running: polling says so, a non-blocking wait too. */
	EXPECT_EQ(0, poll(&pfd, 1, 100));
	ASSERT_EQ(0, fcntl(self->m.dev, F_SETFL, fl | O_NONBLOCK));
	EXPECT_ERRNO(EAGAIN, ms_pass_wait(self->m.dev, &res));
	ASSERT_EQ(0, fcntl(self->m.dev, F_SETFL, fl));
	/* Configuration cannot change under a running pass. */
	EXPECT_ERRNO(EBUSY, ms_add_region(self->m.dev, self->mem.fd, 0,
					  1ULL << 40, PAGE));
	EXPECT_ERRNO(EBUSY, ms_pass_start(self->m.dev, 2, &self->bm, 0, 0));

	t0 = now_ms();
	ASSERT_EQ(0, ioctl(self->m.dev, MIGSEND_IOC_PASS_CANCEL));
	EXPECT_EQ(1, poll(&pfd, 1, 2000));
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_GT(1000, now_ms() - t0);
	EXPECT_EQ(MIGSEND_STATE_CANCELLED, res.state);
	EXPECT_EQ(ECANCELED, res.error);

	/* Connections cut inside a record are failed and shut down. */
	ASSERT_EQ(0, mig_stats(&self->m, &st, cs));
	EXPECT_EQ(MIGSEND_STATE_CANCELLED, st.state);
	EXPECT_EQ(1, st.total.errors);
	EXPECT_TRUE(cs[0].flags & MIGSEND_CONN_FAILED);
	EXPECT_ERRNO(EPIPE, ms_pass_start(self->m.dev, 2, &self->bm, 0, 0));
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST_F(stuck, signal_interrupts_wait_and_the_pass_goes_on)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct migsend_pass_result res;

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, start_stuck(&self->m, &self->bm));
	alarm(1);
	EXPECT_ERRNO(EINTR, ms_pass_wait(self->m.dev, &res));
	EXPECT_TRUE(pass_running(self->m.dev));
	ASSERT_EQ(0, ioctl(self->m.dev, MIGSEND_IOC_PASS_CANCEL));
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_CANCELLED, res.state);
}

TEST_F(stuck, peer_reset_fails_the_pass_promptly)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct migsend_pass_result res;
	uint64_t t0;

	ASSERT_EQ(0, start_stuck(&self->m, &self->bm));
	/* Close with unread data and linger 0: the peer sends a reset. */
	ASSERT_EQ(0, setsockopt(self->m.rcv[1], SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	t0 = now_ms();
	close(self->m.rcv[1]);
	self->m.rcv[1] = -1;
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_GT(2000, now_ms() - t0);
	EXPECT_EQ(MIGSEND_STATE_FAILED, res.state);
	EXPECT_TRUE(res.error == ECONNRESET || res.error == EPIPE);
}

TEST_F(stuck, no_progress_timeout_fails_the_pass)
{
	struct migsend_pass a = {
		.pass = 1, .bitmap = (uintptr_t)self->bm.words,
		.npages = self->bm.npages, .timeout_ms = 500,
	};
	struct migsend_pass_result res;

	ASSERT_EQ(0, ioctl(self->m.dev, MIGSEND_IOC_PASS_START, &a));
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_FAILED, res.state);
	EXPECT_EQ(ETIMEDOUT, res.error);
}

TEST_F(stuck, truncating_memory_mid_pass_is_an_error)
{
	struct migsend_pass_result res;

	ASSERT_EQ(0, start_stuck(&self->m, &self->bm));
	ASSERT_EQ(0, ftruncate(self->mem.fd, PAGE));
	ASSERT_EQ(0, mig_start_rx(&self->m));	/* let it move again */
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_FAILED, res.state);
	EXPECT_EQ(ENXIO, res.error);
}

TEST_F(stuck, truncating_memory_before_a_pass_is_an_error)
{
	struct migsend_pass_result res;

	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ftruncate(self->mem.fd, STUCK_LEN / 2));
	ASSERT_EQ(0, ms_pass_start(self->m.dev, 1, &self->bm, 0,
				   MIGSEND_PASS_SKIP_ZERO));
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_FAILED, res.state);
	EXPECT_EQ(ENXIO, res.error);
}

TEST_F(stuck, unreadable_bitmap_is_efault_and_starts_nothing)
{
	/* Eight pages of bitmap, the last one unreadable. */
	uint64_t npages = 8 * PAGE * 8, bytes = npages / 8;
	uint64_t *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ms_bitmap bm = { .words = map, .npages = npages };
	struct migsend_pass_result res;

	ASSERT_NE(MAP_FAILED, map);
	ms_bitmap_set(&bm, 0, STUCK_LEN / PAGE);
	ASSERT_EQ(0, mprotect((uint8_t *)map + bytes - PAGE, PAGE, PROT_NONE));
	EXPECT_ERRNO(EFAULT, ms_pass_start(self->m.dev, 1, &bm, 0, 0));
	bm.npages = npages - PAGE * 8 + 1;	/* one bit on the last page */
	EXPECT_ERRNO(EFAULT, ms_pass_start(self->m.dev, 1, &bm, 0, 0));
	ASSERT_EQ(0, mprotect(map, bytes, PROT_NONE));
	bm.npages = 1;
	EXPECT_ERRNO(EFAULT, ms_pass_start(self->m.dev, 1, &bm, 0, 0));
	EXPECT_FALSE(pass_running(self->m.dev));
	EXPECT_ERRNO(ENOENT, ms_pass_wait(self->m.dev, &res));
	munmap(map, bytes);
}

TEST_F(stuck, bitmap_may_change_or_go_once_the_pass_started)
{
	/* The module copied the bitmap at PASS_START: what the caller does
	 * with it afterwards changes nothing.  Four times the region's
	 * pages, so that the end of the bitmap is far from its start.
	 */
	uint64_t npages = 4 * STUCK_LEN / PAGE, bytes = npages / 8;
	uint64_t *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ms_bitmap bm = { .words = map, .npages = npages };
	struct migsend_pass_result res;

	ASSERT_NE(MAP_FAILED, map);
	ms_bitmap_set(&bm, 0, STUCK_LEN / PAGE);
	ASSERT_EQ(0, start_stuck(&self->m, &bm));
	memset(map, 0xff, bytes);
	ASSERT_EQ(0, mprotect(map, bytes, PROT_NONE));
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_DONE, res.state);
	ASSERT_EQ(0, ms_rx_wait_pass(&self->m.rx, 1, RX_TIMEOUT_MS));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, 0));
	munmap(map, bytes);
}

TEST_F(stuck, owner_unmapping_and_closing_memory_mid_pass_is_harmless)
{
	struct migsend_pass_result res;
	uint8_t *copy = malloc(STUCK_LEN);

	ASSERT_NE(NULL, copy);
	memcpy(copy, self->mem.p, STUCK_LEN);
	ASSERT_EQ(0, start_stuck(&self->m, &self->bm));
	/* The module holds its own file reference: the owner's mapping and
	 * fd may go.
	 */
	ms_mem_destroy(&self->mem);
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_DONE, res.state);
	ASSERT_EQ(0, ms_rx_wait_pass(&self->m.rx, 1, RX_TIMEOUT_MS));
	EXPECT_EQ(0, memcmp(self->m.dst, copy, STUCK_LEN));
	free(copy);
}

static int count_threads(const char *prefix)
{
	char cmd[128], buf[16] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^%s'",
		 prefix);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	pclose(f);
	return atoi(buf);
}

TEST_F(stuck, close_mid_pass_stops_everything)
{
	long before = ms_slab_objects("migsend_session");

	ASSERT_EQ(0, start_stuck(&self->m, &self->bm));
	EXPECT_EQ(2, count_threads("migsend/"));
	close(self->m.dev);
	self->m.dev = -1;
	EXPECT_EQ(0, count_threads("migsend/"));
	EXPECT_EQ(before - 1, ms_slab_objects("migsend_session"));
}

TEST(sigkill_mid_pass_drops_every_reference)
{
	long before = ms_slab_objects("migsend_session");
	int status, i;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct mig m;
		struct ms_mem mem;
		struct ms_bitmap bm;

		if (mig_open(&m, 4, 0, PAGE) ||
		    ms_mem_create(&mem, STUCK_LEN, false))
			_exit(1);
		ms_mem_fill_random(&mem, 0, STUCK_LEN / PAGE, 3);
		if (ms_add_region(m.dev, mem.fd, 0, 0, STUCK_LEN) ||
		    ms_bitmap_alloc(&bm, STUCK_LEN / PAGE))
			_exit(1);
		ms_bitmap_set(&bm, 0, STUCK_LEN / PAGE);
		if (start_stuck(&m, &bm))
			_exit(1);
		printf("# child: pass blocked\n");
		fflush(stdout);
		pause();
		_exit(0);
	}
	for (i = 0; i < 100 && count_threads("migsend/") < 4; i++)
		usleep(100 * 1000);
	usleep(500 * 1000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(0, count_threads("migsend/"));
	EXPECT_EQ(before, ms_slab_objects("migsend_session"));
}

/* ----- memory that blocks on read ---------------------------------------
 *
 * A bitmap (or a stats array) in a userfaultfd-registered mapping whose
 * faults nobody serves: reading or writing it blocks until the
 * userfaultfd is closed.  Whatever blocks on it, cancel, close and
 * SIGKILL must finish at once, no task may sit in D state, and nobody but
 * the caller who passed that memory may wait.
 */
struct blocked_mem {
	int uffd;
	struct ms_bitmap bm;
	size_t bytes;
};

static int blocked_mem_create(struct blocked_mem *b, uint64_t npages)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	b->uffd = -1;
	b->bytes = ((npages + 63) / 64 * 8 + PAGE - 1) / PAGE * PAGE;
	b->bm.npages = npages;
	b->bm.words = mmap(NULL, b->bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->bm.words == MAP_FAILED)
		return -1;
	b->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (b->uffd < 0 || ioctl(b->uffd, UFFDIO_API, &api))
		return -1;
	reg.range.start = (uintptr_t)b->bm.words;
	reg.range.len = b->bytes;
	return ioctl(b->uffd, UFFDIO_REGISTER, &reg);
}

/* Closing the userfaultfd lets every waiter go on; the pages read as 0. */
static void blocked_mem_release(struct blocked_mem *b)
{
	if (b->uffd >= 0)
		close(b->uffd);
	b->uffd = -1;
}

static void blocked_mem_destroy(struct blocked_mem *b)
{
	blocked_mem_release(b);
	if (b->bm.words && b->bm.words != MAP_FAILED)
		munmap(b->bm.words, b->bytes);
}

/* Tasks named migsend* (the test, its children, the module's threads) in
 * uninterruptible sleep.
 */
static int tasks_in_d_state(void)
{
	char cmd[] = "grep -l '^[0-9]* (migsend[^)]*) D' "
		     "/proc/[0-9]*/task/[0-9]*/stat 2>/dev/null | wc -l";
	char buf[16] = "";
	FILE *f = popen(cmd, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	pclose(f);
	return atoi(buf);
}

/* An ioctl made by a thread of its own, so that the test can time it. */
struct call {
	int dev;
	unsigned long cmd;
	void *arg;
	int ret, err;
	atomic_bool done;
	pthread_t thread;
};

static void *call_run(void *arg)
{
	struct call *c = arg;

	if (c->cmd)
		c->ret = ioctl(c->dev, c->cmd, c->arg);
	else
		c->ret = close(c->dev);
	c->err = errno;
	atomic_store(&c->done, true);
	return NULL;
}

/* ioctl(dev, cmd, arg), or close(dev) for cmd 0, in a new thread. */
static int call_start(struct call *c, int dev, unsigned long cmd, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->dev = dev;
	c->cmd = cmd;
	c->arg = arg;
	return pthread_create(&c->thread, NULL, call_run, c);
}

/* Whether the call returned within @ms. */
static bool call_returns_within(struct call *c, int ms)
{
	uint64_t end = now_ms() + ms;

	while (!atomic_load(&c->done) && now_ms() < end)
		usleep(10 * 1000);
	return atomic_load(&c->done);
}

static void pass_args(struct migsend_pass *a, uint64_t pass,
		      const struct ms_bitmap *bm)
{
	*a = (struct migsend_pass){
		.pass = pass, .bitmap = (uintptr_t)bm->words,
		.npages = bm->npages, .flags = MIGSEND_PASS_SKIP_ZERO,
	};
}

TEST_F(stuck, cancel_is_bounded_when_the_bitmap_blocks_on_read)
{
	struct pollfd pfd = { .fd = self->m.dev, .events = POLLIN };
	struct migsend_pass_result res;
	struct migsend_pass a;
	struct blocked_mem b;
	struct call start;
	uint64_t t0;

	ASSERT_EQ(0, blocked_mem_create(&b, STUCK_LEN / PAGE));
	pass_args(&a, 1, &b.bm);
	ASSERT_EQ(0, call_start(&start, self->m.dev, MIGSEND_IOC_PASS_START, &a));
	usleep(300 * 1000);
	t0 = now_ms();
	ASSERT_EQ(0, ioctl(self->m.dev, MIGSEND_IOC_PASS_CANCEL));
	/* Within a second nothing runs and nothing is stuck. */
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_GT(1000, now_ms() - t0);
	EXPECT_EQ(0, tasks_in_d_state());

	/* Only the call that was handed the bitmap waits on it; once the
	 * bitmap can be read, it fails: it was cancelled.
	 */
	blocked_mem_release(&b);
	pthread_join(start.thread, NULL);
	EXPECT_EQ(-1, start.ret);
	EXPECT_EQ(ECANCELED, start.err);
	blocked_mem_destroy(&b);

	/* The session goes on as if nothing happened. */
	ASSERT_EQ(0, mig_start_rx(&self->m));
	ASSERT_EQ(0, mig_pass(&self->m, 2, &self->bm, 0, MIGSEND_PASS_SKIP_ZERO,
			      &res));
	EXPECT_TRUE(same_memory(&self->m, &self->mem, 0));
}

TEST_F(stuck, close_is_bounded_when_the_bitmap_blocks_on_read)
{
	long before = ms_slab_objects("migsend_session");
	struct migsend_pass a;
	struct blocked_mem b;
	struct call start, closing;
	int i;

	ASSERT_EQ(0, blocked_mem_create(&b, STUCK_LEN / PAGE));
	pass_args(&a, 1, &b.bm);
	ASSERT_EQ(0, call_start(&start, self->m.dev, MIGSEND_IOC_PASS_START, &a));
	usleep(300 * 1000);
	ASSERT_EQ(0, call_start(&closing, self->m.dev, 0, NULL));
	EXPECT_TRUE(call_returns_within(&closing, 1000));
	EXPECT_EQ(0, tasks_in_d_state());

	blocked_mem_release(&b);
	pthread_join(start.thread, NULL);
	pthread_join(closing.thread, NULL);
	self->m.dev = -1;
	blocked_mem_destroy(&b);
	/* The session ends once the last call on it has returned. */
	for (i = 0; i < 50 && count_threads("migsend/"); i++)
		usleep(100 * 1000);
	EXPECT_EQ(0, count_threads("migsend/"));
	EXPECT_EQ(before - 1, ms_slab_objects("migsend_session"));
}

TEST_F(stuck, stats_array_that_blocks_on_write_holds_up_only_its_caller)
{
	struct migsend_pass_result res;
	struct migsend_stats st = { .nconns = 2 };
	struct migsend_pass a;
	struct blocked_mem b;
	struct call stats, start;

	ASSERT_EQ(0, blocked_mem_create(&b, 1));
	st.conns = (uintptr_t)b.bm.words;
	ASSERT_EQ(0, call_start(&stats, self->m.dev, MIGSEND_IOC_GET_STATS, &st));
	usleep(300 * 1000);
	/* The other calls on the session go on meanwhile. */
	pass_args(&a, 1, &self->bm);
	ASSERT_EQ(0, call_start(&start, self->m.dev, MIGSEND_IOC_PASS_START, &a));
	EXPECT_TRUE(call_returns_within(&start, 1000));
	EXPECT_EQ(0, tasks_in_d_state());
	ASSERT_EQ(0, mig_start_rx(&self->m));

	blocked_mem_release(&b);
	pthread_join(stats.thread, NULL);
	pthread_join(start.thread, NULL);
	EXPECT_EQ(0, stats.ret);
	EXPECT_EQ(0, start.ret);
	ASSERT_EQ(0, ms_pass_wait(self->m.dev, &res));
	EXPECT_EQ(MIGSEND_STATE_DONE, res.state);
	blocked_mem_destroy(&b);
}

TEST(sigkill_is_bounded_when_the_bitmap_blocks_on_read)
{
	long before = ms_slab_objects("migsend_session");
	struct pollfd pfd = { .events = POLLIN };
	int pipefd[2], child_uffd = -1, uffd, status, i;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct blocked_mem b;
		struct ms_mem mem;
		struct mig m;

		if (mig_open(&m, 4, 0, PAGE) ||
		    ms_mem_create(&mem, STUCK_LEN, false) ||
		    ms_add_region(m.dev, mem.fd, 0, 0, STUCK_LEN) ||
		    blocked_mem_create(&b, STUCK_LEN / PAGE))
			_exit(1);
		if (write(pipefd[1], &b.uffd, sizeof(b.uffd)) != sizeof(b.uffd))
			_exit(1);
		ms_pass_start(m.dev, 1, &b.bm, 0, MIGSEND_PASS_SKIP_ZERO);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(sizeof(child_uffd), read(pipefd[0], &child_uffd,
					   sizeof(child_uffd)));
	close(pipefd[0]);
	/* A copy of the child's userfaultfd: closing it is the way out if
	 * the child cannot die.
	 */
	pfd.fd = syscall(SYS_pidfd_open, pid, 0);
	ASSERT_LE(0, pfd.fd);
	uffd = syscall(SYS_pidfd_getfd, pfd.fd, child_uffd, 0);
	ASSERT_LE(0, uffd);
	usleep(500 * 1000);

	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(1, poll(&pfd, 1, 1000)) TH_LOG("the child did not die within 1 s");
	EXPECT_EQ(0, tasks_in_d_state());
	close(uffd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(pfd.fd);
	EXPECT_TRUE(WIFSIGNALED(status));
	for (i = 0; i < 50 && count_threads("migsend/"); i++)
		usleep(100 * 1000);
	EXPECT_EQ(0, count_threads("migsend/"));
	EXPECT_EQ(before, ms_slab_objects("migsend_session"));
}

/* Eight sessions, each with its memory and connections, at the same time. */
struct parallel {
	int id;
	int ok;
};

static void *one_migration(void *arg)
{
	struct parallel *p = arg;
	struct migsend_pass_result res;
	struct ms_bitmap bm;
	struct ms_mem mem;
	struct mig m;
	uint64_t len = 8 * MB;

	if (mig_open(&m, 2, 0, len) || mig_start_rx(&m) ||
	    ms_mem_create(&mem, len, false) || ms_bitmap_alloc(&bm, len / PAGE))
		return NULL;
	ms_mem_fill_random(&mem, 0, len / PAGE / 2, p->id + 100);
	memset(m.dst, 0x5a, len);
	ms_bitmap_set(&bm, 0, len / PAGE);
	if (!ms_add_region(m.dev, mem.fd, 0, 0, len) &&
	    !mig_pass(&m, 1, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res) &&
	    !memcmp(m.dst, mem.p, len)) {
		ms_mem_fill_random(&mem, 0, 16, p->id + 200);
		ms_bitmap_clear_all(&bm);
		ms_bitmap_set(&bm, 0, 16);
		p->ok = !mig_pass(&m, 2, &bm, 0, MIGSEND_PASS_SKIP_ZERO, &res) &&
			!memcmp(m.dst, mem.p, len);
	}
	mig_close(&m);
	ms_mem_destroy(&mem);
	ms_bitmap_free(&bm);
	return NULL;
}

TEST(eight_sessions_migrate_at_once)
{
	struct parallel p[8];
	pthread_t t[8];
	int i;

	ASSERT_EQ(0, ms_net_setup());
	for (i = 0; i < 8; i++) {
		p[i] = (struct parallel){ .id = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, one_migration, &p[i]));
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		EXPECT_TRUE(p[i].ok) TH_LOG("session %d", i);
	}
}

TEST_HARNESS_MAIN
