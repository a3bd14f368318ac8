// SPDX-License-Identifier: GPL-2.0
#include "ms_testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ms_wire.h"

long ms_slab_objects(const char *cache)
{
	char path[256], line[512];
	long active = -1;
	FILE *f;
	size_t n = strlen(cache);

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", cache);
	f = fopen(path, "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, cache, n) && line[n] == ' ') {
			active = strtol(line + n, NULL, 10);
			break;
		}
	}
	fclose(f);
	return active;
}

int ms_drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[cap / 32].effective &= ~(1U << (cap % 32));
	return syscall(SYS_capset, &hdr, data);
}

/*
 * iproute2's ip, by path: busybox's shell (the VM's /bin/sh) runs its own
 * applet for a bare "ip", and that one knows no network namespaces.
 */
const char *ms_ip(void)
{
	static const char *const paths[] = {
		"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip",
	};
	unsigned int i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return "ip";
}

/* Idempotent across processes: the harness forks for every test. */
int ms_net_setup(void)
{
	char cmd[1024];
	const char *ip = ms_ip();

	if (!access("/run/netns/" MS_PEER_NETNS, F_OK))
		return 0;
	snprintf(cmd, sizeof(cmd),
		 "%1$s netns add " MS_PEER_NETNS " &&"
		 " %1$s link add ms0 type veth peer name ms1 &&"
		 " %1$s link set ms1 netns " MS_PEER_NETNS " &&"
		 " %1$s addr add " MS_LOCAL_ADDR "/24 dev ms0 &&"
		 " %1$s link set ms0 up &&"
		 " %1$s -n " MS_PEER_NETNS " addr add " MS_PEER_ADDR "/24 dev ms1 &&"
		 " %1$s -n " MS_PEER_NETNS " link set ms1 up &&"
		 " %1$s -n " MS_PEER_NETNS " link set lo up", ip);
	if (system(cmd)) {
		fprintf(stderr, "# cannot set up the peer network namespace\n");
		return -1;
	}
	return 0;
}

struct ms_listener {
	int fd;
	int err;
	uint16_t port;
};

/* Sockets belong to the netns of the thread that creates them. */
static void *ms_listen_in_peer(void *arg)
{
	struct ms_listener *l = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int ns;

	l->fd = -1;
	ns = open("/run/netns/" MS_PEER_NETNS, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		l->err = -errno;
		if (ns >= 0)
			close(ns);
		return NULL;
	}
	close(ns);
	inet_pton(AF_INET, MS_PEER_ADDR, &sa.sin_addr);
	l->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(l->fd, 256) ||
	    getsockname(l->fd, (struct sockaddr *)&sa, &len)) {
		l->err = -errno;
		return NULL;
	}
	l->port = ntohs(sa.sin_port);
	return NULL;
}

int ms_tcp_pairs(int n, int *send_fds, int *recv_fds)
{
	struct ms_listener l = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	pthread_t t;
	int i;

	if (ms_net_setup())
		return -1;
	if (pthread_create(&t, NULL, ms_listen_in_peer, &l))
		return -1;
	pthread_join(t, NULL);
	if (l.err) {
		errno = -l.err;
		return -1;
	}
	inet_pton(AF_INET, MS_PEER_ADDR, &sa.sin_addr);
	sa.sin_port = htons(l.port);
	for (i = 0; i < n; i++) {
		send_fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (send_fds[i] < 0 ||
		    connect(send_fds[i], (struct sockaddr *)&sa, sizeof(sa)))
			return -1;
		recv_fds[i] = accept(l.fd, NULL, NULL);
		if (recv_fds[i] < 0)
			return -1;
	}
	close(l.fd);
	return 0;
}

void ms_close_fds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int ms_mem_create(struct ms_mem *m, size_t len, bool huge)
{
	m->len = len;
	m->fd = memfd_create(huge ? "ms-guest-huge" : "ms-guest",
			     huge ? MFD_HUGETLB : 0);
	if (m->fd < 0)
		return -1;
	if (ftruncate(m->fd, len)) {
		close(m->fd);
		return -1;
	}
	m->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->p == MAP_FAILED) {
		close(m->fd);
		return -1;
	}
	return 0;
}

void ms_mem_destroy(struct ms_mem *m)
{
	if (m->p && m->p != MAP_FAILED)
		munmap(m->p, m->len);
	if (m->fd >= 0)
		close(m->fd);
	m->p = NULL;
	m->fd = -1;
}

static uint64_t ms_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void ms_mem_fill_random(struct ms_mem *m, size_t first, size_t n, uint64_t seed)
{
	uint64_t *w = (uint64_t *)(m->p + first * MIGSEND_PAGE_SIZE);
	size_t i, words = n * MIGSEND_PAGE_SIZE / sizeof(uint64_t);

	for (i = 0; i < words; i++)
		w[i] = ms_splitmix(&seed) | 1;	/* never an all-zero page */
}

int ms_bitmap_alloc(struct ms_bitmap *b, uint64_t npages)
{
	b->npages = npages;
	b->words = calloc((npages + 63) / 64 + 1, sizeof(uint64_t));
	return b->words ? 0 : -1;
}

void ms_bitmap_free(struct ms_bitmap *b)
{
	free(b->words);
	b->words = NULL;
}

void ms_bitmap_set(struct ms_bitmap *b, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		b->words[i / 64] |= htole64(1ULL << (i % 64));
}

void ms_bitmap_clear_all(struct ms_bitmap *b)
{
	memset(b->words, 0, (b->npages + 63) / 64 * sizeof(uint64_t));
}

uint64_t ms_bitmap_count(const struct ms_bitmap *b)
{
	uint64_t i, n = 0;

	for (i = 0; i < (b->npages + 63) / 64; i++)
		n += __builtin_popcountll(le64toh(b->words[i]) &
					  (i == b->npages / 64 ? (1ULL << (b->npages % 64)) - 1 : ~0ULL));
	return n;
}

int ms_tcp_listen_fd(const char *addr, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 256))
		return -1;
	return fd;
}

/* ----- the reference receiver ------------------------------------------ */

static int ms_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = recv(fd, p, len, MSG_WAITALL);

		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= r;
	}
	return 0;
}

/*
 * The receiver gives up on the first error, as a real one aborts the
 * migration: it shuts every connection down, so the sender sees it.
 */
static void ms_rx_fail(struct ms_rx *rx, int err, const char *what,
		       const struct ms_rec *r)
{
	int i;

	pthread_mutex_lock(&rx->lock);
	for (i = 0; i < rx->nconns && !rx->error; i++)
		shutdown(rx->conns[i].fd, SHUT_RDWR);
	if (!rx->error) {
		rx->error = err;
		snprintf(rx->errmsg, sizeof(rx->errmsg),
			 "%s (type %u gpa %#llx npages %u pass %llu)", what,
			 r ? r->type : 0, r ? (unsigned long long)r->gpa : 0ULL,
			 r ? r->npages : 0, r ? (unsigned long long)r->pass : 0ULL);
	}
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
}

/* END of pass @pass on this connection: wait for every other one. */
static void ms_rx_barrier(struct ms_rx_conn *c, uint64_t pass)
{
	struct ms_rx *rx = c->rx;
	int i, all;

	pthread_mutex_lock(&rx->lock);
	c->end_pass = pass + 1;
	for (;;) {
		all = 1;
		for (i = 0; i < rx->nconns; i++)
			if (rx->conns[i].end_pass < pass + 1)
				all = 0;
		if (all && rx->done_pass < pass + 1) {
			rx->done_pass = pass + 1;
			pthread_cond_broadcast(&rx->cond);
		}
		if (rx->done_pass >= pass + 1 || rx->error)
			break;
		pthread_cond_wait(&rx->cond, &rx->lock);
	}
	pthread_mutex_unlock(&rx->lock);
}

static int ms_rx_end(struct ms_rx_conn *c, const struct ms_rec *r)
{
	struct migsend_wire_end e;
	int err = ms_read_full(c->fd, &e, sizeof(e));

	if (err)
		return err;
	if (le64toh(e.records) != c->records || le64toh(e.bytes) != c->bytes ||
	    le64toh(e.data_pages) != c->data_pages ||
	    le64toh(e.zero_pages) != c->zero_pages) {
		ms_rx_fail(c->rx, -EBADMSG, "END counts differ from what was received", r);
		return -EBADMSG;
	}
	c->records = c->bytes = c->data_pages = c->zero_pages = 0;
	ms_rx_barrier(c, r->pass);
	return 0;
}

/*
 * Zero [p, p + len), leaving alone the pages that are zero already: a
 * destination that was never written stays unallocated, however many
 * hundred MiB a ZERO record covers.
 */
static void ms_zero_range(uint8_t *p, uint64_t len)
{
	static const uint8_t zero[MIGSEND_PAGE_SIZE];
	uint64_t off;

	for (off = 0; off < len; off += MIGSEND_PAGE_SIZE)
		if (memcmp(p + off, zero, MIGSEND_PAGE_SIZE))
			memset(p + off, 0, MIGSEND_PAGE_SIZE);
}

/* Pages [page, page + n) of the record's range: read from the stream, or zero. */
static int ms_rx_apply_run(struct ms_rx_conn *c, uint64_t gpa, uint64_t n, bool data)
{
	uint8_t *p = c->rx->mem + (gpa - c->rx->gpa_base);

	if (data)
		return ms_read_full(c->fd, p, n * MIGSEND_PAGE_SIZE);
	ms_zero_range(p, n * MIGSEND_PAGE_SIZE);
	return 0;
}

/* A DATA, ZERO or SPARSE record inside guest memory: its payload applied. */
static int ms_rx_apply(struct ms_rx_conn *c, struct ms_rec *r)
{
	struct migsend_wire_sparse sp;
	uint32_t i, run;
	int err;
	bool zero;

	if (r->type != MIGSEND_REC_SPARSE)
		return ms_rx_apply_run(c, r->gpa, r->npages, r->type == MIGSEND_REC_DATA);
	err = ms_read_full(c->fd, &sp, sizeof(sp));
	if (err)
		return err;
	if (ms_wire_sparse_decode(&sp, r))
		return -EBADMSG;
	for (i = 0; !err && i < r->npages; i += run) {
		run = ms_sparse_run(r, i, &zero);
		err = ms_rx_apply_run(c, r->gpa + (uint64_t)i * MIGSEND_PAGE_SIZE, run, !zero);
	}
	return err;
}

static void *ms_rx_thread(void *arg)
{
	struct ms_rx_conn *c = arg;
	struct ms_rx *rx = c->rx;
	struct migsend_wire_hdr h;
	struct ms_rec r;
	int err;

	for (;;) {
		uint64_t len;

		err = ms_read_full(c->fd, &h, sizeof(h));
		if (err)
			return NULL;	/* end of stream */
		if (ms_wire_hdr_decode(&h, &r)) {
			ms_rx_fail(rx, -EBADMSG, "malformed record header", NULL);
			return NULL;
		}
		if (r.type == MIGSEND_REC_END) {
			if (ms_rx_end(c, &r))
				return NULL;
			continue;
		}
		len = (uint64_t)r.npages * MIGSEND_PAGE_SIZE;
		if (r.gpa < rx->gpa_base || r.gpa - rx->gpa_base > rx->len ||
		    len > rx->len - (r.gpa - rx->gpa_base)) {
			ms_rx_fail(rx, -ERANGE, "record outside guest memory", &r);
			return NULL;
		}
		if (r.pass + 1 <= rx->done_pass) {
			ms_rx_fail(rx, -EBADMSG, "record of a completed pass", &r);
			return NULL;
		}
		err = ms_rx_apply(c, &r);
		if (err) {
			ms_rx_fail(rx, err, err == -EBADMSG ? "SPARSE mask does not match its record" :
				   "connection lost inside a record", &r);
			return NULL;
		}
		c->records++;
		c->bytes += sizeof(h) + r.payload_len;
		c->total_bytes += sizeof(h) + r.payload_len;
		c->data_pages += ms_rec_data_pages(&r);
		c->zero_pages += r.npages - ms_rec_data_pages(&r);
		c->sparse_records += r.type == MIGSEND_REC_SPARSE;
	}
}

int ms_rx_start(struct ms_rx *rx, uint8_t *mem, uint64_t gpa_base,
		uint64_t len, const int *fds, int nconns)
{
	int i;

	memset(rx, 0, sizeof(*rx));
	rx->mem = mem;
	rx->gpa_base = gpa_base;
	rx->len = len;
	rx->nconns = nconns;
	rx->conns = calloc(nconns, sizeof(*rx->conns));
	if (!rx->conns)
		return -1;
	pthread_mutex_init(&rx->lock, NULL);
	pthread_cond_init(&rx->cond, NULL);
	for (i = 0; i < nconns; i++) {
		rx->conns[i].rx = rx;
		rx->conns[i].fd = fds[i];
		if (pthread_create(&rx->conns[i].thread, NULL, ms_rx_thread,
				   &rx->conns[i]))
			return -1;
	}
	return 0;
}

int ms_rx_wait_pass(struct ms_rx *rx, uint64_t pass, int timeout_ms)
{
	struct timespec ts;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&rx->lock);
	while (rx->done_pass < pass + 1 && !rx->error && !err)
		err = pthread_cond_timedwait(&rx->cond, &rx->lock, &ts);
	if (rx->error)
		err = rx->error;
	else if (err)
		err = -ETIMEDOUT;
	pthread_mutex_unlock(&rx->lock);
	return err;
}

void ms_rx_stop(struct ms_rx *rx)
{
	int i;

	for (i = 0; i < rx->nconns; i++)
		shutdown(rx->conns[i].fd, SHUT_RDWR);
	pthread_mutex_lock(&rx->lock);
	if (!rx->error)
		rx->error = -ESHUTDOWN;
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
	for (i = 0; i < rx->nconns; i++)
		pthread_join(rx->conns[i].thread, NULL);
	free(rx->conns);
	rx->conns = NULL;
	pthread_mutex_destroy(&rx->lock);
	pthread_cond_destroy(&rx->cond);
}

/* ----- session helpers --------------------------------------------------- */

int ms_open(void)
{
	return open(MS_DEV, O_RDWR | O_CLOEXEC);
}

int ms_add_region(int dev, int fd, uint64_t offset, uint64_t gpa, uint64_t len)
{
	struct migsend_region r = {
		.fd = fd, .offset = offset, .gpa = gpa, .len = len,
	};

	return ioctl(dev, MIGSEND_IOC_ADD_REGION, &r);
}

int ms_add_sock(int dev, int fd)
{
	struct migsend_sock s = { .fd = fd };

	return ioctl(dev, MIGSEND_IOC_ADD_SOCK, &s);
}

int ms_pass_start(int dev, uint64_t pass, const struct ms_bitmap *b,
		  uint64_t gpa, uint32_t flags)
{
	struct migsend_pass a = {
		.pass = pass,
		.bitmap = (uintptr_t)b->words,
		.gpa = gpa,
		.npages = b->npages,
		.flags = flags,
	};

	return ioctl(dev, MIGSEND_IOC_PASS_START, &a);
}

int ms_pass_wait(int dev, struct migsend_pass_result *res)
{
	return ioctl(dev, MIGSEND_IOC_PASS_WAIT, res);
}

uint64_t ms_hash(const void *p, size_t len)
{
	const uint64_t *w = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}
