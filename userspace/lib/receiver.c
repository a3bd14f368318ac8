// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The destination side (docs/PROTOCOL.md).
 *
 * Greetings are read concurrently, each with its own deadline, by one poll
 * loop: a slow or hostile connection never delays another.  One control
 * connection must HELLO first; then exactly the announced number of data
 * connections must JOIN with the migration's token.  Any other connection
 * is refused with an ABORT and logged.  One thread per data connection
 * reads records straight into the mapped destination memory: no
 * intermediate buffer.  Every record is checked before anything is
 * written; the ordering rules live in rx_state.c as pure functions (the
 * fuzzer drives them).  Zero runs cost nothing for pages never written
 * here, a punched hole for long runs, a memset for short ones.  Records of
 * pass N+1 wait until every connection's END of pass N is applied (the
 * per-pass barrier).  One timeout bounds every wait on the source; the
 * control thread is the watchdog of the phases where no single connection
 * is expected to speak.  After COMPLETE the record streams are stopped,
 * the final state checked, DONE sent, and the source's own DONE awaited:
 * only then is the migration a success (docs/PROTOCOL.md, "The handover").
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tls.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#include "ms_range.h"
#include "ms_wire.h"

#define MS_PAGE			MIGSEND_PAGE_SIZE
#define MS_DEFAULT_TIMEOUT_MS	60000
#define MS_GREETING_MS		5000	/* a whole greeting, per connection */
#define MS_MAX_PENDING		64	/* connections greeting at once */
#define MS_ACK_EVERY		(8ULL << 20)	/* progress ACK every 8 MiB */
#define MS_PUNCH_MIN_PAGES	16		/* shorter zero runs: memset */
#define MS_WATCH_MS		250	/* the watchdog's tick */
#define MS_REASON_GRACE_MS	1000	/* a data connection closed: wait for the reason */
#define MS_STATE_CHUNK		(1U << 20)

/* Test-only (MIGSEND_TEST_ACKS, docs/PROTOCOL.md): when ACKs are sent. */
enum ms_ack_mode {
	MS_ACK_PROGRESS,	/* after each barrier, every 8 MiB (the default) */
	MS_ACK_BARRIER,		/* only after each barrier (and on F_ACK) */
	MS_ACK_END,		/* on reading each END, before its barrier */
	MS_ACK_EVERY_RECORD,	/* after every record, on END and after the barrier */
};

struct ms_rx_region {
	uint64_t gpa;
	uint64_t len;
	int fd;
	bool own;		/* a memfd created here */
	uint64_t offset;	/* of the region in the file */
	uint64_t punch;		/* hole punching granularity: 4 KiB or a huge page */
	uint8_t *map;
	uint64_t *written;	/* a bit per page that may be non-zero, atomic */
};

struct ms_rx;

struct ms_rx_conn {
	struct ms_rx *rx;
	unsigned int index;
	int fd;
	struct ms_rxbuf in;	/* the record stream read from fd */
	pthread_t thread;
	bool started;
	struct ms_rxs_conn st;	/* the thread's; begin/end under rx->lock */
	uint64_t ack_end;	/* ACK's end_pass: last END applied + 1 */
	uint64_t total_bytes, total_records, acked_bytes;
	/* DATA and ZERO records only, all passes: summed into the result. */
	uint64_t rec_bytes, rec_data_pages, rec_zero_pages;
	uint64_t active_ms;	/* last bytes read, atomic */
};

struct ms_rx_pending {
	int fd;
	struct ms_tls_conn *tls;	/* its TLS handshake, while under way */
	uint64_t deadline;
	size_t have;
	uint8_t *buf;		/* MS_GREETING_MAX bytes */
};

struct ms_rx {
	const struct migsend_receiver_opts *o;
	struct ms_tls *tls;		/* NULL: plaintext */
	struct migsend_receiver_result *res;
	int timeout_ms;
	enum ms_ack_mode acks;
	struct ms_rxs_limits lim;
	int lfd;
	int ctl;
	int stop[2];		/* wakes the late-connection acceptor */
	pthread_t acceptor;
	bool acceptor_started;
	struct migsend_hello hello;
	bool have_hello;
	struct ms_greeting greet;
	struct ms_rx_pending pending[MS_MAX_PENDING];
	unsigned int npending;
	bool joined[MIGSEND_MAX_CONNS];
	unsigned int njoined;
	struct ms_rx_region regions[MIGSEND_MAX_REGIONS];
	unsigned int nregions;
	bool into;		/* the caller's memory */
	struct migsend_layout_region into_layout[MIGSEND_MAX_REGIONS];
	struct ms_rx_conn conns[MIGSEND_MAX_CONNS];
	uint64_t ctl_active_ms;	/* atomic */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ms_rxs st;	/* the passes */
	bool stopping;		/* the record streams are being stopped: no error */
	int error;		/* first failure, positive errno */
	char errmsg[512];
	uint64_t refused;
};

static uint64_t ms_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void ms_touch(uint64_t *active)
{
	__atomic_store_n(active, ms_now_ms(), __ATOMIC_RELAXED);
}

static void ms_rx_log(struct ms_rx *rx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ms_rx_log(struct ms_rx *rx, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!rx->o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rx->o->log(rx->o->log_ctx, line);
}

/*
 * The first failure wins.  Every data connection is shut down so that all
 * threads stop; a failure found here (not one the source reported) is
 * told to the source with an ABORT, and the control loop is woken.
 */
static void ms_rx_vfail(struct ms_rx *rx, bool tell_source, int err,
			const char *fmt, va_list ap)
{
	unsigned int i;

	pthread_mutex_lock(&rx->lock);
	if (!rx->error) {
		rx->error = err;
		vsnprintf(rx->errmsg, sizeof(rx->errmsg), fmt, ap);
		for (i = 0; i < rx->hello.nconns; i++)
			if (rx->conns[i].fd >= 0)
				shutdown(rx->conns[i].fd, SHUT_RDWR);
		if (tell_source && rx->ctl >= 0) {
			ms_ctl_send_abort(rx->ctl, err, rx->errmsg);
			shutdown(rx->ctl, SHUT_RD);
		}
	}
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
}

/* A failure of the destination or of the source's protocol: the source is told. */
static void ms_rx_fail(struct ms_rx *rx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ms_rx_fail(struct ms_rx *rx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_rx_vfail(rx, true, err, fmt, ap);
	va_end(ap);
}

/* The source failed or gave up: nothing to tell it. */
static void ms_rx_source_failed(struct ms_rx *rx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ms_rx_source_failed(struct ms_rx *rx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_rx_vfail(rx, false, err, fmt, ap);
	va_end(ap);
}

static int ms_rx_failed(struct ms_rx *rx)
{
	int err;

	pthread_mutex_lock(&rx->lock);
	err = rx->error;
	pthread_mutex_unlock(&rx->lock);
	return err;
}

/* Where the migration is, for messages; under rx->lock. */
static const char *ms_rx_phase(struct ms_rx *rx, char *buf, size_t size)
{
	const struct ms_rxs *s = &rx->st;

	if (s->next_known)
		snprintf(buf, size, "during pass %llu", (unsigned long long)s->next_pass);
	else if (s->done)
		snprintf(buf, size, "after pass %llu", (unsigned long long)s->done_pass);
	else
		snprintf(buf, size, "before the first pass");
	return buf;
}

static void ms_keepalive(int fd)
{
	int one = 1, idle = 10, intvl = 5, cnt = 3;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/*
 * Close after an ABORT so that it is read: end the stream, and read what
 * the peer still sends (for up to @grace_ms) rather than let unread bytes
 * turn the close into a reset.
 */
static void ms_close_gently(int fd, int grace_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t end = ms_now_ms() + grace_ms;
	char scratch[4096];
	ssize_t n;

	shutdown(fd, SHUT_WR);
	for (;;) {
		n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n == 0 || errno != EAGAIN || ms_now_ms() >= end ||
		    poll(&pfd, 1, (int)(end - ms_now_ms())) <= 0)
			break;
	}
	close(fd);
}

static void ms_set_blocking(int fd, bool blocking)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
}

/* ----- memory ----------------------------------------------------------- */

static int ms_rx_region_map(struct ms_rx_region *r)
{
	r->map = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, r->offset);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return ms_fail(errno, "mapping destination memory (%llu bytes at offset %llu)",
			       (unsigned long long)r->len, (unsigned long long)r->offset);
	}
	r->written = calloc((r->len / MS_PAGE + 63) / 64, sizeof(uint64_t));
	if (!r->written)
		return ms_fail(ENOMEM, "allocating the written-pages map");
	return 0;
}

static void ms_mark_written(struct ms_rx_region *r, uint64_t page, uint64_t n, bool on)
{
	for (; n; page++, n--) {
		uint64_t bit = 1ULL << (page % 64);

		if (on)
			__atomic_fetch_or(&r->written[page / 64], bit, __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(&r->written[page / 64], ~bit, __ATOMIC_RELAXED);
	}
}

/*
 * The caller's memory may hold anything: every page that is not a hole of
 * the file counts as written, so that ZERO records clear it.
 */
static void ms_rx_scan_written(struct ms_rx_region *r)
{
	off_t pos = r->offset, end = r->offset + r->len, data, hole;

	while (pos < end) {
		data = lseek(r->fd, pos, SEEK_DATA);
		if (data < 0 || data >= end)
			break;
		hole = lseek(r->fd, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		data -= data % MS_PAGE;
		ms_mark_written(r, (data - r->offset) / MS_PAGE,
				(hole - data + MS_PAGE - 1) / MS_PAGE, true);
		pos = hole;
	}
}

static int ms_rx_alloc_memory(struct ms_rx *rx)
{
	unsigned int i;
	int err;

	for (i = 0; i < rx->hello.nregions; i++) {
		struct ms_rx_region *r = &rx->regions[i];

		r->gpa = rx->hello.regions[i].gpa;
		r->len = rx->hello.regions[i].len;
		r->punch = MS_PAGE;
		r->own = true;
		r->fd = memfd_create("migsend-dest", MFD_CLOEXEC);
		rx->nregions = i + 1;
		if (r->fd < 0 || ftruncate(r->fd, r->len))
			return ms_fail(errno, "creating destination memory of %llu bytes",
				       (unsigned long long)r->len);
		err = ms_rx_region_map(r);
		if (err)
			return err;
		if (rx->o->prealloc && madvise(r->map, r->len, MADV_POPULATE_WRITE))
			return ms_fail(errno, "preallocating destination memory");
	}
	return 0;
}

static int ms_dest_cmp(const void *a, const void *b)
{
	const struct migsend_dest_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Check and map one region of the caller's memory. */
static int ms_rx_into_region(struct ms_rx_region *r, const struct migsend_dest_region *d)
{
	struct statfs sfs;
	struct stat st;

	r->fd = d->fd;
	r->gpa = d->gpa;
	r->len = d->len;
	r->offset = d->offset;
	r->punch = MS_PAGE;
	if (fstat(d->fd, &st) || fstatfs(d->fd, &sfs))
		return ms_fail(errno ? errno : EBADF, "destination region at %#llx: bad file descriptor",
			       (unsigned long long)d->gpa);
	if (!S_ISREG(st.st_mode))
		return ms_fail(EINVAL, "destination region at %#llx: not a regular file",
			       (unsigned long long)d->gpa);
	if ((uint64_t)sfs.f_type == HUGETLBFS_MAGIC)
		r->punch = sfs.f_bsize;
	if (!d->len || (d->gpa | d->offset | d->len) % r->punch)
		return ms_fail(EINVAL, "destination region at %#llx: gpa, offset and length must be non-zero multiples of %llu",
			       (unsigned long long)d->gpa, (unsigned long long)r->punch);
	if (d->offset + d->len < d->offset || d->offset + d->len > (uint64_t)st.st_size)
		return ms_fail(EINVAL, "destination region at %#llx: offset %llu + %llu bytes is past the file's end (%llu)",
			       (unsigned long long)d->gpa, (unsigned long long)d->offset,
			       (unsigned long long)d->len, (unsigned long long)st.st_size);
	return ms_rx_region_map(r);
}

/* The caller's regions, sorted by gpa; the layout HELLO must announce. */
static int ms_rx_into_memory(struct ms_rx *rx, const struct migsend_dest_region *d,
			     unsigned int n, struct migsend_layout_region *layout)
{
	struct migsend_dest_region sorted[MIGSEND_MAX_REGIONS];
	uint64_t total;
	unsigned int i;
	int err;

	if (!n || n > MIGSEND_MAX_REGIONS)
		return ms_fail(EINVAL, "%u destination regions: 1 to %u are possible", n,
			       MIGSEND_MAX_REGIONS);
	memcpy(sorted, d, n * sizeof(*d));
	qsort(sorted, n, sizeof(*sorted), ms_dest_cmp);
	for (i = 0; i < n; i++) {
		layout[i].gpa = sorted[i].gpa;
		layout[i].len = sorted[i].len;
	}
	if (ms_layout_check(layout, n, &total))
		return ms_fail(EINVAL, "destination regions overlap, are empty or not page aligned");
	rx->into = true;
	for (i = 0; i < n; i++) {
		rx->nregions = i + 1;
		err = ms_rx_into_region(&rx->regions[i], &sorted[i]);
		if (err)
			return err;
		ms_rx_scan_written(&rx->regions[i]);
	}
	return 0;
}

static void ms_rx_unmap_memory(struct ms_rx *rx, bool keep_fds)
{
	unsigned int i;

	for (i = 0; i < rx->nregions; i++) {
		struct ms_rx_region *r = &rx->regions[i];

		if (r->map)
			munmap(r->map, r->len);
		free(r->written);
		if (!keep_fds && r->own && r->fd >= 0)
			close(r->fd);
	}
}

static int ms_rx_region_cmp(const void *key, const void *elt)
{
	const struct ms_rx_region *r = elt;

	return ms_gpa_cmp(*(const uint64_t *)key, r->gpa, r->len);
}

/* The region holding @gpa, or NULL. */
static struct ms_rx_region *ms_rx_region_of(struct ms_rx *rx, uint64_t gpa)
{
	return bsearch(&gpa, rx->regions, rx->nregions, sizeof(*rx->regions),
		       ms_rx_region_cmp);
}

/* Is [gpa, gpa + len) all inside guest memory (regions may be adjacent)? */
static bool ms_rx_covered(struct ms_rx *rx, uint64_t gpa, uint64_t len)
{
	while (len) {
		struct ms_rx_region *r = ms_rx_region_of(rx, gpa);
		uint64_t n;

		if (!r)
			return false;
		n = r->gpa + r->len - gpa;
		if (n > len)
			n = len;
		gpa += n;
		len -= n;
	}
	return true;
}

static bool ms_is_written(struct ms_rx_region *r, uint64_t page)
{
	return __atomic_load_n(&r->written[page / 64], __ATOMIC_RELAXED) >>
	       (page % 64) & 1;
}

/*
 * Make bytes [off, off + len) of @r zero: a punched hole where the file
 * allows one (whole huge pages on hugetlbfs, which silently skips partial
 * ones), memset for the rest.
 */
static void ms_rx_clear(struct ms_rx_region *r, uint64_t off, uint64_t len)
{
	uint64_t pos = r->offset + off, end = pos + len;
	uint64_t a = (pos + r->punch - 1) / r->punch * r->punch;
	uint64_t b = end / r->punch * r->punch;

	if (len < MS_PUNCH_MIN_PAGES * MS_PAGE || a >= b ||
	    fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a, b - a)) {
		memset(r->map + off, 0, len);
		return;
	}
	memset(r->map + off, 0, a - pos);
	memset(r->map + (b - r->offset), 0, end - b);
}

/* Zero pages [page, page + n) of @r, cheaply. */
static void ms_rx_zero(struct ms_rx_region *r, uint64_t page, uint64_t n)
{
	uint64_t end = page + n, run;

	while (page < end) {
		if (!ms_is_written(r, page)) {
			page++;
			continue;
		}
		for (run = 1; page + run < end && ms_is_written(r, page + run); run++)
			;
		ms_rx_clear(r, page * MS_PAGE, run * MS_PAGE);
		ms_mark_written(r, page, run, false);
		page += run;
	}
}

/* ----- data connections ------------------------------------------------- */

/*
 * Data is about to be written to [off, off + len) of @r.  The first time:
 * allocate the pages in one call rather than one fault per page inside
 * recv() (preallocated memory has them already).
 */
static void ms_rx_populate(struct ms_rx_conn *c, struct ms_rx_region *r, uint64_t off,
			   uint64_t len)
{
	if (!c->rx->o->prealloc && !ms_is_written(r, off / MS_PAGE))
		madvise(r->map + off, len, MADV_POPULATE_WRITE);
}

/*
 * Pages [gpa, gpa + npages * 4096): from the stream (@data) or zero,
 * piece by piece over the regions they span.
 */
static int ms_rx_apply_run(struct ms_rx_conn *c, uint64_t gpa, uint64_t npages, bool data)
{
	uint64_t left = npages * MS_PAGE;
	int err;

	while (left) {
		struct ms_rx_region *r = ms_rx_region_of(c->rx, gpa);
		uint64_t off = gpa - r->gpa, n = r->len - off;

		if (n > left)
			n = left;
		if (data) {
			ms_rx_populate(c, r, off, n);
			err = ms_rxbuf_read(&c->in, r->map + off, n);
			if (err)
				return err;
			ms_mark_written(r, off / MS_PAGE, n / MS_PAGE, true);
		} else {
			ms_rx_zero(r, off / MS_PAGE, n / MS_PAGE);
		}
		gpa += n;
		left -= n;
	}
	return 0;
}

/* Where a SPARSE record's data pages go: a piece per run of them in a region. */
struct ms_rx_scatter {
	struct iovec iov[MS_RXBUF_MAX_IOV];
	struct ms_rx_region *region[MS_RXBUF_MAX_IOV];
	unsigned int n;
};

/* Pages [gpa, gpa + npages * 4096) take data: their places, region by region. */
static void ms_rx_scatter_add(struct ms_rx_conn *c, struct ms_rx_scatter *s, uint64_t gpa,
			      uint64_t npages)
{
	uint64_t left = npages * MS_PAGE;

	while (left) {
		struct ms_rx_region *r = ms_rx_region_of(c->rx, gpa);
		uint64_t off = gpa - r->gpa, n = r->len - off;

		if (n > left)
			n = left;
		ms_rx_populate(c, r, off, n);
		s->iov[s->n] = (struct iovec){ .iov_base = r->map + off, .iov_len = n };
		s->region[s->n++] = r;
		gpa += n;
		left -= n;
	}
}

/*
 * A SPARSE record (its mask read): the zero runs cleared, then every data
 * page read into its place with one read, not one per run.  Each piece is
 * at least a page, so a record has at most MS_RXBUF_MAX_IOV of them.
 */
static int ms_rx_apply_sparse(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	struct ms_rx_scatter s = { .n = 0 };
	uint32_t i, run;
	unsigned int k;
	uint64_t gpa;
	bool zero;
	int err;

	for (i = 0; i < rec->npages; i += run) {
		run = ms_sparse_run(rec, i, &zero);
		gpa = rec->gpa + (uint64_t)i * MS_PAGE;
		if (zero)
			ms_rx_apply_run(c, gpa, run, false);
		else
			ms_rx_scatter_add(c, &s, gpa, run);
	}
	err = ms_rxbuf_readv(&c->in, s.iov, s.n);
	if (err)
		return err;
	for (k = 0; k < s.n; k++)
		ms_mark_written(s.region[k], ((uint8_t *)s.iov[k].iov_base - s.region[k]->map) / MS_PAGE,
				s.iov[k].iov_len / MS_PAGE, true);
	return 0;
}

/* Apply one DATA, ZERO or SPARSE record. */
static int ms_rx_apply(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	if (rec->type == MIGSEND_REC_SPARSE)
		return ms_rx_apply_sparse(c, rec);
	return ms_rx_apply_run(c, rec->gpa, rec->npages, rec->type == MIGSEND_REC_DATA);
}

static void ms_rx_conn_lost(struct ms_rx_conn *c, int err, bool inside);

static int ms_rx_send_ack(struct ms_rx_conn *c)
{
	struct migsend_ctl_ack ack = {
		.end_pass = htole64(c->ack_end),
		.bytes = htole64(c->total_bytes),
		.records = htole64(c->total_records),
	};

	int err;

	c->acked_bytes = c->total_bytes;
	err = ms_ctl_send(c->fd, MIGSEND_CTL_ACK, &ack, sizeof(ack));
	if (err)
		ms_rx_conn_lost(c, err, false);
	return err;
}

/* The connection's stream ended or failed; @inside: within a record. */
static void ms_rx_conn_lost(struct ms_rx_conn *c, int err, bool inside)
{
	/* A TLS failure (an altered record, an alert) is said as such. */
	const char *tls = ms_tls_read_error();
	struct ms_rx *rx = c->rx;
	struct timespec ts;
	char phase[64];
	bool quiet;

	pthread_mutex_lock(&rx->lock);
	quiet = rx->error || rx->stopping;
	if (!quiet && err != -EAGAIN) {
		/* The source may be going away: let the control connection say why. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += MS_REASON_GRACE_MS / 1000;
		while (!rx->error && !rx->stopping &&
		       !pthread_cond_timedwait(&rx->cond, &rx->lock, &ts))
			;
		quiet = rx->error || rx->stopping;
	}
	ms_rx_phase(rx, phase, sizeof(phase));
	pthread_mutex_unlock(&rx->lock);
	if (quiet)
		return;
	if (tls)
		ms_rx_fail(rx, -err, "data connection %u failed %s: %s", c->index, phase, tls);
	else if (err == -EAGAIN)
		ms_rx_fail(rx, ETIMEDOUT, "data connection %u: nothing received for %d ms %s %s",
			   c->index, rx->timeout_ms, inside ? "inside a record" : "", phase);
	else if (inside)
		ms_rx_fail(rx, ECONNABORTED, "data connection %u lost inside a record %s",
			   c->index, phase);
	else
		ms_rx_fail(rx, ECONNABORTED, "data connection %u was closed by the source %s",
			   c->index, phase);
}

/* Wait at the barrier of this connection's last END; 0 once every connection ended it. */
static int ms_rx_barrier(struct ms_rx_conn *c)
{
	struct ms_rx *rx = c->rx;
	int err;

	pthread_mutex_lock(&rx->lock);
	while (!rx->error && !rx->stopping && !ms_rxs_barrier_done(&rx->st, &c->st))
		pthread_cond_wait(&rx->cond, &rx->lock);
	err = rx->error || rx->stopping ? -ECANCELED : 0;
	pthread_mutex_unlock(&rx->lock);
	return err;
}

/* A record of a pass this connection is not inside: the ordering rules. */
static int ms_rx_begin(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	struct ms_rx *rx = c->rx;
	char why[256];
	int err;

	pthread_mutex_lock(&rx->lock);
	err = ms_rxs_begin(&rx->st, &c->st, c->index, rec->pass, why, sizeof(why));
	pthread_mutex_unlock(&rx->lock);
	if (err)
		ms_rx_fail(rx, -err, "%s", why);
	return err;
}

static int ms_rx_end(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	struct ms_rx *rx = c->rx;
	struct migsend_wire_end e;
	char why[256];
	int err = ms_rxbuf_read(&c->in, &e, sizeof(e));

	if (err) {
		ms_rx_conn_lost(c, err, true);
		return err;
	}
	err = ms_rxs_end_counts(&c->st, c->index, rec->pass, &e, why, sizeof(why));
	if (err) {
		ms_rx_fail(rx, -err, "%s", why);
		return err;
	}
	c->total_records++;
	c->total_bytes += sizeof(struct migsend_wire_hdr) + sizeof(e);
	c->ack_end = rec->pass + 1;
	pthread_mutex_lock(&rx->lock);
	if (ms_rxs_end(&rx->st, &c->st))
		pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
	if (rx->acks == MS_ACK_END || rx->acks == MS_ACK_EVERY_RECORD) {
		err = ms_rx_send_ack(c);
		if (err)
			return err;
	}
	err = ms_rx_barrier(c);
	if (err || rx->acks == MS_ACK_END)
		return err;
	return ms_rx_send_ack(c);
}

/* A SPARSE record's mask, checked against its header. */
static int ms_rx_sparse_mask(struct ms_rx_conn *c, struct ms_rec *rec)
{
	struct migsend_wire_sparse sp;
	int err = ms_rxbuf_read(&c->in, &sp, sizeof(sp));

	if (err) {
		ms_rx_conn_lost(c, err, true);
		return err;
	}
	if (ms_wire_sparse_decode(&sp, rec)) {
		ms_rx_fail(c->rx, EBADMSG,
			   "data connection %u: SPARSE record of %u pages whose zero mask %#llx does not match its %u payload bytes",
			   c->index, rec->npages, (unsigned long long)le64toh(sp.zero_mask),
			   rec->payload_len);
		return -EBADMSG;
	}
	return 0;
}

static int ms_rx_data(struct ms_rx_conn *c, struct ms_rec *rec)
{
	struct ms_rx *rx = c->rx;
	uint64_t len = (uint64_t)rec->npages * MS_PAGE;
	int err;

	if (rec->type == MIGSEND_REC_SPARSE) {
		err = ms_rx_sparse_mask(c, rec);
		if (err)
			return err;
	}
	if (!ms_rx_covered(rx, rec->gpa, len)) {
		ms_rx_fail(rx, ERANGE,
			   "data connection %u: record for guest addresses %#llx-%#llx outside guest memory",
			   c->index, (unsigned long long)rec->gpa,
			   (unsigned long long)(rec->gpa + len - 1));
		return -ERANGE;
	}
	err = ms_rx_apply(c, rec);
	if (err) {
		ms_rx_conn_lost(c, err, true);
		return err;
	}
	ms_touch(&c->active_ms);
	ms_rxs_count(&c->st, rec);
	len = sizeof(struct migsend_wire_hdr) + rec->payload_len;
	c->total_records++;
	c->total_bytes += len;
	c->rec_bytes += len;
	c->rec_data_pages += ms_rec_data_pages(rec);
	c->rec_zero_pages += rec->npages - ms_rec_data_pages(rec);
	if (rec->flags & MIGSEND_REC_F_ACK || rx->acks == MS_ACK_EVERY_RECORD ||
	    (rx->acks == MS_ACK_PROGRESS && c->total_bytes - c->acked_bytes >= MS_ACK_EVERY))
		return ms_rx_send_ack(c);
	return 0;
}

/*
 * The next record header.  Between passes (no pass open here) the source
 * may be silent for long, each receive timeout just loops: the control
 * thread watches that phase.  Inside a pass, silence is this connection's
 * failure.
 */
static int ms_rx_next_header(struct ms_rx_conn *c, struct ms_rec *rec)
{
	struct migsend_wire_hdr h;
	int err = 0;

	while (!c->st.open && !ms_rxbuf_buffered(&c->in)) {
		err = ms_rxbuf_fill(&c->in);
		if (err && (err != -EAGAIN || ms_rx_failed(c->rx)))
			break;
	}
	if (!err)
		err = ms_rxbuf_read(&c->in, &h, sizeof(h));
	if (err) {
		ms_rx_conn_lost(c, err, false);
		return err;
	}
	ms_touch(&c->active_ms);
	if (ms_wire_hdr_decode(&h, rec)) {
		ms_rx_fail(c->rx, EBADMSG, "data connection %u: malformed record header",
			   c->index);
		return -EBADMSG;
	}
	return 0;
}

static void *ms_rx_data_thread(void *arg)
{
	struct ms_rx_conn *c = arg;
	struct ms_rec rec;
	int err;

	for (;;) {
		err = ms_rx_next_header(c, &rec);
		if (!err && (!c->st.open || rec.pass != c->st.pass))
			err = ms_rx_begin(c, &rec);
		if (!err)
			err = rec.type == MIGSEND_REC_END ? ms_rx_end(c, &rec) :
			      ms_rx_data(c, &rec);
		if (err)
			return NULL;
	}
}

/* ----- greetings -------------------------------------------------------- */

static void ms_rx_refuse(struct ms_rx *rx, int fd, int err, const char *why)
{
	char peer[128];

	ms_peer_name(fd, peer, sizeof(peer));
	ms_rx_log(rx, "refused connection from %s: %s", peer, why);
	/* Never wait for a peer that does not read: the ABORT fits the buffer or is lost. */
	ms_set_blocking(fd, false);
	/* With TLS, only inside TLS: before it, plaintext would read as garbage. */
	if (!rx->tls || ms_tls_ktls_tx(fd))
		ms_ctl_send_abort(fd, err, why);
	ms_tls_close(fd);
	ms_close_gently(fd, 0);
	pthread_mutex_lock(&rx->lock);
	rx->refused++;
	pthread_mutex_unlock(&rx->lock);
}

static void ms_rx_pending_drop(struct ms_rx *rx, unsigned int i)
{
	ms_tls_server_abandon(rx->pending[i].tls);
	free(rx->pending[i].buf);
	rx->pending[i] = rx->pending[--rx->npending];
}

static void ms_rx_pending_refuse(struct ms_rx *rx, unsigned int i, int err, const char *why)
{
	ms_rx_refuse(rx, rx->pending[i].fd, err, why);
	ms_rx_pending_drop(rx, i);
}

static void ms_rx_pending_refuse_all(struct ms_rx *rx, const char *why)
{
	while (rx->npending)
		ms_rx_pending_refuse(rx, rx->npending - 1, EACCES, why);
}

static void ms_rx_accept_one(struct ms_rx *rx)
{
	struct ms_rx_pending *p;
	int fd = accept4(rx->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (rx->npending == MS_MAX_PENDING) {
		ms_rx_refuse(rx, fd, EBUSY, "too many connections are greeting at once");
		return;
	}
	p = &rx->pending[rx->npending];
	p->buf = malloc(MS_GREETING_MAX);
	if (!p->buf) {
		ms_rx_refuse(rx, fd, ENOMEM, "out of memory");
		return;
	}
	p->fd = fd;
	p->have = 0;
	p->deadline = ms_now_ms() + MS_GREETING_MS;
	p->tls = NULL;
	rx->npending++;
	/* The greeting's time limit covers the TLS handshake too. */
	if (rx->tls && ms_tls_server_start(rx->tls, fd, &p->tls))
		ms_rx_pending_refuse(rx, rx->npending - 1, ENOMEM, migsend_last_error());
}

/* A connection greeted in full: take it as the control or a data connection. */
static int ms_rx_adopt(struct ms_rx *rx, unsigned int i, int verdict)
{
	int fd = rx->pending[i].fd;
	unsigned int index = rx->greet.index;
	struct migsend_ctl_hdr h;

	ms_set_blocking(fd, true);
	if (verdict == MS_GREET_HELLO) {
		rx->hello = rx->greet.hello;
		rx->have_hello = true;
		rx->ctl = fd;
	} else {
		/* 16 bytes into an empty socket buffer: cannot block. */
		ms_ctl_hdr_encode(&h, MIGSEND_CTL_JOINED, 0);
		if (send(fd, &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT) != sizeof(h)) {
			close(fd);
			ms_rx_pending_drop(rx, i);
			return 0;
		}
		ms_set_timeouts(fd, rx->timeout_ms);
		ms_keepalive(fd);
		rx->conns[index].fd = fd;
		rx->joined[index] = true;
		rx->njoined++;
	}
	ms_rx_pending_drop(rx, i);
	return verdict;
}

/*
 * Read what connection @i has sent and judge it: 0 while it is
 * incomplete or was refused, MS_GREET_HELLO or MS_GREET_JOIN once adopted,
 * or a negative errno for a HELLO that is well formed but cannot be taken
 * (too large, a layout that does not match the caller's memory): the
 * migration it asks for fails.
 */
static int ms_rx_pending_read(struct ms_rx *rx, unsigned int i)
{
	struct ms_rx_pending *p = &rx->pending[i];
	char why[256];
	ssize_t n;
	int v;

	if (p->tls) {
		v = ms_tls_server_step(p->tls);
		if (v == -EAGAIN)
			return 0;
		p->tls = NULL;
		if (v) {
			snprintf(why, sizeof(why), "%s", migsend_last_error());
			ms_rx_pending_refuse(rx, i, -v, why);
			return 0;
		}
	}
	for (;;) {
		v = ms_rxs_greeting(p->buf, p->have, &rx->lim,
				    rx->have_hello ? &rx->hello : NULL, rx->joined,
				    &rx->greet, why, sizeof(why));
		if (v == MS_GREET_HELLO || v == MS_GREET_JOIN)
			return ms_rx_adopt(rx, i, v);
		if (v < 0) {
			bool fatal = v == -EFBIG || v == -EINVAL;

			if (!rx->tls && ms_tls_looks_like_tls(p->buf, p->have))
				snprintf(why, sizeof(why), "the source speaks TLS, this destination runs without (--no-tls)");
			ms_rx_pending_refuse(rx, i, -v, why);
			return fatal ? ms_fail(-v, "%s", why) : 0;
		}
		n = ms_tls_recv(p->fd, p->buf + p->have, rx->greet.need - p->have, MSG_DONTWAIT);
		if (n == -EAGAIN)
			return 0;
		if (n < 0 && ms_tls_read_error()) {
			snprintf(why, sizeof(why), "%s", ms_tls_read_error());
			ms_rx_pending_refuse(rx, i, -n, why);
			return 0;
		}
		if (n <= 0) {
			ms_rx_pending_refuse(rx, i, EPROTO, "closed before a complete greeting");
			return 0;
		}
		p->have += n;
	}
}

/* During the joins the source may give up on its control connection. */
static int ms_rx_ctl_during_joins(struct ms_rx *rx)
{
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	char reason[MIGSEND_REASON_MAX + 1];
	uint16_t type;
	uint32_t len;
	int err = ms_ctl_recv(rx->ctl, &type, buf, sizeof(buf), &len);

	if (err)
		return ms_fail(ECONNABORTED, "the source went away while %u of %u data connections had joined",
			       rx->njoined, rx->hello.nconns);
	if (type == MIGSEND_CTL_ABORT) {
		err = ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
		return ms_fail(ECONNABORTED, "the source aborted the migration: %s (%s)", reason,
			       strerror(err > 0 ? err : EPROTO));
	}
	ms_ctl_send_abort(rx->ctl, EPROTO, "a control message before every data connection joined");
	return ms_fail(EPROTO, "the source sent control message %u before every data connection joined",
		       type);
}

/* Refuse greetings that are not complete by their deadline; the earliest left. */
static uint64_t ms_rx_expire(struct ms_rx *rx, uint64_t now, uint64_t until)
{
	char why[64];
	unsigned int i = 0;

	snprintf(why, sizeof(why), "no complete greeting within %d ms", MS_GREETING_MS);
	while (i < rx->npending) {
		if (rx->pending[i].deadline <= now) {
			ms_rx_pending_refuse(rx, i, ETIMEDOUT, why);
			continue;
		}
		if (rx->pending[i].deadline < until)
			until = rx->pending[i].deadline;
		i++;
	}
	return until;
}

/*
 * Accept and read greetings, all at once, until the HELLO (@joins false)
 * or every JOIN (@joins true) came, within the timeout.
 */
static int ms_rx_greet(struct ms_rx *rx, bool joins)
{
	struct pollfd pfd[MS_MAX_PENDING + 2];
	uint64_t deadline = ms_now_ms() + rx->timeout_ms, now, until;
	unsigned int i, n, base;
	int err;

	while (joins ? rx->njoined < rx->hello.nconns : !rx->have_hello) {
		now = ms_now_ms();
		if (now >= deadline && joins)
			return ms_fail(ETIMEDOUT, "waiting for %u data connections (%u joined)",
				       rx->hello.nconns, rx->njoined);
		if (now >= deadline)
			return ms_fail(ETIMEDOUT, "waiting for the source to connect");
		until = ms_rx_expire(rx, now, deadline);
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = rx->lfd, .events = POLLIN };
		if (joins)
			pfd[n++] = (struct pollfd){ .fd = rx->ctl, .events = POLLIN };
		base = n;
		for (i = 0; i < rx->npending; i++)
			pfd[n++] = (struct pollfd){ .fd = rx->pending[i].fd, .events = POLLIN };
		if (poll(pfd, n, (int)(until - now) + 1) <= 0)
			continue;
		if (joins && pfd[1].revents)
			return ms_rx_ctl_during_joins(rx);
		/* Backwards: a refused greeting's slot takes the last one's. */
		for (i = n - base; i-- > 0;) {
			if (!pfd[base + i].revents)
				continue;
			err = ms_rx_pending_read(rx, i);
			if (err < 0)
				return err;
			if (err == MS_GREET_HELLO)
				break;
		}
		if (pfd[0].revents)
			ms_rx_accept_one(rx);
	}
	return 0;
}

/* Once the migration runs, every new connection is stray or late. */
static void *ms_rx_late_acceptor(void *arg)
{
	struct ms_rx *rx = arg;
	struct pollfd pfd[2] = {
		{ .fd = rx->lfd, .events = POLLIN },
		{ .fd = rx->stop[0], .events = POLLIN },
	};
	int fd;

	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		fd = accept4(rx->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			ms_rx_refuse(rx, fd, EACCES, "a migration is already running");
	}
	return NULL;
}

/* ----- the control connection ------------------------------------------- */

/* Milliseconds since anything came from the source. */
static uint64_t ms_rx_silence(struct ms_rx *rx)
{
	uint64_t last = __atomic_load_n(&rx->ctl_active_ms, __ATOMIC_RELAXED), t;
	unsigned int i;

	for (i = 0; i < rx->hello.nconns; i++) {
		t = __atomic_load_n(&rx->conns[i].active_ms, __ATOMIC_RELAXED);
		if (t > last)
			last = t;
	}
	t = ms_now_ms();
	return t > last ? t - last : 0;
}

/* The connections that have not ended the pass being received; under rx->lock. */
static void ms_rx_laggards(struct ms_rx *rx, char *buf, size_t size)
{
	size_t n = 0;
	unsigned int i;

	buf[0] = 0;
	if (!rx->st.next_known)
		return;
	for (i = 0; i < rx->hello.nconns && n + 16 < size; i++)
		if (!rx->conns[i].st.ended || rx->conns[i].st.end_pass != rx->st.next_pass)
			n += snprintf(buf + n, size - n, "%s%u", n ? "," : "; waiting for connections ", i);
}

/* The watchdog: fail when the source has been silent on every connection too long. */
static int ms_rx_watch(struct ms_rx *rx)
{
	char phase[64], lag[256];

	if (ms_rx_silence(rx) < (uint64_t)rx->timeout_ms)
		return 0;
	pthread_mutex_lock(&rx->lock);
	ms_rx_phase(rx, phase, sizeof(phase));
	ms_rx_laggards(rx, lag, sizeof(lag));
	pthread_mutex_unlock(&rx->lock);
	ms_rx_fail(rx, ETIMEDOUT, "nothing received from the source for %d ms %s%s",
		   rx->timeout_ms, phase, lag);
	return -ETIMEDOUT;
}

/* Until the control connection is readable, watching the rest. */
static int ms_rx_ctl_wait(struct ms_rx *rx)
{
	struct pollfd pfd = { .fd = rx->ctl, .events = POLLIN };

	for (;;) {
		if (ms_rx_failed(rx))
			return -ECANCELED;
		if (poll(&pfd, 1, MS_WATCH_MS) > 0)
			return 0;
		if (ms_rx_watch(rx))
			return -ETIMEDOUT;
	}
}

/* Read @len payload bytes of the control connection, keeping the watchdog fed. */
static int ms_rx_ctl_read(struct ms_rx *rx, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t n;
	int err;

	while (len) {
		n = len < MS_STATE_CHUNK ? len : MS_STATE_CHUNK;
		err = ms_read_full(rx->ctl, p, n);
		if (err)
			return err;
		ms_touch(&rx->ctl_active_ms);
		p += n;
		len -= n;
	}
	return 0;
}

/* The control connection failed to deliver: the source left, or went silent. */
static int ms_rx_ctl_lost(struct ms_rx *rx, int err, const char *what)
{
	char phase[64];

	pthread_mutex_lock(&rx->lock);
	ms_rx_phase(rx, phase, sizeof(phase));
	pthread_mutex_unlock(&rx->lock);
	if (ms_tls_read_error())
		ms_rx_fail(rx, -err, "the control connection failed inside %s %s: %s", what,
			   phase, ms_tls_read_error());
	else if (err == -EAGAIN)
		ms_rx_fail(rx, ETIMEDOUT, "the source stopped for %d ms inside %s %s",
			   rx->timeout_ms, what, phase);
	else
		ms_rx_source_failed(rx, ECONNABORTED, "the source went away %s; nothing was kept",
				    phase);
	return -1;
}

static int ms_rx_on_state(struct ms_rx *rx, uint32_t len)
{
	void *blob = malloc(len ? len : 1);
	int err;

	if (!blob) {
		ms_rx_fail(rx, ENOMEM, "no memory for %u bytes of device state", len);
		return -1;
	}
	err = ms_rx_ctl_read(rx, blob, len);
	if (err) {
		free(blob);
		return ms_rx_ctl_lost(rx, err, "the device state");
	}
	free(rx->res->state);
	rx->res->state = blob;
	rx->res->state_len = len;
	return 0;
}

/* COMPLETE(@last): wait until every pass up to it is applied everywhere. */
static int ms_rx_on_complete(struct ms_rx *rx, uint64_t last)
{
	struct timespec ts;
	char why[256];
	int err;

	pthread_mutex_lock(&rx->lock);
	err = ms_rxs_complete(&rx->st, last, why, sizeof(why));
	pthread_mutex_unlock(&rx->lock);
	if (err) {
		ms_rx_fail(rx, -err, "%s", why);
		return -1;
	}
	for (;;) {
		pthread_mutex_lock(&rx->lock);
		if (!rx->error && !ms_rxs_applied(&rx->st)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += MS_WATCH_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rx->cond, &rx->lock, &ts);
		}
		err = rx->error ? -1 : ms_rxs_applied(&rx->st) ? 1 : 0;
		pthread_mutex_unlock(&rx->lock);
		if (err)
			return err < 0 ? -1 : 0;
		if (ms_rx_watch(rx))
			return -1;
	}
}

/* Serve the control connection until COMPLETE is applied, ABORT or a failure. */
static int ms_rx_control(struct ms_rx *rx)
{
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	char reason[MIGSEND_REASON_MAX + 1], why[256];
	struct migsend_ctl_hdr h;
	uint16_t type;
	uint32_t len;
	int err;

	for (;;) {
		if (ms_rx_ctl_wait(rx))
			return -1;
		err = ms_read_full(rx->ctl, &h, sizeof(h));
		if (err)
			return ms_rx_ctl_lost(rx, err, "a control message");
		ms_touch(&rx->ctl_active_ms);
		err = ms_rxs_ctl_hdr(&h, &type, &len, why, sizeof(why));
		if (!err)
			err = ms_rxs_ctl_msg(type, len, why, sizeof(why));
		if (err) {
			ms_rx_fail(rx, -err, "control connection: %s", why);
			return -1;
		}
		if (type == MIGSEND_CTL_STATE) {
			if (ms_rx_on_state(rx, len))
				return -1;
			continue;
		}
		err = ms_rx_ctl_read(rx, buf, len);
		if (err)
			return ms_rx_ctl_lost(rx, err, "a control message");
		if (type == MIGSEND_CTL_ABORT) {
			err = ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
			ms_rx_source_failed(rx, ECONNABORTED,
					    "the source aborted the migration: %s (%s)",
					    reason, strerror(err > 0 ? err : EPROTO));
			return -1;
		}
		if (type == MIGSEND_CTL_COMPLETE) {
			struct migsend_ctl_complete c;
			uint64_t last;

			memcpy(&c, buf, sizeof(c));
			last = le64toh(c.last_pass);

			if (ms_rx_on_complete(rx, last))
				return -1;
			rx->res->last_pass = last;
			return 0;
		}
		ms_rx_fail(rx, EPROTO, "control connection: DONE before the destination's DONE");
		return -1;
	}
}

/* ----- the whole migration ---------------------------------------------- */

static int ms_rx_start_threads(struct ms_rx *rx)
{
	unsigned int i;

	ms_touch(&rx->ctl_active_ms);
	for (i = 0; i < rx->hello.nconns; i++) {
		rx->conns[i].rx = rx;
		rx->conns[i].index = i;
		ms_touch(&rx->conns[i].active_ms);
		if (ms_rxbuf_init(&rx->conns[i].in, rx->conns[i].fd))
			return ms_fail(ENOMEM, "starting receiver threads");
		if (pthread_create(&rx->conns[i].thread, NULL, ms_rx_data_thread,
				   &rx->conns[i]))
			return ms_fail(EAGAIN, "starting receiver threads");
		rx->conns[i].started = true;
	}
	if (pthread_create(&rx->acceptor, NULL, ms_rx_late_acceptor, rx))
		return ms_fail(EAGAIN, "starting the acceptor");
	rx->acceptor_started = true;
	return 0;
}

/* Stop the record streams: nothing is read or applied after this. */
static void ms_rx_stop_streams(struct ms_rx *rx)
{
	unsigned int i;

	pthread_mutex_lock(&rx->lock);
	rx->stopping = true;
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
	for (i = 0; i < rx->hello.nconns; i++)
		if (rx->conns[i].fd >= 0)
			shutdown(rx->conns[i].fd, SHUT_RD);
	for (i = 0; i < rx->hello.nconns; i++)
		if (rx->conns[i].started) {
			pthread_join(rx->conns[i].thread, NULL);
			rx->conns[i].started = false;
		}
}

static void ms_rx_stop_threads(struct ms_rx *rx)
{
	ms_rx_stop_streams(rx);
	if (rx->acceptor_started) {
		if (write(rx->stop[1], "x", 1) < 0)
			pthread_cancel(rx->acceptor);
		pthread_join(rx->acceptor, NULL);
		rx->acceptor_started = false;
	}
}

static void ms_rx_close_fds(struct ms_rx *rx, const struct migsend_receiver_opts *o)
{
	unsigned int i;

	for (i = 0; i < MIGSEND_MAX_CONNS; i++) {
		ms_rxbuf_free(&rx->conns[i].in);
		if (rx->conns[i].fd >= 0) {
			ms_tls_close(rx->conns[i].fd);
			close(rx->conns[i].fd);
		}
	}
	while (rx->npending) {
		close(rx->pending[rx->npending - 1].fd);
		ms_rx_pending_drop(rx, rx->npending - 1);
	}
	if (rx->ctl >= 0)
		ms_tls_close(rx->ctl);
	if (rx->ctl >= 0 && rx->error)
		ms_close_gently(rx->ctl, 500);
	else if (rx->ctl >= 0)
		close(rx->ctl);
	if (rx->lfd >= 0 && rx->lfd != o->listen_fd)
		close(rx->lfd);
	if (rx->stop[0] >= 0) {
		close(rx->stop[0]);
		close(rx->stop[1]);
	}
}

/*
 * A VMM's word before DONE (the QEMU path loads the device state here):
 * a refusal is an ABORT, and the source keeps the guest.
 */
static int ms_rx_vmm_ready(struct ms_rx *rx)
{
	const struct migsend_receiver_opts *o = rx->o;
	char why[MIGSEND_REASON_MAX] = "";
	int err;

	if (!o->ready)
		return 0;
	err = o->ready(o->vmm_ctx, rx->res->state, rx->res->state_len, why, sizeof(why));
	if (!err)
		return 0;
	ms_rx_fail(rx, err < 0 ? -err : err, "%s",
		   why[0] ? why : "the destination's VMM refused the migration");
	ms_fail(0, "%s", rx->errmsg);
	return -rx->error;
}

/*
 * The handover (docs/PROTOCOL.md): the record streams are stopped and the
 * final state checked, DONE goes out, and the source's DONE must come
 * back within the timeout.  Without it the destination holds everything
 * but cannot know whether the source knows: -ENOTCONN, memory kept.
 */
static int ms_rx_handover(struct ms_rx *rx)
{
	struct pollfd pfd = { .fd = rx->ctl, .events = POLLIN };
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	char why[256], reason[MIGSEND_REASON_MAX + 1];
	uint16_t type;
	uint32_t len;
	int err;

	ms_rx_stop_streams(rx);
	pthread_mutex_lock(&rx->lock);
	err = rx->error ? -rx->error : ms_rxs_final_check(&rx->st, why, sizeof(why));
	pthread_mutex_unlock(&rx->lock);
	if (err) {
		if (!ms_rx_failed(rx))
			ms_rx_fail(rx, -err, "%s", why);
		return ms_fail(rx->error, "%s", rx->errmsg);
	}
	err = ms_rx_vmm_ready(rx);
	if (err)
		return err;
	if (ms_ctl_send(rx->ctl, MIGSEND_CTL_DONE, NULL, 0))
		return ms_fail(ECONNABORTED, "the source went away before DONE");
	if (poll(&pfd, 1, rx->timeout_ms) != 1)
		return ms_fail(ENOTCONN, "the source did not confirm DONE within %d ms: this destination has all of pass %llu, but the source may not know it",
			       rx->timeout_ms, (unsigned long long)rx->st.final_pass);
	err = ms_ctl_recv(rx->ctl, &type, buf, sizeof(buf), &len);
	if (!err && type == MIGSEND_CTL_DONE && !len) {
		if (rx->o->confirmed)
			rx->o->confirmed(rx->o->vmm_ctx, rx->ctl);
		return 0;
	}
	if (!err && type == MIGSEND_CTL_ABORT) {
		err = ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
		return ms_fail(ECONNABORTED, "the source aborted the migration after DONE: %s (%s)",
			       reason, strerror(err > 0 ? err : EPROTO));
	}
	return ms_fail(ENOTCONN, "the source did not confirm DONE (%s): this destination has all of pass %llu, but the source may not know it",
		       err ? "connection lost" : "unexpected message",
		       (unsigned long long)rx->st.final_pass);
}

static void ms_rx_result(struct ms_rx *rx, struct migsend_receiver_result *res)
{
	unsigned int i;

	res->nregions = rx->nregions;
	for (i = 0; i < rx->nregions; i++) {
		res->regions[i].gpa = rx->regions[i].gpa;
		res->regions[i].len = rx->regions[i].len;
		res->memfds[i] = rx->regions[i].own ? rx->regions[i].fd : -1;
	}
	res->passes = rx->st.passes;
	for (i = 0; i < rx->hello.nconns; i++) {
		res->bytes += rx->conns[i].rec_bytes;
		res->data_pages += rx->conns[i].rec_data_pages;
		res->zero_pages += rx->conns[i].rec_zero_pages;
	}
}

static int ms_rx_hash(struct ms_rx *rx, struct migsend_receiver_result *res)
{
	uint64_t offs[MIGSEND_MAX_REGIONS], lens[MIGSEND_MAX_REGIONS];
	int fds[MIGSEND_MAX_REGIONS];
	unsigned int i;

	for (i = 0; i < rx->nregions; i++) {
		fds[i] = rx->regions[i].fd;
		offs[i] = rx->regions[i].offset;
		lens[i] = rx->regions[i].len;
	}
	return migsend_hash_memory(fds, offs, lens, rx->nregions, &res->hash);
}

static enum ms_ack_mode ms_ack_mode(void)
{
	const char *m = getenv("MIGSEND_TEST_ACKS");

	if (!m)
		return MS_ACK_PROGRESS;
	if (!strcmp(m, "barrier"))
		return MS_ACK_BARRIER;
	if (!strcmp(m, "end"))
		return MS_ACK_END;
	if (!strcmp(m, "every"))
		return MS_ACK_EVERY_RECORD;
	return MS_ACK_PROGRESS;
}

static uint64_t ms_default_max_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * size : 0;
}

static struct ms_rx *ms_rx_alloc(const struct migsend_receiver_opts *o,
				 struct migsend_receiver_result *res)
{
	struct ms_rx *rx = calloc(1, sizeof(*rx));
	unsigned int i;

	if (!rx)
		return NULL;
	rx->o = o;
	rx->res = res;
	rx->timeout_ms = o->timeout_ms ? (int)o->timeout_ms : MS_DEFAULT_TIMEOUT_MS;
	rx->acks = ms_ack_mode();
	rx->lim.max_memory = o->max_memory == UINT64_MAX ? 0 :
			     o->max_memory ? o->max_memory : ms_default_max_memory();
	rx->ctl = -1;
	rx->lfd = -1;
	rx->stop[0] = rx->stop[1] = -1;
	for (i = 0; i < MIGSEND_MAX_CONNS; i++)
		rx->conns[i].fd = -1;
	pthread_mutex_init(&rx->lock, NULL);
	pthread_cond_init(&rx->cond, NULL);
	return rx;
}

/* Handshake, passes, handover. */
static int ms_rx_run(struct ms_rx *rx)
{
	/* Test-only (docs/PROTOCOL.md): say what a receiver before SPARSE said. */
	const struct migsend_ctl_welcome welcome = {
		.features = htole64(getenv("MIGSEND_TEST_NO_SPARSE") ? 0 : MIGSEND_CTL_F_SPARSE),
	};
	const struct migsend_receiver_opts *o = rx->o;
	int err;

	if (o->tls) {
		err = ms_tls_new(&rx->tls, o->tls, true);
		if (err)
			return err;
	}
	rx->lfd = o->listen_fd >= 0 ? o->listen_fd : ms_tcp_listen(o->host, o->port);
	if (rx->lfd < 0)
		return rx->lfd;
	if (pipe2(rx->stop, O_CLOEXEC))
		return ms_fail(errno, "starting the receiver");
	err = ms_rx_greet(rx, false);
	if (!err && !rx->into)
		err = ms_rx_alloc_memory(rx);
	if (err) {
		if (rx->ctl >= 0)
			ms_ctl_send_abort(rx->ctl, -err, migsend_last_error());
		return err;
	}
	ms_rxs_init(&rx->st, rx->hello.nconns);
	if (ms_ctl_send(rx->ctl, MIGSEND_CTL_WELCOME, &welcome, sizeof(welcome)))
		return ms_fail(ECONNABORTED, "the source went away during the handshake");
	err = ms_rx_greet(rx, true);
	if (!err) {
		ms_rx_pending_refuse_all(rx, "a migration is already running");
		err = ms_rx_start_threads(rx);
	}
	if (err) {
		ms_ctl_send_abort(rx->ctl, -err, migsend_last_error());
		return err;
	}
	ms_set_timeouts(rx->ctl, rx->timeout_ms);
	ms_keepalive(rx->ctl);
	if (ms_rx_control(rx))
		return ms_fail(rx->error, "%s", rx->errmsg);
	return ms_rx_handover(rx);
}

static int ms_rx_main(struct ms_rx *rx, struct migsend_receiver_result *res)
{
	int err = ms_rx_run(rx);

	ms_rx_stop_threads(rx);
	res->refused = rx->refused;
	if (!err || err == -ENOTCONN) {
		ms_rx_result(rx, res);
		if (rx->o->hash) {
			int herr = ms_rx_hash(rx, res);

			if (!err)
				err = herr;
		}
	}
	ms_rx_unmap_memory(rx, !err || err == -ENOTCONN);
	if (err && err != -ENOTCONN) {
		free(res->state);
		res->state = NULL;
		res->nregions = 0;
	}
	ms_rx_close_fds(rx, rx->o);
	ms_tls_free(rx->tls);
	pthread_mutex_destroy(&rx->lock);
	pthread_cond_destroy(&rx->cond);
	free(rx);
	return err;
}

int migsend_receive(const struct migsend_receiver_opts *o,
		    struct migsend_receiver_result *res)
{
	struct ms_rx *rx;

	memset(res, 0, sizeof(*res));
	rx = ms_rx_alloc(o, res);
	if (!rx)
		return ms_fail(ENOMEM, "starting the receiver");
	return ms_rx_main(rx, res);
}

int migsend_receive_into(const struct migsend_receiver_opts *o,
			 const struct migsend_dest_region *regions, unsigned int n,
			 struct migsend_receiver_result *res)
{
	struct ms_rx *rx;
	int err;

	memset(res, 0, sizeof(*res));
	rx = ms_rx_alloc(o, res);
	if (!rx)
		return ms_fail(ENOMEM, "starting the receiver");
	err = ms_rx_into_memory(rx, regions, n, rx->into_layout);
	if (err) {
		ms_rx_unmap_memory(rx, true);
		ms_rx_close_fds(rx, o);
		pthread_mutex_destroy(&rx->lock);
		pthread_cond_destroy(&rx->cond);
		free(rx);
		return err;
	}
	rx->lim.into = rx->into_layout;
	rx->lim.ninto = n;
	rx->lim.max_memory = 0;
	return ms_rx_main(rx, res);
}

void migsend_receiver_result_free(struct migsend_receiver_result *res)
{
	unsigned int i;

	for (i = 0; i < res->nregions; i++)
		if (res->memfds[i] >= 0)
			close(res->memfds[i]);
	res->nregions = 0;
	free(res->state);
	res->state = NULL;
}
