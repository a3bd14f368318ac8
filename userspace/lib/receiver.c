// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The destination side (docs/PROTOCOL.md).
 *
 * One control connection must HELLO first; then exactly the announced
 * number of data connections must JOIN with the migration's token.  Any
 * other connection (no HELLO, wrong token, late, spare) is refused with an
 * ABORT and logged.  One thread per data connection reads records straight
 * into the mapped destination memfds: no intermediate buffer.  Every
 * record is checked before anything is written.  Zero runs cost nothing
 * for pages never written here, a punched hole for long runs, a memset
 * for short ones.  Records of pass N+1 wait until every connection's END
 * of pass N is applied (the per-pass barrier); after each END the
 * connection sends a cumulative ACK.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include "internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#include "ms_range.h"
#include "ms_wire.h"

#define MS_PAGE			MIGSEND_PAGE_SIZE
#define MS_DEFAULT_TIMEOUT_MS	60000
#define MS_GREETING_MS		5000
#define MS_ACK_EVERY		(8ULL << 20)	/* progress ACK every 8 MiB */
#define MS_PUNCH_MIN_PAGES	16		/* shorter zero runs: memset */

struct ms_rx_region {
	uint64_t gpa;
	uint64_t len;
	int fd;
	uint8_t *map;
	uint64_t *written;	/* a bit per page written here, atomic */
};

struct ms_rx;

struct ms_rx_conn {
	struct ms_rx *rx;
	unsigned int index;
	int fd;
	struct ms_rxbuf in;	/* the record stream read from fd */
	pthread_t thread;
	bool started;
	uint64_t pass;		/* pass of the records being applied */
	uint64_t end_pass;	/* last END applied + 1 */
	uint64_t records, bytes, data_pages, zero_pages;	/* since END */
	uint64_t total_bytes, total_records, acked_bytes;
	/* DATA and ZERO records only, all passes: summed into the result. */
	uint64_t rec_bytes, rec_data_pages, rec_zero_pages;
};

struct ms_rx {
	const struct migsend_receiver_opts *o;
	struct migsend_receiver_result *res;
	int lfd;
	int ctl;
	int stop[2];		/* wakes the late-connection acceptor */
	pthread_t acceptor;
	bool acceptor_started;
	struct migsend_hello hello;
	struct ms_rx_region regions[MIGSEND_MAX_REGIONS];
	unsigned int nregions;
	struct ms_rx_conn conns[MIGSEND_MAX_CONNS];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t done_pass;	/* every connection's END applied, + 1 */
	uint64_t seen_pass;	/* highest pass a record named */
	int error;		/* first failure, positive errno */
	char errmsg[512];
	uint64_t refused;
	uint64_t passes;
};

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

/* A failure of the destination: the source is told. */
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

static void ms_keepalive(int fd)
{
	int one = 1, idle = 10, intvl = 5, cnt = 3;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* ----- memory ----------------------------------------------------------- */

static int ms_rx_map_memory(struct ms_rx *rx)
{
	unsigned int i;

	for (i = 0; i < rx->hello.nregions; i++) {
		struct ms_rx_region *r = &rx->regions[i];

		r->gpa = rx->hello.regions[i].gpa;
		r->len = rx->hello.regions[i].len;
		r->fd = memfd_create("migsend-dest", MFD_CLOEXEC);
		rx->nregions = i + 1;
		if (r->fd < 0 || ftruncate(r->fd, r->len))
			return ms_fail(errno, "creating destination memory of %llu bytes",
				       (unsigned long long)r->len);
		r->map = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			      r->fd, 0);
		if (r->map == MAP_FAILED) {
			r->map = NULL;
			return ms_fail(errno, "mapping destination memory");
		}
		r->written = calloc((r->len / MS_PAGE + 63) / 64, sizeof(uint64_t));
		if (!r->written)
			return ms_fail(ENOMEM, "allocating the written-pages map");
		if (rx->o->prealloc && madvise(r->map, r->len, MADV_POPULATE_WRITE))
			return ms_fail(errno, "preallocating destination memory");
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
		if (!keep_fds && r->fd >= 0)
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

static bool ms_is_written(struct ms_rx_region *r, uint64_t page)
{
	return __atomic_load_n(&r->written[page / 64], __ATOMIC_RELAXED) >>
	       (page % 64) & 1;
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
		if (run < MS_PUNCH_MIN_PAGES ||
		    fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      page * MS_PAGE, run * MS_PAGE))
			memset(r->map + page * MS_PAGE, 0, run * MS_PAGE);
		ms_mark_written(r, page, run, false);
		page += run;
	}
}

/* Apply one DATA or ZERO record, piece by piece over the regions it spans. */
static int ms_rx_apply(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	uint64_t gpa = rec->gpa, left = (uint64_t)rec->npages * MS_PAGE;
	int err;

	while (left) {
		struct ms_rx_region *r = ms_rx_region_of(c->rx, gpa);
		uint64_t off = gpa - r->gpa, n = r->len - off;

		if (n > left)
			n = left;
		if (rec->type == MIGSEND_REC_DATA) {
			/*
			 * First write here: allocate the pages in one call
			 * rather than one fault per page inside recv().
			 */
			if (!ms_is_written(r, off / MS_PAGE))
				madvise(r->map + off, n, MADV_POPULATE_WRITE);
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

/* ----- data connections ------------------------------------------------- */

static int ms_rx_send_ack(struct ms_rx_conn *c)
{
	struct migsend_ctl_ack ack = {
		.end_pass = htole64(c->end_pass),
		.bytes = htole64(c->total_bytes),
		.records = htole64(c->total_records),
	};

	c->acked_bytes = c->total_bytes;
	return ms_ctl_send(c->fd, MIGSEND_CTL_ACK, &ack, sizeof(ack));
}

/* END of pass @pass here: wait for every connection's, then ACK it. */
static int ms_rx_barrier(struct ms_rx_conn *c, uint64_t pass)
{
	struct ms_rx *rx = c->rx;
	unsigned int i;
	bool all;

	pthread_mutex_lock(&rx->lock);
	c->end_pass = pass + 1;
	for (;;) {
		all = true;
		for (i = 0; i < rx->hello.nconns; i++)
			if (rx->conns[i].end_pass < pass + 1)
				all = false;
		if (all && rx->done_pass < pass + 1) {
			rx->done_pass = pass + 1;
			rx->passes++;
			pthread_cond_broadcast(&rx->cond);
		}
		if (rx->done_pass >= pass + 1 || rx->error)
			break;
		pthread_cond_wait(&rx->cond, &rx->lock);
	}
	i = rx->error;
	pthread_mutex_unlock(&rx->lock);
	return i ? -ECANCELED : ms_rx_send_ack(c);
}

static int ms_rx_end(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	struct migsend_wire_end e;
	int err = ms_rxbuf_read(&c->in, &e, sizeof(e));

	if (err)
		return err;
	if (le64toh(e.records) != c->records || le64toh(e.bytes) != c->bytes ||
	    le64toh(e.data_pages) != c->data_pages ||
	    le64toh(e.zero_pages) != c->zero_pages) {
		ms_rx_fail(c->rx, EBADMSG,
			   "connection %u: END of pass %llu counts %llu records, %llu were received",
			   c->index, (unsigned long long)rec->pass,
			   (unsigned long long)le64toh(e.records),
			   (unsigned long long)c->records);
		return -EBADMSG;
	}
	c->records = c->bytes = c->data_pages = c->zero_pages = 0;
	c->total_records++;
	c->total_bytes += sizeof(struct migsend_wire_hdr) + sizeof(e);
	return ms_rx_barrier(c, rec->pass);
}

static int ms_rx_check(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	if (rec->pass < c->pass || rec->pass + 1 <= c->end_pass) {
		ms_rx_fail(c->rx, EBADMSG,
			   "connection %u: record of pass %llu after pass %llu",
			   c->index, (unsigned long long)rec->pass,
			   (unsigned long long)(c->end_pass ? c->end_pass - 1 : c->pass));
		return -EBADMSG;
	}
	if (rec->type != MIGSEND_REC_END &&
	    !ms_rx_covered(c->rx, rec->gpa, (uint64_t)rec->npages * MS_PAGE)) {
		ms_rx_fail(c->rx, ERANGE,
			   "connection %u: record for guest addresses %#llx-%#llx outside guest memory",
			   c->index, (unsigned long long)rec->gpa,
			   (unsigned long long)(rec->gpa + (uint64_t)rec->npages * MS_PAGE - 1));
		return -ERANGE;
	}
	c->pass = rec->pass;
	pthread_mutex_lock(&c->rx->lock);
	if (rec->pass > c->rx->seen_pass)
		c->rx->seen_pass = rec->pass;
	pthread_mutex_unlock(&c->rx->lock);
	return 0;
}

static void ms_rx_count(struct ms_rx_conn *c, const struct ms_rec *rec)
{
	uint64_t len = sizeof(struct migsend_wire_hdr) + rec->payload_len;

	c->records++;
	c->bytes += len;
	c->total_records++;
	c->total_bytes += len;
	c->rec_bytes += len;
	if (rec->type == MIGSEND_REC_DATA) {
		c->data_pages += rec->npages;
		c->rec_data_pages += rec->npages;
	} else {
		c->zero_pages += rec->npages;
		c->rec_zero_pages += rec->npages;
	}
}

static void *ms_rx_data_thread(void *arg)
{
	struct ms_rx_conn *c = arg;
	struct migsend_wire_hdr h;
	struct ms_rec rec;
	int err;

	for (;;) {
		err = ms_rxbuf_read(&c->in, &h, sizeof(h));
		if (err)
			return NULL;	/* end of stream: the control says why */
		if (ms_wire_hdr_decode(&h, &rec)) {
			ms_rx_fail(c->rx, EBADMSG, "connection %u: malformed record header",
				   c->index);
			return NULL;
		}
		if (ms_rx_check(c, &rec))
			return NULL;
		if (rec.type == MIGSEND_REC_END) {
			if (ms_rx_end(c, &rec))
				return NULL;
			continue;
		}
		err = ms_rx_apply(c, &rec);
		if (err) {
			ms_rx_fail(c->rx, ECONNABORTED,
				   "connection %u lost inside a record of pass %llu",
				   c->index, (unsigned long long)rec.pass);
			return NULL;
		}
		ms_rx_count(c, &rec);
		if ((rec.flags & MIGSEND_REC_F_ACK ||
		     c->total_bytes - c->acked_bytes >= MS_ACK_EVERY) &&
		    ms_rx_send_ack(c))
			return NULL;
	}
}

/* ----- accepting connections -------------------------------------------- */

static int ms_rx_accept(struct ms_rx *rx, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = rx->lfd, .events = POLLIN },
		{ .fd = rx->stop[0], .events = POLLIN },
	};
	int fd, n;

	n = poll(pfd, 2, timeout_ms);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0 || pfd[1].revents)
		return -ECANCELED;
	fd = accept4(rx->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	ms_set_timeouts(fd, MS_GREETING_MS);
	return fd;
}

static void ms_rx_refuse(struct ms_rx *rx, int fd, int err, const char *why)
{
	char peer[128];

	ms_peer_name(fd, peer, sizeof(peer));
	ms_rx_log(rx, "refused connection from %s: %s", peer, why);
	ms_ctl_send_abort(fd, err, why);
	close(fd);
	pthread_mutex_lock(&rx->lock);
	rx->refused++;
	pthread_mutex_unlock(&rx->lock);
}

static int ms_rx_wait_hello(struct ms_rx *rx, int timeout_ms)
{
	static uint8_t buf[sizeof(struct migsend_ctl_hello) +
			   MIGSEND_MAX_REGIONS * sizeof(struct migsend_ctl_region)];
	uint16_t type;
	uint32_t len;
	int fd;

	for (;;) {
		fd = ms_rx_accept(rx, timeout_ms);
		if (fd < 0)
			return ms_fail(-fd, "waiting for the source to connect");
		if (ms_ctl_recv(fd, &type, buf, sizeof(buf), &len)) {
			ms_rx_refuse(rx, fd, EPROTO, "no valid greeting");
			continue;
		}
		if (type != MIGSEND_CTL_HELLO) {
			ms_rx_refuse(rx, fd, EACCES, "no migration has been started by a HELLO");
			continue;
		}
		if (ms_hello_decode(buf, len, &rx->hello)) {
			ms_rx_refuse(rx, fd, EPROTO, "unsupported or malformed HELLO");
			continue;
		}
		rx->ctl = fd;
		return 0;
	}
}

/* Read a JOIN; 0 and the connection index, or why it is refused. */
static int ms_rx_read_join(struct ms_rx *rx, int fd, unsigned int *index,
			   const char **why)
{
	struct migsend_ctl_join j;
	uint16_t type;
	uint32_t len;

	*why = "no valid greeting";
	if (ms_ctl_recv(fd, &type, &j, sizeof(j), &len) ||
	    type != MIGSEND_CTL_JOIN || len != sizeof(j))
		return -EPROTO;
	*why = "wrong migration token";
	if (!ms_token_equal(j.token, rx->hello.token))
		return -EACCES;
	*index = le32toh(j.index);
	*why = "connection index out of range or already joined";
	if (*index >= rx->hello.nconns || rx->conns[*index].fd >= 0)
		return -EACCES;
	return 0;
}

static int ms_rx_wait_joins(struct ms_rx *rx, int timeout_ms)
{
	unsigned int joined = 0, index;
	const char *why;
	int fd, err;

	while (joined < rx->hello.nconns) {
		fd = ms_rx_accept(rx, timeout_ms);
		if (fd < 0)
			return ms_fail(-fd, "waiting for %u data connections (%u joined)",
				       rx->hello.nconns, joined);
		err = ms_rx_read_join(rx, fd, &index, &why);
		if (err) {
			ms_rx_refuse(rx, fd, -err, why);
			continue;
		}
		if (ms_ctl_send(fd, MIGSEND_CTL_JOINED, NULL, 0)) {
			close(fd);
			continue;
		}
		ms_set_timeouts(fd, 0);
		ms_keepalive(fd);
		rx->conns[index].fd = fd;
		joined++;
	}
	return 0;
}

/* Once the migration runs, every new connection is stray or late. */
static void *ms_rx_late_acceptor(void *arg)
{
	struct ms_rx *rx = arg;
	int fd;

	while ((fd = ms_rx_accept(rx, -1)) != -ECANCELED) {
		if (fd >= 0)
			ms_rx_refuse(rx, fd, EACCES, "a migration is already running");
	}
	return NULL;
}

/* ----- the control connection ------------------------------------------- */

static int ms_rx_wait_applied(struct ms_rx *rx, uint64_t last_pass, int timeout_ms)
{
	struct timespec ts;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	pthread_mutex_lock(&rx->lock);
	while (!rx->error && rx->done_pass < last_pass + 1 && !err)
		err = pthread_cond_timedwait(&rx->cond, &rx->lock, &ts);
	pthread_mutex_unlock(&rx->lock);
	if (err && !rx->error)
		ms_rx_fail(rx, ETIMEDOUT, "pass %llu was never completed on every connection",
			   (unsigned long long)last_pass);
	return rx->error ? -rx->error : 0;
}

static int ms_rx_on_state(struct ms_rx *rx, uint32_t len)
{
	void *blob = malloc(len ? len : 1);

	if (!blob || (len && ms_read_full(rx->ctl, blob, len))) {
		free(blob);
		ms_rx_source_failed(rx, ECONNABORTED,
				    "the source went away while sending the device state");
		return -1;
	}
	free(rx->res->state);
	rx->res->state = blob;
	rx->res->state_len = len;
	return 0;
}

/* Serve the control connection until COMPLETE, ABORT or a failure. */
static int ms_rx_control(struct ms_rx *rx, int timeout_ms)
{
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	char reason[MIGSEND_REASON_MAX + 1];
	struct migsend_ctl_hdr h;
	uint16_t type;
	uint32_t len;

	for (;;) {
		if (ms_read_full(rx->ctl, &h, sizeof(h)) ||
		    ms_ctl_hdr_decode(&h, &type, &len)) {
			ms_rx_source_failed(rx, ECONNABORTED,
					    "the source went away during pass %llu; nothing was kept",
					    (unsigned long long)rx->seen_pass);
			return -1;
		}
		if (type == MIGSEND_CTL_STATE) {
			if (ms_rx_on_state(rx, len))
				return -1;
			continue;
		}
		if (len > sizeof(buf) || ms_read_full(rx->ctl, buf, len)) {
			ms_rx_fail(rx, EPROTO, "malformed control message %u", type);
			return -1;
		}
		if (type == MIGSEND_CTL_ABORT) {
			int err = ms_ctl_abort_decode(buf, len, reason, sizeof(reason));

			ms_rx_source_failed(rx, ECONNABORTED,
					    "the source aborted the migration: %s (%s)",
					    reason, strerror(err > 0 ? err : EPROTO));
			return -1;
		}
		if (type == MIGSEND_CTL_COMPLETE && len == sizeof(struct migsend_ctl_complete)) {
			uint64_t last = le64toh(((struct migsend_ctl_complete *)buf)->last_pass);

			if (ms_rx_wait_applied(rx, last, timeout_ms))
				return -1;
			rx->res->last_pass = last;
			return 0;
		}
		ms_rx_fail(rx, EPROTO, "unexpected control message %u", type);
		return -1;
	}
}

/* ----- the whole migration ---------------------------------------------- */

static int ms_rx_start_threads(struct ms_rx *rx)
{
	unsigned int i;

	for (i = 0; i < rx->hello.nconns; i++) {
		rx->conns[i].rx = rx;
		rx->conns[i].index = i;
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

static void ms_rx_stop_threads(struct ms_rx *rx)
{
	unsigned int i;

	pthread_mutex_lock(&rx->lock);
	if (!rx->error)
		rx->error = ESHUTDOWN;	/* releases the barrier */
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
	for (i = 0; i < rx->hello.nconns; i++)
		if (rx->conns[i].fd >= 0)
			shutdown(rx->conns[i].fd, SHUT_RDWR);
	for (i = 0; i < rx->hello.nconns; i++)
		if (rx->conns[i].started)
			pthread_join(rx->conns[i].thread, NULL);
	if (rx->acceptor_started) {
		if (write(rx->stop[1], "x", 1) < 0)
			pthread_cancel(rx->acceptor);
		pthread_join(rx->acceptor, NULL);
	}
}

static void ms_rx_close_fds(struct ms_rx *rx, const struct migsend_receiver_opts *o)
{
	unsigned int i;

	for (i = 0; i < MIGSEND_MAX_CONNS; i++) {
		ms_rxbuf_free(&rx->conns[i].in);
		if (rx->conns[i].fd >= 0)
			close(rx->conns[i].fd);
	}
	if (rx->ctl >= 0)
		close(rx->ctl);
	if (rx->lfd >= 0 && rx->lfd != o->listen_fd)
		close(rx->lfd);
	if (rx->stop[0] >= 0) {
		close(rx->stop[0]);
		close(rx->stop[1]);
	}
}

static int ms_rx_finish(struct ms_rx *rx, struct migsend_receiver_result *res)
{
	uint64_t offs[MIGSEND_MAX_REGIONS], lens[MIGSEND_MAX_REGIONS];
	unsigned int i;
	int err = 0;

	res->nregions = rx->nregions;
	for (i = 0; i < rx->nregions; i++) {
		res->regions[i].gpa = rx->regions[i].gpa;
		res->regions[i].len = lens[i] = rx->regions[i].len;
		res->memfds[i] = rx->regions[i].fd;
		offs[i] = 0;
	}
	res->passes = rx->passes;
	/* Every pass is applied: the barrier's lock orders these reads. */
	for (i = 0; i < rx->hello.nconns; i++) {
		res->bytes += rx->conns[i].rec_bytes;
		res->data_pages += rx->conns[i].rec_data_pages;
		res->zero_pages += rx->conns[i].rec_zero_pages;
	}
	/* Everything is applied: DONE first, the source's downtime ends here. */
	if (ms_ctl_send(rx->ctl, MIGSEND_CTL_DONE, NULL, 0))
		return ms_fail(ECONNABORTED, "the source went away before DONE");
	if (rx->o->hash)
		err = migsend_hash_memory(res->memfds, offs, lens, rx->nregions,
					  &res->hash);
	return err;
}

int migsend_receive(const struct migsend_receiver_opts *o,
		    struct migsend_receiver_result *res)
{
	int timeout_ms = o->timeout_ms ? (int)o->timeout_ms : MS_DEFAULT_TIMEOUT_MS;
	struct ms_rx *rx = calloc(1, sizeof(*rx));
	unsigned int i;
	int err;

	memset(res, 0, sizeof(*res));
	if (!rx)
		return ms_fail(ENOMEM, "starting the receiver");
	rx->o = o;
	rx->res = res;
	rx->ctl = -1;
	rx->stop[0] = rx->stop[1] = -1;
	for (i = 0; i < MIGSEND_MAX_CONNS; i++)
		rx->conns[i].fd = -1;
	pthread_mutex_init(&rx->lock, NULL);
	pthread_cond_init(&rx->cond, NULL);

	rx->lfd = o->listen_fd >= 0 ? o->listen_fd : ms_tcp_listen(o->host, o->port);
	err = rx->lfd < 0 ? rx->lfd : pipe2(rx->stop, O_CLOEXEC) ?
	      ms_fail(errno, "starting the receiver") : 0;
	if (!err)
		err = ms_rx_wait_hello(rx, timeout_ms);
	if (!err)
		err = ms_rx_map_memory(rx);
	if (!err && ms_ctl_send(rx->ctl, MIGSEND_CTL_WELCOME, NULL, 0))
		err = ms_fail(ECONNABORTED, "the source went away during the handshake");
	if (!err)
		err = ms_rx_wait_joins(rx, timeout_ms);
	if (!err)
		err = ms_rx_start_threads(rx);
	if (!err) {
		ms_set_timeouts(rx->ctl, 0);
		ms_keepalive(rx->ctl);
		if (ms_rx_control(rx, timeout_ms)) {
			ms_fail(0, "%s", rx->errmsg);
			err = -rx->error;
		}
	}
	if (!err)
		err = ms_rx_finish(rx, res);
	ms_rx_stop_threads(rx);
	res->refused = rx->refused;
	ms_rx_unmap_memory(rx, !err);
	if (err) {
		free(res->state);
		res->state = NULL;
		res->nregions = 0;
	}
	ms_rx_close_fds(rx, o);
	pthread_mutex_destroy(&rx->lock);
	pthread_cond_destroy(&rx->cond);
	free(rx);
	return err;
}

void migsend_receiver_result_free(struct migsend_receiver_result *res)
{
	unsigned int i;

	for (i = 0; i < res->nregions; i++)
		close(res->memfds[i]);
	res->nregions = 0;
	free(res->state);
	res->state = NULL;
}
