// SPDX-License-Identifier: GPL-2.0
/*
 * migsend_bench: time passes of the kernel engine over real TCP into the
 * peer network namespace, with the reference receiver applying them.
 *
 *   migsend_bench [--size MiB] [--conns N] [--workload W] [--runs R]
 *   migsend_bench --net-only     (set up the namespaces and exit)
 *
 * Workloads: random (all pages random), half-zero (every other page zero),
 * holes (never touched), zero (touched, all zero), scattered (a random
 * pass first, then 10 % of the pages dirty at random positions: the
 * scattered pass is what is timed).
 *
 * Prints one line per run:
 *   BENCH engine=kernel workload=W conns=N guest_bytes=B wire_bytes=B
 *         secs=S sender_cpu_s=C receiver_cpu_s=C
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ms_testlib.h"

#define PAGE	MIGSEND_PAGE_SIZE

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of every thread whose name starts with "migsend/". */
static double kthread_cpu_s(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	double total = 0;
	long hz = sysconf(_SC_CLK_TCK);

	while (d && (e = readdir(d))) {
		char path[300], buf[512], *p;
		unsigned long ut, st;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && strstr(buf, "(migsend/")) {
			p = strrchr(buf, ')');
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
					&ut, &st) == 2)
				total += (double)(ut + st) / hz;
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return total;
}

static double rx_cpu_s(struct ms_rx *rx)
{
	double t = 0;
	clockid_t id;
	int i;

	for (i = 0; i < rx->nconns; i++)
		if (!pthread_getcpuclockid(rx->conns[i].thread, &id))
			t += clock_s(id);
	return t;
}

static void prepare(struct ms_mem *mem, struct ms_bitmap *bm, const char *w,
		    uint64_t npages)
{
	uint64_t i;

	ms_bitmap_clear_all(bm);
	if (!strcmp(w, "random") || !strcmp(w, "scattered")) {
		ms_mem_fill_random(mem, 0, npages, 1);
	} else if (!strcmp(w, "half-zero")) {
		for (i = 0; i < npages; i++) {
			if (i % 2)
				memset(mem->p + i * PAGE, 0, PAGE);
			else
				ms_mem_fill_random(mem, i, 1, i);
		}
	} else if (!strcmp(w, "zero")) {
		memset(mem->p, 0, npages * PAGE);
	}
	ms_bitmap_set(bm, 0, npages);
}

static void scatter(struct ms_mem *mem, struct ms_bitmap *bm, uint64_t npages)
{
	uint64_t i;

	ms_bitmap_clear_all(bm);
	srand(7);
	for (i = 0; i < npages; i++) {
		if (rand() % 10 == 0) {
			mem->p[i * PAGE] ^= 1;
			ms_bitmap_set(bm, i, 1);
		}
	}
}

static int run_pass(int dev, struct ms_rx *rx, uint64_t pass,
		    const struct ms_bitmap *bm)
{
	struct migsend_pass_result res;

	if (ms_pass_start(dev, pass, bm, 0, MIGSEND_PASS_SKIP_ZERO) ||
	    ms_pass_wait(dev, &res))
		return -errno;
	if (res.state != MIGSEND_STATE_DONE)
		return -res.error;
	return ms_rx_wait_pass(rx, pass, 600000);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "conns", required_argument, NULL, 'c' },
		{ "workload", required_argument, NULL, 'w' },
		{ "runs", required_argument, NULL, 'r' },
		{ "net-only", no_argument, NULL, 'n' },
		{ 0 }
	};
	uint64_t size = 256ULL << 20, npages, pass = 0;
	int conns = 2, runs = 3, opt, dev, r, snd[64], rcv[64];
	const char *workload = "random";
	struct ms_bitmap bm;
	struct ms_mem mem;
	struct ms_rx rx;
	uint8_t *dst;

	while ((opt = getopt_long(argc, argv, "s:c:w:r:n", opts, NULL)) != -1) {
		switch (opt) {
		case 's': size = strtoull(optarg, NULL, 0) << 20; break;
		case 'c': conns = atoi(optarg); break;
		case 'w': workload = optarg; break;
		case 'r': runs = atoi(optarg); break;
		case 'n': return ms_net_setup() ? 1 : 0;
		default: return 2;
		}
	}
	if (conns < 1 || conns > 64)
		return 2;
	npages = size / PAGE;
	dev = ms_open();
	if (dev < 0 || ms_tcp_pairs(conns, snd, rcv) ||
	    ms_mem_create(&mem, size, false) || ms_bitmap_alloc(&bm, npages)) {
		perror("migsend_bench: setup");
		return 1;
	}
	dst = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (r = 0; r < conns; r++)
		ms_add_sock(dev, snd[r]);
	if (dst == MAP_FAILED || ms_add_region(dev, mem.fd, 0, 0, size) ||
	    ms_rx_start(&rx, dst, 0, size, rcv, conns)) {
		perror("migsend_bench: session");
		return 1;
	}
	prepare(&mem, &bm, workload, npages);
	for (r = 0; r < runs; r++) {
		struct migsend_stats st = { 0 };
		double t0, t1, k0, rx0;
		int err;

		if (!strcmp(workload, "scattered")) {
			ms_bitmap_set(&bm, 0, npages);
			run_pass(dev, &rx, ++pass, &bm);
			scatter(&mem, &bm, npages);
		}
		k0 = kthread_cpu_s() + clock_s(CLOCK_THREAD_CPUTIME_ID);
		rx0 = rx_cpu_s(&rx);
		t0 = now_s();
		err = run_pass(dev, &rx, ++pass, &bm);
		t1 = now_s();
		if (err) {
			fprintf(stderr, "migsend_bench: pass failed: %s %s\n",
				strerror(-err), rx.errmsg);
			return 1;
		}
		ioctl(dev, MIGSEND_IOC_GET_STATS, &st);
		printf("BENCH engine=kernel workload=%s conns=%d guest_bytes=%llu wire_bytes=%llu secs=%.4f sender_cpu_s=%.3f receiver_cpu_s=%.3f\n",
		       workload, conns,
		       (unsigned long long)(st.last.dirty_pages * PAGE),
		       (unsigned long long)st.last.wire_bytes, t1 - t0,
		       kthread_cpu_s() + clock_s(CLOCK_THREAD_CPUTIME_ID) - k0,
		       rx_cpu_s(&rx) - rx0);
		fflush(stdout);
	}
	close(dev);
	ms_rx_stop(&rx);
	return 0;
}
