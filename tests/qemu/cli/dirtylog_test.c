// SPDX-License-Identifier: GPL-2.0
/*
 * dirtylog_test: libmigsend's soft-dirty log of another process (TAP).
 *
 *   dirtylog_test          the tests; which ones depends on the kernel:
 *                          without CONFIG_MEM_SOFT_DIRTY only the error
 *                          path can be tested (and is: the build host)
 *   dirtylog_test bench [MiB]
 *                          the cost of a take for a fully mapped guest
 *                          (default 1024 MiB): clear, read with each
 *                          method at 0 %, 1 % and 100 % dirty, and a take
 *                          with the writer stopped around it
 *
 * The window test: a writer process sweeps its shared memory once, page
 * after page, writing an increasing sequence number into each; the tracker
 * keeps a copy up to date from the dirty log, round after round, as a
 * pre-copy loop does.  With the writer stopped around each take, the copy
 * equals the memory at the end.  Without the stop (the control), pages
 * first written between the read and the clear are lost: the copy is
 * stale, and the test insists it is, so that it can catch the window.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libmigsend.h"

#define PAGE		4096ULL
#define GPA_BASE	(1ULL << 32)	/* the log does not start at 0 */

static int tests_run, tests_failed;

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d ", ok ? "ok" : "not ok", ++tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		tests_failed++;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool test_bit(const uint64_t *w, uint64_t i)
{
	return le64toh(w[i / 64]) >> (i % 64) & 1;
}

static uint64_t count_bits(const uint64_t *w, uint64_t n)
{
	uint64_t i, c = 0;

	for (i = 0; i < n; i++)
		c += test_bit(w, i);
	return c;
}

/* ----- a writer process sharing our memory ------------------------------ */

/* The control page the writer and the tracker share. */
struct ctl {
	volatile uint32_t go;		/* tracker -> writer: command number */
	volatile uint32_t done;		/* writer -> tracker: last command done */
	volatile uint64_t npages;	/* pages to write (list below, or sweep) */
	volatile uint64_t stride;	/* sweep: every stride-th page */
	volatile uint32_t list;		/* write the pages of pages[] */
	volatile uint64_t swept;	/* writer -> tracker: pages of the sweep written */
	volatile uint32_t pages[1000];
};

struct shm {
	uint8_t *mem;
	uint64_t npages;
	struct ctl *ctl;
	pid_t writer;
};

static void *map_shared(uint64_t len, const char *hugefile)
{
	int fd = hugefile ? open(hugefile, O_RDWR | O_CREAT | O_CLOEXEC, 0600) :
			    memfd_create("dirtylog-test", MFD_CLOEXEC);
	void *p;

	if (fd < 0 || ftruncate(fd, len)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (hugefile)
		unlink(hugefile);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * The writer: for each command, a list of pages or a sweep (page after
 * page, an increasing sequence number in each), then done; until killed.
 */
static void writer_main(struct shm *s)
{
	uint64_t i, seq = 1, stride;
	uint32_t cmd = 0;

	for (;;) {
		while (s->ctl->go == cmd)
			usleep(100);
		cmd = s->ctl->go;
		stride = s->ctl->stride ? s->ctl->stride : 1;
		if (s->ctl->list) {
			for (i = 0; i < s->ctl->npages; i++)
				*(volatile uint64_t *)(s->mem + s->ctl->pages[i] * PAGE) = seq++;
		} else {
			for (i = 0; i < s->ctl->npages; i += stride) {
				volatile uint64_t *w = (volatile uint64_t *)(s->mem + i * PAGE);

				w[0] = seq;
				w[1] = ~seq;
				seq++;
				s->ctl->swept = i + 1;
			}
		}
		s->ctl->done = cmd;
	}
}

/* Have the writer write, and wait until it has. */
static void writer_run(struct shm *s, bool list, uint64_t npages, uint64_t stride, bool wait)
{
	s->ctl->list = list;
	s->ctl->npages = npages;
	s->ctl->stride = stride;
	s->ctl->swept = 0;
	s->ctl->go++;
	while (wait && s->ctl->done != s->ctl->go)
		usleep(200);
}

static int shm_start(struct shm *s, uint64_t npages, const char *hugefile)
{
	memset(s, 0, sizeof(*s));
	s->npages = npages;
	s->mem = map_shared(npages * PAGE, hugefile);
	s->ctl = map_shared(PAGE, NULL);
	if (!s->mem || !s->ctl)
		return -1;
	s->writer = fork();
	if (s->writer < 0)
		return -1;
	if (!s->writer)
		writer_main(s);
	return 0;
}

static void shm_stop(struct shm *s)
{
	if (s->writer > 0) {
		kill(s->writer, SIGKILL);
		waitpid(s->writer, NULL, 0);
	}
	if (s->mem)
		munmap(s->mem, s->npages * PAGE);
	if (s->ctl)
		munmap(s->ctl, PAGE);
	s->writer = 0;
}

/* Stop the writer and wait until it is stopped, or let it go on. */
static void writer_pause(pid_t pid, bool stop)
{
	int st;

	if (stop) {
		kill(pid, SIGSTOP);
		waitpid(pid, &st, WUNTRACED);
	} else {
		kill(pid, SIGCONT);
	}
}

static int open_log(struct shm *s, enum migsend_dirtylog_method m, struct migsend_dirtylog **d)
{
	struct migsend_dirtylog_range r = {
		.addr = (uintptr_t)s->mem, .gpa = GPA_BASE, .len = s->npages * PAGE,
	};
	int err = migsend_dirtylog_open(s->writer, &r, 1, GPA_BASE, s->npages, m, d);

	if (err)
		printf("# dirtylog_open: %s\n", migsend_last_error());
	return err;
}

/* ----- the tests ------------------------------------------------------------ */

static void test_missing_soft_dirty(void)
{
	struct migsend_dirtylog_range r = { .addr = 0x10000, .gpa = 0, .len = PAGE };
	struct migsend_dirtylog *d = NULL;
	int err = migsend_dirtylog_open(getpid(), &r, 1, 0, 1, MIGSEND_DIRTYLOG_AUTO, &d);

	printf("# %s\n", migsend_last_error());
	tap(err == -EOPNOTSUPP && !d && strstr(migsend_last_error(), "CONFIG_MEM_SOFT_DIRTY"),
	    "without soft-dirty bits the log is refused with EOPNOTSUPP naming CONFIG_MEM_SOFT_DIRTY");
}

static void test_bad_ranges(void)
{
	struct migsend_dirtylog_range r[2] = {
		{ .addr = 0x10000, .gpa = GPA_BASE, .len = 2 * PAGE },
		{ .addr = 0x20000, .gpa = GPA_BASE + PAGE, .len = PAGE },
	};
	struct migsend_dirtylog *d = NULL;
	bool ok = true;
	uint8_t *p;

	/* Overlapping in the log. */
	ok &= migsend_dirtylog_open(getpid(), r, 2, GPA_BASE, 4, 0, &d) == -EINVAL;
	/* Unaligned, outside the log. */
	r[0].addr = 0x10001;
	ok &= migsend_dirtylog_open(getpid(), r, 1, GPA_BASE, 4, 0, &d) == -EINVAL;
	r[0].addr = 0x10000;
	ok &= migsend_dirtylog_open(getpid(), r, 1, GPA_BASE + PAGE, 4, 0, &d) == -EINVAL;
	/* Not mapped by the process. */
	p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p + 2 * PAGE, PAGE);
	r[0].addr = (uintptr_t)p;
	r[0].len = 4 * PAGE;
	ok &= migsend_dirtylog_open(getpid(), r, 1, GPA_BASE, 4, 0, &d) == -EINVAL;
	printf("# last: %s\n", migsend_last_error());
	munmap(p, 4 * PAGE);
	ok &= !d;
	tap(ok, "ranges unaligned, overlapping, outside the log or unmapped are refused with EINVAL");
}

/* The writer writes a known set of pages: the log is exactly that set. */
static void test_exact(enum migsend_dirtylog_method m, const char *name)
{
	struct migsend_dirtylog *d = NULL;
	const uint64_t *bm;
	uint64_t i, npages = 4096, want = 0;
	bool ok = false, expect[4096] = { false };
	struct shm s;

	srandom(7);
	if (shm_start(&s, npages, NULL) || open_log(&s, m, &d))
		goto out;
	/* Half the pages touched before the clear: mapped, clean after it. */
	for (i = 0; i < 1000; i++)
		s.ctl->pages[i] = i * 2;
	writer_run(&s, true, 1000, 0, true);
	if (migsend_dirtylog_clear(d) || migsend_dirtylog_read(d, false, &bm) ||
	    count_bits(bm, npages)) {
		printf("# after the clear: %llu dirty pages\n",
		       (unsigned long long)(bm ? count_bits(bm, npages) : 0));
		goto out;
	}
	shm_stop(&s);
	migsend_dirtylog_close(d);
	d = NULL;

	/* A fresh writer: random pages, mapped or not before. */
	if (shm_start(&s, npages, NULL) || open_log(&s, m, &d))
		goto out;
	for (i = 0; i < 1000; i++)
		*(volatile uint8_t *)(s.mem + i * 3 * PAGE) = 1;	/* parent's writes: not the writer's */
	if (migsend_dirtylog_clear(d))
		goto out;
	for (i = 0; i < 1000; i++) {
		s.ctl->pages[i] = random() % npages;
		if (!expect[s.ctl->pages[i]])
			want++;
		expect[s.ctl->pages[i]] = true;
	}
	writer_run(&s, true, 1000, 0, true);
	if (migsend_dirtylog_read(d, false, &bm))
		goto out;
	ok = count_bits(bm, npages) == want;
	for (i = 0; ok && i < npages; i++)
		ok = test_bit(bm, i) == expect[i];
	printf("# %s: %llu pages written, %llu in the log\n", name,
	       (unsigned long long)want, (unsigned long long)count_bits(bm, npages));
out:
	tap(ok, "%s: the log holds exactly the pages the process wrote since the clear", name);
	migsend_dirtylog_close(d);
	shm_stop(&s);
}

#define WINDOW_ROUNDS	64		/* about this many takes per sweep */
#define WINDOW_LIMIT_MS	120000

/*
 * With the writer stopped around each take, let it sweep a share of the
 * memory before the next one, as a guest runs between two takes of a
 * pass: a tracker that stopped it again at once could leave it no time at
 * all on a busy machine (seen: a CI run where this test never ended).
 */
static bool writer_advance(struct shm *s, uint64_t from, double deadline)
{
	uint64_t step = s->npages / WINDOW_ROUNDS;

	while (s->ctl->done != s->ctl->go && s->ctl->swept < from + step) {
		if (now_ms() > deadline)
			return false;
		usleep(100);
	}
	return true;
}

/*
 * Rounds of take + copy while the writer sweeps; returns the number of
 * pages whose copy is stale at the end, or -1 (also when the sweep has not
 * ended within WINDOW_LIMIT_MS: the test's time is bounded).
 */
static long window_run(uint64_t npages, bool stop_around_take, unsigned int *rounds)
{
	struct migsend_dirtylog *d = NULL;
	const uint64_t *bm;
	uint8_t *copy = NULL;
	long stale = -1;
	double deadline;
	uint64_t i;
	struct shm s;
	bool last;

	*rounds = 0;
	if (shm_start(&s, npages, NULL) || open_log(&s, MIGSEND_DIRTYLOG_AUTO, &d))
		goto out;
	copy = calloc(npages, PAGE);
	if (!copy || migsend_dirtylog_clear(d))
		goto out;
	/* Pass 1: everything (nothing written yet). */
	memcpy(copy, s.mem, npages * PAGE);
	deadline = now_ms() + WINDOW_LIMIT_MS;
	writer_run(&s, false, npages, 1, false);
	do {
		uint64_t swept;

		if (now_ms() > deadline) {
			printf("# the writer's sweep did not end within %d s\n", WINDOW_LIMIT_MS / 1000);
			goto out;
		}
		last = s.ctl->done == s.ctl->go;	/* finished before this take */
		if (stop_around_take)
			writer_pause(s.writer, true);
		swept = s.ctl->swept;
		if (migsend_dirtylog_take(d, &bm)) {
			printf("# take: %s\n", migsend_last_error());
			if (stop_around_take)
				writer_pause(s.writer, false);
			goto out;
		}
		if (stop_around_take) {
			writer_pause(s.writer, false);
			if (!last && !writer_advance(&s, swept, deadline))
				continue;	/* the deadline, checked above */
		}
		for (i = 0; i < npages; i++)
			if (test_bit(bm, i))
				memcpy(copy + i * PAGE, s.mem + i * PAGE, PAGE);
		(*rounds)++;
	} while (!last);
	stale = 0;
	for (i = 0; i < npages; i++)
		stale += memcmp(copy + i * PAGE, s.mem + i * PAGE, PAGE) != 0;
out:
	free(copy);
	migsend_dirtylog_close(d);
	shm_stop(&s);
	return stale;
}

static void test_window(uint64_t npages)
{
	unsigned int rounds, tries;
	long stale;

	stale = window_run(npages, true, &rounds);
	printf("# writer stopped around each take: %u rounds, %ld of %llu pages stale\n",
	       rounds, stale, (unsigned long long)npages);
	tap(stale == 0 && rounds > 1,
	    "a writer stopped around each take loses no write (%u rounds)", rounds);

	/* The control: the same without the stop must lose writes. */
	for (tries = 0; tries < 3; tries++) {
		stale = window_run(npages, false, &rounds);
		printf("# writer running during the takes: %u rounds, %ld of %llu pages stale\n",
		       rounds, stale, (unsigned long long)npages);
		if (stale > 0)
			break;
	}
	tap(stale > 0, "control: takes while the writer runs lose writes (the test sees the window)");
}

static void test_scan_agrees(void)
{
	struct migsend_dirtylog *a = NULL, *b = NULL;
	const uint64_t *ba, *bb;
	uint64_t i, npages = 65536;
	bool ok = false;
	struct shm s;
	int err;

	if (shm_start(&s, npages, NULL) || open_log(&s, MIGSEND_DIRTYLOG_PAGEMAP, &a))
		goto out;
	err = open_log(&s, MIGSEND_DIRTYLOG_SCAN, &b);
	if (err == -EOPNOTSUPP) {
		tap(strstr(migsend_last_error(), "PAGEMAP_SCAN") != NULL,
		    "PAGEMAP_SCAN asked for where the kernel lacks it (before 6.7): EOPNOTSUPP");
		goto done;
	}
	if (err || migsend_dirtylog_clear(a))
		goto out;
	/* Every third page: more dirty ranges than one PAGEMAP_SCAN call returns. */
	writer_run(&s, false, npages, 3, true);
	if (migsend_dirtylog_read(a, false, &ba) || migsend_dirtylog_read(b, false, &bb))
		goto out;
	ok = count_bits(ba, npages) == (npages + 2) / 3;
	for (i = 0; ok && i < (npages + 63) / 64; i++)
		ok = ba[i] == bb[i];
	printf("# %llu dirty pages in each log\n", (unsigned long long)count_bits(bb, npages));
out:
	tap(ok, "PAGEMAP_SCAN and pagemap give the same log");
done:
	migsend_dirtylog_close(a);
	migsend_dirtylog_close(b);
	shm_stop(&s);
}

/* hugetlbfs keeps no soft-dirty bits: dirty in a final read only. */
static void test_hugetlb(void)
{
	struct migsend_dirtylog *d = NULL;
	uint64_t npages = 1024;		/* two 2 MiB pages */
	const uint64_t *bm;
	bool ok = false;
	struct shm s;

	if (shm_start(&s, npages, "/dev/hugepages/dirtylog-test")) {
		printf("# cannot map 4 MiB of hugetlbfs (/dev/hugepages): %s\n", strerror(errno));
		goto out;
	}
	if (open_log(&s, MIGSEND_DIRTYLOG_AUTO, &d) || !migsend_dirtylog_untracked(d))
		goto out;
	writer_run(&s, false, npages, 1, true);
	if (migsend_dirtylog_take(d, &bm) || count_bits(bm, npages))
		goto out;
	if (migsend_dirtylog_read(d, true, &bm))
		goto out;
	ok = count_bits(bm, npages) == npages;
out:
	tap(ok, "hugetlbfs memory: clean in every take, all dirty in the final read");
	migsend_dirtylog_close(d);
	shm_stop(&s);
}

/* ----- the benchmark ---------------------------------------------------------- */

#define BENCH_REPS	5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/*
 * The writer maps and writes all of its memory first (a guest that
 * touched all its RAM), then, after each clear, every stride-th page;
 * the take is timed with the writer stopped around it, as the QEMU path
 * stops the vCPUs.  Medians of BENCH_REPS.
 */
static int bench(uint64_t mib)
{
	static const enum migsend_dirtylog_method m[2] = {
		MIGSEND_DIRTYLOG_PAGEMAP, MIGSEND_DIRTYLOG_SCAN,
	};
	static const uint64_t stride[3] = { 0, 100, 1 };
	static const char *const pct[3] = { "0", "1", "100" };
	double rd[BENCH_REPS], cl[BENCH_REPS], tk[BENCH_REPS];
	uint64_t npages = mib << 8;
	struct migsend_dirtylog_stats st;
	const uint64_t *bm;
	unsigned int k, j, r;
	struct shm s;

	printf("# soft-dirty log of %llu MiB, all of it mapped by the writer; medians of %d\n",
	       (unsigned long long)mib, BENCH_REPS);
	if (shm_start(&s, npages, NULL))
		return 1;
	writer_run(&s, false, npages, 1, true);
	for (k = 0; k < 2; k++) {
		struct migsend_dirtylog *d = NULL;

		if (open_log(&s, m[k], &d))
			continue;
		for (j = 0; j < 3; j++) {
			for (r = 0; r < BENCH_REPS; r++) {
				double t;

				migsend_dirtylog_clear(d);
				if (stride[j])
					writer_run(&s, false, npages, stride[j], true);
				t = now_ms();
				writer_pause(s.writer, true);
				migsend_dirtylog_take(d, &bm);
				writer_pause(s.writer, false);
				tk[r] = now_ms() - t;
				migsend_dirtylog_last(d, &st);
				rd[r] = st.read_ns / 1e6;
				cl[r] = st.clear_ns / 1e6;
			}
			printf("bench %s dirty_pct %s read_ms %.2f clear_ms %.2f take_stopped_ms %.2f dirty_pages %llu\n",
			       migsend_dirtylog_method_name(m[k]), pct[j], median(rd, BENCH_REPS),
			       median(cl, BENCH_REPS), median(tk, BENCH_REPS),
			       (unsigned long long)st.dirty_pages);
		}
		migsend_dirtylog_close(d);
	}
	shm_stop(&s);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t window_pages = 32768;	/* 128 MiB */
	const char *env = getenv("DIRTYLOG_WINDOW_MIB");

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "bench"))
		return bench(argc > 2 ? strtoull(argv[2], NULL, 0) : 1024);
	if (env)
		window_pages = strtoull(env, NULL, 0) << 8;
	printf("TAP version 13\n");
	if (migsend_dirtylog_supported()) {
		printf("# %s\n", migsend_last_error());
		printf("1..1\n");
		test_missing_soft_dirty();
		return tests_failed ? 1 : 0;
	}
	printf("1..7\n");
	test_bad_ranges();
	test_exact(MIGSEND_DIRTYLOG_PAGEMAP, "pagemap");
	test_exact(MIGSEND_DIRTYLOG_AUTO, "auto");
	test_scan_agrees();
	test_window(window_pages);
	test_hugetlb();
	return tests_failed ? 1 : 0;
}
