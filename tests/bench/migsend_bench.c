// SPDX-License-Identifier: GPL-2.0
/*
 * migsend_bench: the send engines side by side, on the same guest memory,
 * over the same veth path, into the same receiver.
 *
 *   migsend_bench --workload W [--size MiB] [--engines e1,e2,..]
 *                 [--conns n1,n2,..] [--runs R] [--no-prealloc]
 *   migsend_bench --net-only      set up the peer namespace and exit
 *
 * The receiver preallocates the destination memory at the handshake
 * unless --no-prealloc (then its lines say workload=W-no-prealloc): the
 * receiver's CPU with and without it.
 *
 * Engines: those of migsend_engine_parse(), and kernel-dense: the kernel
 * engine with a receiver that takes no SPARSE records (DATA and ZERO
 * only, as before them).
 *
 * Workloads: random, half-zero (every other page zero, touched), holes
 * (never touched), zero (touched, all zero), scattered (a full pass first,
 * then 10 % of the pages changed at random positions: the second pass is
 * the one timed), sparse (the first 512 MiB random, the rest never
 * touched: a large guest that has used little of its memory; the
 * destination is not preallocated, so that 16 GiB fit a 4 GiB VM).
 *
 * For each engine, connection count and run: a receiver (the library's
 * migsend_receive()) is forked into the peer namespace, the sender
 * connects, the timed pass runs until every connection's END is
 * acknowledged, and the migration completes.  One line per run:
 *
 *   BENCH workload=W engine=E conns=N run=I guest_bytes=B wire_bytes=B
 *         secs=S sender_cpu_s=C receiver_cpu_s=C shmem_growth=B
 *
 * sender_cpu_s: this process (engine and reader threads) plus the
 * module's kernel threads, over the timed pass.  receiver_cpu_s: the
 * receiver process, over the whole migration.  shmem_growth: bytes of
 * the guest memfd allocated by the timed pass (reading holes through a
 * mapping allocates them).  kernel_mem_growth: the most the kernel's
 * slab and vmalloc memory grew over the timed pass (sampled every 50 ms),
 * against the module's claim that its memory does not grow with the guest.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libmigsend.h"
#include "ms_testlib.h"

#define PAGE	MIGSEND_PAGE_SIZE
/* The sparse workload: pages the guest has used, at its start. */
#define SPARSE_TOUCHED	((512ULL << 20) / PAGE)
#define PORT	"7700"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_s(const struct timeval *tv)
{
	return tv->tv_sec + tv->tv_usec / 1e6;
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_s(&ru.ru_utime) + tv_s(&ru.ru_stime);
}

/* CPU seconds of every kernel thread named migsend/... */
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

static uint64_t allocated_bytes(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_blocks * 512;
}

/* Kernel memory that a module's allocations show in: slab and vmalloc, kB. */
static uint64_t kernel_mem_kb(void)
{
	char line[128];
	uint64_t kb, total = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %" SCNu64, &kb) == 1 ||
		    sscanf(line, "VmallocUsed: %" SCNu64, &kb) == 1)
			total += kb;
	if (f)
		fclose(f);
	return total;
}

/* Samples kernel_mem_kb() until told to stop: the peak over a pass. */
struct mem_watch {
	pthread_t thread;
	volatile int stop;
	uint64_t base_kb, peak_kb;
};

static void *mem_watch_thread(void *arg)
{
	struct mem_watch *w = arg;

	while (!w->stop) {
		uint64_t kb = kernel_mem_kb();

		if (kb > w->peak_kb)
			w->peak_kb = kb;
		usleep(50000);
	}
	return NULL;
}

/* ----- the guest memory ---------------------------------------------- */

static void prepare(struct ms_mem *mem, const char *w)
{
	uint64_t i, npages = mem->len / PAGE;

	/* Start from nothing: every page a hole. */
	munmap(mem->p, mem->len);
	if (ftruncate(mem->fd, 0) || ftruncate(mem->fd, mem->len))
		exit(1);
	mem->p = mmap(NULL, mem->len, PROT_READ | PROT_WRITE, MAP_SHARED, mem->fd, 0);
	if (!strcmp(w, "random") || !strcmp(w, "scattered")) {
		ms_mem_fill_random(mem, 0, npages, 1);
	} else if (!strcmp(w, "sparse")) {
		ms_mem_fill_random(mem, 0, npages < SPARSE_TOUCHED ? npages : SPARSE_TOUCHED, 1);
	} else if (!strcmp(w, "half-zero")) {
		for (i = 0; i < npages; i++) {
			if (i % 2)
				memset(mem->p + i * PAGE, 0, PAGE);
			else
				ms_mem_fill_random(mem, i, 1, i);
		}
	} else if (!strcmp(w, "zero")) {
		memset(mem->p, 0, mem->len);
	}
}

static void scatter(struct ms_mem *mem, struct ms_bitmap *bm, unsigned int seed)
{
	uint64_t i;

	ms_bitmap_clear_all(bm);
	srand(seed);
	for (i = 0; i < bm->npages; i++) {
		if (rand() % 10 == 0) {
			mem->p[i * PAGE + 8] ^= 0x5a;
			ms_bitmap_set(bm, i, 1);
		}
	}
}

/* ----- the receiver, forked into the peer namespace ------------------- */

/*
 * BENCH_TLS=DIR: every connection encrypted (TLS 1.3, kernel TLS; user-copy
 * in userspace) with the credentials in DIR, as tests/tls/gencerts.sh makes;
 * BENCH_TLS_PRIORITY: a GnuTLS priority string (another cipher).
 */
static const struct migsend_tls_opts *bench_tls(void)
{
	static struct migsend_tls_opts t;

	t.creds_dir = getenv("BENCH_TLS");
	t.priority = getenv("BENCH_TLS_PRIORITY");
	return t.creds_dir && *t.creds_dir ? &t : NULL;
}

/*
 * @dense: the receiver announces no SPARSE records (MIGSEND_TEST_NO_SPARSE,
 * as a receiver before them did): the kernel-dense engine.
 */
static pid_t start_receiver(bool prealloc, bool dense)
{
	int ns, fd, ready[2];
	char c;
	pid_t pid;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid) {
		close(ready[1]);
		if (read(ready[0], &c, 1) != 1)
			pid = -1;
		close(ready[0]);
		return pid;
	}
	ns = open("/run/netns/" MS_PEER_NETNS, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET))
		_exit(2);
	if (dense)
		setenv("MIGSEND_TEST_NO_SPARSE", "1", 1);
	{
		/* The destination's memory is allocated at the handshake: the
		 * timed pass measures sending and receiving, not the
		 * destination's page allocator (see docs/BENCHMARKS.md).
		 */
		struct migsend_receiver_opts o = { .host = MS_PEER_ADDR, .port = PORT,
						   .listen_fd = -1, .timeout_ms = 600000,
						   .prealloc = prealloc,
						   .max_memory = UINT64_MAX,
						   .tls = bench_tls() };
		struct migsend_receiver_result r;

		fd = ms_tcp_listen_fd(MS_PEER_ADDR, PORT);
		if (fd < 0)
			_exit(3);
		o.listen_fd = fd;
		/* Its own name: a profile tells the receiver from the sender. */
		prctl(PR_SET_NAME, "bench-receiver");
		if (write(ready[1], "x", 1) != 1)
			_exit(4);
		if (migsend_receive(&o, &r)) {
			fprintf(stderr, "bench receiver: %s\n", migsend_last_error());
			_exit(5);
		}
		_exit(0);
	}
}

/* ----- one run ---------------------------------------------------------- */

struct run {
	const char *workload;
	enum migsend_engine engine;
	int conns;
	int index;
	struct ms_mem *mem;
	struct ms_bitmap *bm;
	uint64_t kmem_growth;		/* bytes, over the timed pass */
	bool no_prealloc;		/* --no-prealloc: the receiver's memory faults in */
	bool dense;			/* kernel-dense: no SPARSE records */
};

/*
 * With BENCH_PERF_CTL naming the control fifo of a 'perf record --control
 * fifo:...' started disabled, the profile covers the timed pass only.
 */
static void perf_control(const char *cmd)
{
	const char *path = getenv("BENCH_PERF_CTL");
	int fd;

	if (!path)
		return;
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, cmd, strlen(cmd)) < 0)
		perror("migsend_bench: perf control");
	close(fd);
}

static int timed_pass(struct migsend_sender *snd, struct migsend_session *s,
		      struct run *r, uint64_t pass, double *secs, double *cpu,
		      uint64_t *wire)
{
	struct migsend_pass_info info;
	double t0, c0;
	int err;

	(void)s;
	struct mem_watch mw = { 0 };

	mw.base_kb = mw.peak_kb = kernel_mem_kb();
	if (pthread_create(&mw.thread, NULL, mem_watch_thread, &mw))
		return -1;
	perf_control("enable\n");
	c0 = self_cpu_s() + kthread_cpu_s();
	t0 = now_s();
	err = migsend_sender_pass(snd, pass, r->bm->words, 0, r->bm->npages,
				  MIGSEND_PASS_SKIP_ZERO, &info);
	if (!err)
		err = migsend_sender_wait_acked(snd, pass, 600000);
	*secs = now_s() - t0;
	perf_control("disable\n");
	mw.stop = 1;
	pthread_join(mw.thread, NULL);
	r->kmem_growth = (mw.peak_kb - mw.base_kb) * 1024;
	*cpu = self_cpu_s() + kthread_cpu_s() - c0;
	*wire = info.wire_bytes;
	return err;
}

static int run_once(struct run *r)
{
	struct migsend_sender_opts so = { .host = MS_PEER_ADDR, .port = PORT,
					  .nconns = r->conns, .pass_timeout_ms = 120000,
					  .tls = bench_tls() };
	struct migsend_session *s = NULL;
	struct migsend_sender *snd = NULL;
	uint64_t wire = 0, pass = 1, guest, grown;
	double secs = 0, cpu = 0;
	struct rusage ru;
	int err, status;
	pid_t pid;

	if (!strcmp(r->workload, "holes") || !strcmp(r->workload, "sparse"))
		prepare(r->mem, r->workload);	/* holes again: a run may have filled them */
	ms_bitmap_set(r->bm, 0, r->bm->npages);
	/* sparse never preallocates: 16 GiB must fit a 4 GiB VM. */
	pid = start_receiver(!r->no_prealloc && strcmp(r->workload, "sparse"), r->dense);
	if (pid < 0)
		return -1;
	err = migsend_session_open_engine(&s, r->engine);
	if (!err)
		err = migsend_add_region(s, r->mem->fd, 0, 0, r->mem->len);
	if (!err)
		err = migsend_sender_connect(s, &so, &snd);
	if (!err && !strcmp(r->workload, "scattered")) {
		err = timed_pass(snd, s, r, pass++, &secs, &cpu, &wire);
		scatter(r->mem, r->bm, r->index + 1);
	}
	guest = ms_bitmap_count(r->bm) * PAGE;
	grown = allocated_bytes(r->mem->fd);
	if (!err)
		err = timed_pass(snd, s, r, pass, &secs, &cpu, &wire);
	grown = allocated_bytes(r->mem->fd) - grown;
	if (!err)
		err = migsend_sender_complete(snd, pass, 600000);
	if (err)
		fprintf(stderr, "migsend_bench: %s: %s\n", migsend_engine_name(r->engine),
			migsend_last_error());
	migsend_sender_close(snd);
	migsend_session_close(s);
	if (err)
		kill(pid, SIGKILL);
	if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		err = err ? err : -1;
	if (err)
		return -1;
	/* Without preallocation: a table of its own. */
	printf("BENCH workload=%s%s engine=%s conns=%d run=%d guest_bytes=%llu wire_bytes=%llu secs=%.4f sender_cpu_s=%.3f receiver_cpu_s=%.3f shmem_growth=%llu kernel_mem_growth=%llu tls=%d\n",
	       r->workload, r->no_prealloc ? "-no-prealloc" : "",
	       r->dense ? "kernel-dense" : migsend_engine_name(r->engine), r->conns, r->index,
	       (unsigned long long)guest, (unsigned long long)wire, secs, cpu,
	       tv_s(&ru.ru_utime) + tv_s(&ru.ru_stime), (unsigned long long)grown,
	       (unsigned long long)r->kmem_growth, bench_tls() != NULL);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "conns", required_argument, NULL, 'c' },
		{ "engines", required_argument, NULL, 'e' },
		{ "workload", required_argument, NULL, 'w' },
		{ "runs", required_argument, NULL, 'r' },
		{ "net-only", no_argument, NULL, 'n' },
		{ "no-prealloc", no_argument, NULL, 'P' },
		{ 0 }
	};
	char engines[256] = "kernel,user-copy,user-zc,user-sendfile", conns[64] = "2";
	const char *workload = "random";
	uint64_t size = 1024ULL << 20;
	int runs = 3, opt, failed = 0;
	bool no_prealloc = false;
	struct ms_bitmap bm;
	struct ms_mem mem;
	char *e, *c, *se, *sc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': size = strtoull(optarg, NULL, 0) << 20; break;
		case 'c': snprintf(conns, sizeof(conns), "%s", optarg); break;
		case 'e': snprintf(engines, sizeof(engines), "%s", optarg); break;
		case 'w': workload = optarg; break;
		case 'r': runs = atoi(optarg); break;
		case 'n': return ms_net_setup() ? 1 : 0;
		case 'P': no_prealloc = true; break;
		default: return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (ms_net_setup() || ms_mem_create(&mem, size, false) ||
	    ms_bitmap_alloc(&bm, size / PAGE)) {
		perror("migsend_bench: setup");
		return 1;
	}
	prepare(&mem, workload);
	for (e = strtok_r(engines, ",", &se); e; e = strtok_r(NULL, ",", &se)) {
		char conns_copy[64];

		snprintf(conns_copy, sizeof(conns_copy), "%s", conns);
		for (c = strtok_r(conns_copy, ",", &sc); c; c = strtok_r(NULL, ",", &sc)) {
			struct run r = { .workload = workload, .conns = atoi(c),
					 .mem = &mem, .bm = &bm, .no_prealloc = no_prealloc };

			r.dense = !strcmp(e, "kernel-dense");
			if (migsend_engine_parse(r.dense ? "kernel" : e, &r.engine))
				return 2;
			for (r.index = 0; r.index < runs; r.index++)
				failed |= run_once(&r) != 0;
		}
	}
	return failed;
}
