// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The userspace send engines: the same wire protocol as the kernel module,
 * for the benchmark's side-by-side and as the library's fallback when the
 * module is not loaded.  Each models a sender in use today:
 *
 *  user-copy      Cloud Hypervisor's multi-connection sender: a thread per
 *                 connection takes 64 MiB of dirty pages at a time, write()s
 *                 them from the mapping (no zero-page detection) and waits
 *                 for the receiver's ACK of the chunk before the next.
 *  user-zc        QEMU multifd: a thread per connection takes 512 KiB
 *                 batches, checks for zero pages itself, and sends each
 *                 batch with one sendmsg(MSG_ZEROCOPY); completions are
 *                 reaped as header buffers are reused and flushed at the
 *                 end of every pass.
 *  user-sendfile  the strongest plain-userspace path: zero check on the
 *                 mapping, sendfile() from the memfd for non-zero runs.
 *
 * With TLS (docs/SECURITY.md) each models its sender too: user-copy
 * encrypts in userspace with GnuTLS, as QEMU and Cloud Hypervisor do with
 * their TLS channels (gnutls_record_send() from the mapping, 16 KiB records,
 * a copy per record); user-zc and user-sendfile send over kernel TLS
 * sockets, where MSG_ZEROCOPY does not exist (encrypting is the copy), so
 * user-zc's batches go out with a plain sendmsg(); sendfile() works as is.
 *
 * Work is shared as in the kernel: one cursor over the bitmap, spans taken
 * by whichever thread is idle, an END per connection closing the pass.
 * Reading a hole through a shared mapping allocates it: these engines do,
 * as the senders they model do, and the benchmark reports it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "internal.h"
#include "ms_range.h"
#include "ms_walk.h"
#include "ms_wire.h"
#include "ms_zero.h"
#include "tls.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the walker reads the little-endian dirty bitmap in place"
#endif

#define MS_PAGE			MIGSEND_PAGE_SIZE
#define MS_HDR			sizeof(struct migsend_wire_hdr)
#define MS_COPY_CHUNK_PAGES	16384	/* 64 MiB */
#define MS_ZC_BATCH_PAGES	128	/* 512 KiB */
#define MS_SENDFILE_SPAN_PAGES	256	/* 1 MiB, as the kernel */
#define MS_ZC_RING		8	/* batches in flight per connection */
#define MS_ZC_IOV		(2 * MS_ZC_BATCH_PAGES + 2)
#define MS_SNDTIMEO_MS		100

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY		60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY		0x4000000
#endif

struct ms_counts {
	uint64_t dirty, holes, scanned, data, zero, records, bytes;
};

struct ms_uconn {
	struct ms_user *u;
	unsigned int index;
	int fd;
	struct ms_tls_conn *tls;	/* sending through GnuTLS (user-copy), or NULL */
	bool zerocopy;			/* user-zc on a plaintext socket */
	pthread_t thread;
	/* the pending record */
	uint8_t type;
	uint64_t gpa;
	uint32_t npages;
	const struct ms_region_map *r;
	uint64_t off;
	struct ms_counts cur;		/* this pass, for END */
	uint64_t sent_bytes;		/* all passes, for stop-and-wait */
	/* user-zc: a batch being built, and the completions */
	struct iovec iov[MS_ZC_IOV];
	unsigned int niov;
	struct migsend_wire_hdr *hdrs;	/* MS_ZC_RING x (MS_ZC_BATCH_PAGES + 2) */
	unsigned int nhdr;
	uint64_t batches;		/* batches sent; batch b uses slot b % RING */
	uint64_t zc_calls;		/* zerocopy sendmsg ids issued */
	uint64_t zc_done;		/* ids completed */
	uint64_t slot_last_id[MS_ZC_RING];	/* last id of the slot's batch, + 1 */
	/* stats */
	uint64_t wire_bytes, records, busy_ns, pass_bytes;
	uint64_t live_bytes;		/* cur.bytes as of the last span, atomic */
	int error;
	bool failed;
};

/* A region as these engines see it: its own fd and read-only map. */
struct ms_region_map {
	int fd;
	uint64_t offset;
	uint64_t gpa;
	uint64_t len;
	uint8_t *map;		/* the region's bytes (offset applied) */
};

struct ms_user {
	struct migsend_session *s;
	struct ms_region_map maps[MIGSEND_MAX_REGIONS];	/* sorted by gpa */
	unsigned int nconns;
	struct ms_uconn conns[MIGSEND_MAX_CONNS];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* the pass */
	struct migsend_pass p;
	const u64 *bitmap;
	uint64_t cursor;
	unsigned int running;
	bool started;
	bool abort;
	int error;			/* positive errno */
	uint32_t state;
	uint64_t start_ns, elapsed_ns;
	struct ms_counts cnt;
	struct migsend_counters total;
};

static uint64_t ms_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int ms_user_pass_cancel(struct migsend_session *s);
static int ms_user_pass_wait(struct migsend_session *s, struct migsend_pass_result *r);

static int ms_user_open(struct migsend_session *s, const char *dev_path)
{
	struct ms_user *u = calloc(1, sizeof(*u));

	(void)dev_path;
	if (!u)
		return ms_fail(ENOMEM, "cannot allocate the %s engine",
			       migsend_engine_name(s->engine));
	u->s = s;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	s->priv = u;
	return 0;
}

static void ms_user_close(struct migsend_session *s)
{
	struct ms_user *u = s->priv;
	unsigned int i;

	ms_user_pass_cancel(s);
	if (u->started) {
		struct migsend_pass_result r;

		ms_user_pass_wait(s, &r);
	}
	for (i = 0; i < s->nregions; i++) {
		munmap(u->maps[i].map, u->maps[i].len);
		close(u->maps[i].fd);
	}
	for (i = 0; i < u->nconns; i++)
		free(u->conns[i].hdrs);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

/* ----- configuration ----------------------------------------------------- */

static bool ms_user_running(struct ms_user *u)
{
	bool running;

	pthread_mutex_lock(&u->lock);
	running = u->state == MIGSEND_STATE_RUNNING;
	pthread_mutex_unlock(&u->lock);
	return running;
}

static int ms_user_add_region(struct migsend_session *s, int fd, uint64_t offset,
		       uint64_t gpa, uint64_t len)
{
	struct ms_region_map m = { .offset = offset, .gpa = gpa, .len = len };
	struct stat st;
	unsigned int i;

	if (!len || (offset | gpa | len) % MS_PAGE || offset + len < offset ||
	    gpa + len < gpa)
		return ms_fail(EINVAL, "adding a memory region: unaligned or empty");
	if (fstat(fd, &st))
		return ms_fail(errno, "adding a memory region");
	if (!S_ISREG(st.st_mode))
		return ms_fail(ENODEV, "adding a memory region: not a memory file");
	if (offset + len > (uint64_t)st.st_size)
		return ms_fail(ENXIO, "adding a memory region: past the end of the file");
	struct ms_user *u = s->priv;

	if (ms_user_running(u))
		return ms_fail(EBUSY, "adding a memory region: a pass is running");
	for (i = 0; i < s->nregions; i++)
		if (gpa < u->maps[i].gpa + u->maps[i].len && u->maps[i].gpa < gpa + len)
			return ms_fail(EEXIST, "adding a memory region: overlaps another");
	m.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (m.fd < 0)
		return ms_fail(errno, "adding a memory region");
	m.map = mmap(NULL, len, PROT_READ, MAP_SHARED, m.fd, offset);
	if (m.map == MAP_FAILED) {
		close(m.fd);
		return ms_fail(errno, "mapping a memory region");
	}
	/* Keep them sorted by gpa, as the layout. */
	for (i = s->nregions; i > 0 && u->maps[i - 1].gpa > gpa; i--)
		u->maps[i] = u->maps[i - 1];
	u->maps[i] = m;
	return 0;
}

static int ms_user_add_socket(struct migsend_session *s, int fd)
{
	struct ms_user *u = s->priv;
	struct timeval tv = { .tv_usec = MS_SNDTIMEO_MS * 1000 };
	struct ms_uconn *c;
	int one = 1;

	if (u->nconns >= MIGSEND_MAX_CONNS)
		return ms_fail(ENOSPC, "adding a data connection: at most %u",
			       MIGSEND_MAX_CONNS);
	if (ms_user_running(u))
		return ms_fail(EBUSY, "adding a data connection: a pass is running");
	c = &u->conns[u->nconns];
	memset(c, 0, sizeof(*c));
	c->u = u;
	c->index = u->nconns;
	c->fd = fd;
	c->tls = ms_tls_user_of(fd);
	if (c->tls && s->engine != MIGSEND_ENGINE_USER_COPY)
		return ms_fail(EINVAL, "the %s engine sends over kernel TLS, not through GnuTLS",
			       migsend_engine_name(s->engine));
	/* As the module's MIGSEND_SOCK_KTLS: no plain socket in an encrypted session. */
	if (s->encrypted && !c->tls && !ms_tls_ktls_tx(fd))
		return ms_fail(EPROTONOSUPPORT, "adding a data connection: an encrypted session takes TLS sockets only");
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (s->engine == MIGSEND_ENGINE_USER_ZC) {
		c->zerocopy = !ms_tls_ktls_tx(fd);
		if (c->zerocopy && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
			return ms_fail(errno, "enabling MSG_ZEROCOPY");
		c->hdrs = calloc(MS_ZC_RING * (MS_ZC_BATCH_PAGES + 2), MS_HDR);
		if (!c->hdrs)
			return ms_fail(ENOMEM, "adding a data connection");
	}
	return u->nconns++;
}

/* ----- sending ------------------------------------------------------------ */

static int ms_may_wait(struct ms_uconn *c, uint64_t progress_ns)
{
	struct ms_user *u = c->u;
	bool abort;

	pthread_mutex_lock(&u->lock);
	abort = u->abort;
	pthread_mutex_unlock(&u->lock);
	if (abort)
		return -ECANCELED;
	if (u->p.timeout_ms && ms_now_ns() - progress_ns > u->p.timeout_ms * 1000000ULL)
		return -ETIMEDOUT;
	return 0;
}

static int ms_zc_reap(struct ms_uconn *c, uint64_t want);

/*
 * user-copy with TLS: each piece through GnuTLS, which encrypts it into
 * records of its own; the 100 ms send timeout as below.
 */
static int ms_tls_writev_all(struct ms_uconn *c, const struct iovec *iov, int n)
{
	uint64_t progress = ms_now_ns();
	const uint8_t *p;
	size_t len;
	ssize_t got;
	int i, err;

	for (i = 0; i < n; i++) {
		for (p = iov[i].iov_base, len = iov[i].iov_len; len; p += got, len -= got) {
			got = ms_tls_user_send(c->tls, p, len);
			if (got == -EAGAIN) {
				err = ms_may_wait(c, progress);
				if (err)
					return err;
				got = 0;
				continue;
			}
			if (got < 0)
				return got;
			c->wire_bytes += got;
			progress = ms_now_ns();
		}
	}
	return 0;
}

/* writev() everything, through the 100 ms send timeout. */
static int ms_writev_all(struct ms_uconn *c, struct iovec *iov, int n, int flags)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
	uint64_t progress = ms_now_ns();
	ssize_t got;
	int err;

	if (c->tls)
		return ms_tls_writev_all(c, iov, n);
	if (!c->zerocopy)
		flags &= ~MSG_ZEROCOPY;
	while (msg.msg_iovlen) {
		got = sendmsg(c->fd, &msg, flags | MSG_NOSIGNAL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != ENOBUFS)
				return -errno;
			/* Out of zerocopy budget: completions free it. */
			if (errno == ENOBUFS && c->zc_calls > c->zc_done)
				err = ms_zc_reap(c, c->zc_done + 1);
			else
				err = ms_may_wait(c, progress);
			if (err)
				return err;
			continue;
		}
		if (flags & MSG_ZEROCOPY)
			c->zc_calls++;
		c->wire_bytes += got;
		progress = ms_now_ns();
		while (got && msg.msg_iovlen) {
			if ((size_t)got >= msg.msg_iov->iov_len) {
				got -= msg.msg_iov->iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			} else {
				msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + got;
				msg.msg_iov->iov_len -= got;
				got = 0;
			}
		}
	}
	return 0;
}

static int ms_sendfile_all(struct ms_uconn *c, int fd, uint64_t off, size_t len)
{
	uint64_t progress = ms_now_ns();
	off_t o = off;
	ssize_t got;
	int err;

	while (len) {
		got = sendfile(c->fd, fd, &o, len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			err = ms_may_wait(c, progress);
			if (err)
				return err;
			continue;
		}
		if (!got)
			return -EIO;	/* the file shrank */
		c->wire_bytes += got;
		progress = ms_now_ns();
		len -= got;
	}
	return 0;
}

/* user-zc: read zerocopy completions; block until @want are done. */
static int ms_zc_reap(struct ms_uconn *c, uint64_t want)
{
	char control[128];
	struct msghdr msg = { .msg_control = control };
	struct sock_extended_err *ee;
	struct cmsghdr *cm;
	uint64_t progress = ms_now_ns();
	int err;

	while (c->zc_done < want) {
		msg.msg_controllen = sizeof(control);
		if (recvmsg(c->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			struct pollfd pfd = { .fd = c->fd, .events = 0 };

			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			err = ms_may_wait(c, progress);
			if (err)
				return err;
			poll(&pfd, 1, MS_SNDTIMEO_MS);
			continue;
		}
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			ee = (struct sock_extended_err *)CMSG_DATA(cm);
			if (ee->ee_origin == SO_EE_ORIGIN_ZEROCOPY &&
			    (uint64_t)ee->ee_data + 1 > c->zc_done) {
				c->zc_done = (uint64_t)ee->ee_data + 1;
				progress = ms_now_ns();
			}
		}
	}
	return 0;
}

/*
 * user-zc: send the batch with one sendmsg(MSG_ZEROCOPY) (more when the
 * socket takes it in parts).  Its headers stay untouched until the kernel
 * reports the batch complete: the next batch's slot is reused only then.
 */
static int ms_zc_flush(struct ms_uconn *c)
{
	unsigned int slot;
	int err;

	if (!c->niov)
		return 0;
	err = ms_writev_all(c, c->iov, c->niov, MSG_ZEROCOPY);
	c->slot_last_id[c->batches % MS_ZC_RING] = c->zc_calls;
	c->batches++;
	c->niov = 0;
	slot = c->batches % MS_ZC_RING;
	c->nhdr = slot * (MS_ZC_BATCH_PAGES + 2);
	if (!err)
		err = ms_zc_reap(c, c->slot_last_id[slot]);
	return err;
}

/* ----- records ------------------------------------------------------------- */

static uint64_t ms_pending_bytes(const struct ms_uconn *c)
{
	return MS_HDR + (c->type == MIGSEND_REC_DATA ? (uint64_t)c->npages * MS_PAGE : 0);
}

static void ms_count_record(struct ms_uconn *c)
{
	c->cur.records++;
	c->cur.bytes += ms_pending_bytes(c);
	if (c->type == MIGSEND_REC_DATA)
		c->cur.data += c->npages;
	else
		c->cur.zero += c->npages;
	c->records++;
}

/* Send the pending record, the way this engine sends. */
static int ms_rec_send(struct ms_uconn *c, uint16_t flags)
{
	enum migsend_engine e = c->u->s->engine;
	uint64_t pass = c->u->p.pass, len = (uint64_t)c->npages * MS_PAGE;
	struct migsend_wire_hdr h, *hp = &h;
	struct iovec iov[2];
	int err;

	if (e == MIGSEND_ENGINE_USER_ZC)
		hp = &c->hdrs[c->nhdr++];
	ms_wire_hdr_encode(hp, c->type, c->gpa, c->npages,
			   c->type == MIGSEND_REC_DATA ? len : 0, pass);
	hp->flags = htole16(flags);
	iov[0] = (struct iovec){ hp, MS_HDR };
	iov[1] = (struct iovec){ c->r ? c->r->map + c->off : NULL, len };
	if (e == MIGSEND_ENGINE_USER_ZC) {
		c->iov[c->niov++] = iov[0];
		if (c->type == MIGSEND_REC_DATA)
			c->iov[c->niov++] = iov[1];
		err = 0;
	} else if (e == MIGSEND_ENGINE_USER_SENDFILE && c->type == MIGSEND_REC_DATA) {
		err = ms_writev_all(c, iov, 1, MSG_MORE);
		if (!err)
			err = ms_sendfile_all(c, c->r->fd, c->r->offset + c->off, len);
	} else {
		err = ms_writev_all(c, iov, c->type == MIGSEND_REC_DATA ? 2 : 1, 0);
	}
	if (!err)
		c->sent_bytes += ms_pending_bytes(c);
	return err;
}

static int ms_rec_close(struct ms_uconn *c, bool last_of_chunk)
{
	int err;

	if (!c->type)
		return 0;
	err = ms_rec_send(c, last_of_chunk ? MIGSEND_REC_F_ACK : 0);
	if (!err)
		ms_count_record(c);
	c->type = 0;
	return err;
}

/* Add one page (or, for ZERO, a run) to the pending record. */
static int ms_rec_add(struct ms_uconn *c, uint8_t type, uint64_t gpa,
		      const struct ms_region_map *r, uint64_t off, uint64_t n)
{
	int err;

	if (c->type == type && c->gpa + (uint64_t)c->npages * MS_PAGE == gpa &&
	    (type == MIGSEND_REC_ZERO ? c->npages + n <= UINT32_MAX :
	     c->npages < MIGSEND_MAX_DATA_PAGES && c->r == r)) {
		c->npages += n;
		return 0;
	}
	err = ms_rec_close(c, false);
	if (err)
		return err;
	/* A batch never splits a record. */
	if (c->u->s->engine == MIGSEND_ENGINE_USER_ZC &&
	    c->niov + 2 * MIGSEND_MAX_DATA_PAGES + 2 > MS_ZC_IOV) {
		err = ms_zc_flush(c);
		if (err)
			return err;
	}
	c->type = type;
	c->gpa = gpa;
	c->npages = n;
	c->r = r;
	c->off = off;
	return 0;
}

static int ms_map_cmp(const void *key, const void *elt)
{
	const struct ms_region_map *m = elt;

	return ms_gpa_cmp(*(const uint64_t *)key, m->gpa, m->len);
}

static const struct ms_region_map *ms_find_map(struct migsend_session *s, uint64_t gpa)
{
	struct ms_user *u = s->priv;

	return bsearch(&gpa, u->maps, s->nregions, sizeof(*u->maps), ms_map_cmp);
}

/* A run of dirty pages: classify each page, build records. */
static int ms_send_run(struct ms_uconn *c, uint64_t gpa, uint64_t npages)
{
	struct ms_user *u = c->u;
	bool check = u->p.flags & MIGSEND_PASS_SKIP_ZERO &&
		     u->s->engine != MIGSEND_ENGINE_USER_COPY;
	int err;

	while (npages) {
		const struct ms_region_map *r = ms_find_map(u->s, gpa);
		uint64_t off, n;

		if (!r)
			return -ERANGE;
		off = gpa - r->gpa;
		n = (r->len - off) / MS_PAGE;
		if (n > npages)
			n = npages;
		for (uint64_t i = 0; i < n; i++, off += MS_PAGE, gpa += MS_PAGE) {
			bool zero = check && ms_mem_is_zero(r->map + off, MS_PAGE);

			if (zero)
				c->cur.scanned++;
			err = ms_rec_add(c, zero ? MIGSEND_REC_ZERO : MIGSEND_REC_DATA,
					 gpa, r, off, 1);
			if (err)
				return err;
		}
		npages -= n;
	}
	return 0;
}

static unsigned int ms_span_pages(enum migsend_engine e)
{
	switch (e) {
	case MIGSEND_ENGINE_USER_COPY:
		return MS_COPY_CHUNK_PAGES;
	case MIGSEND_ENGINE_USER_ZC:
		return MS_ZC_BATCH_PAGES;
	default:
		return MS_SENDFILE_SPAN_PAGES;
	}
}

/* The next span of the pass, under u->lock; false when none is left. */
static bool ms_take_span(struct ms_user *u, struct ms_span *sp)
{
	bool ok = false;

	pthread_mutex_lock(&u->lock);
	if (!u->abort && u->cursor < u->p.npages &&
	    ms_next_span(u->bitmap, u->cursor, u->p.npages,
			 ms_span_pages(u->s->engine), UINT64_MAX, sp)) {
		u->cursor = sp->end;
		ok = true;
	} else {
		u->cursor = u->p.npages;
	}
	pthread_mutex_unlock(&u->lock);
	return ok;
}

/* End of a span: flush what this engine batches, wait where it waits. */
static int ms_span_done(struct ms_uconn *c)
{
	enum migsend_engine e = c->u->s->engine;
	struct migsend_session *s = c->u->s;
	int err;

	if (e == MIGSEND_ENGINE_USER_COPY) {
		err = ms_rec_close(c, true);
		if (!err && s->wait_acked)
			err = s->wait_acked(s->ack_ctx, c->index, c->sent_bytes);
		return err;
	}
	if (e == MIGSEND_ENGINE_USER_ZC) {
		err = ms_rec_close(c, false);
		return err ? err : ms_zc_flush(c);
	}
	return 0;
}

static int ms_send_end(struct ms_uconn *c)
{
	struct migsend_wire_end *e;
	struct migsend_wire_hdr *h;
	struct iovec iov[2];
	uint8_t buf[MS_HDR + sizeof(*e)];
	int err = ms_rec_close(c, false);

	if (err)
		return err;
	if (c->u->s->engine == MIGSEND_ENGINE_USER_ZC) {
		err = ms_zc_flush(c);
		if (err)
			return err;
	}
	h = (void *)buf;
	e = (void *)(buf + MS_HDR);
	ms_wire_hdr_encode(h, MIGSEND_REC_END, 0, 0, sizeof(*e), c->u->p.pass);
	ms_wire_end_encode(e, c->cur.records, c->cur.bytes, c->cur.data, c->cur.zero);
	iov[0] = (struct iovec){ buf, sizeof(buf) };
	err = ms_writev_all(c, iov, 1, 0);
	if (!err) {
		c->records++;
		c->cur.records++;
		c->cur.bytes += sizeof(buf);
		c->sent_bytes += sizeof(buf);
	}
	/* user-zc: the per-pass flush of every completion. */
	if (!err && c->u->s->engine == MIGSEND_ENGINE_USER_ZC)
		err = ms_zc_reap(c, c->zc_calls);
	return err;
}

static void ms_add_counts(struct ms_counts *t, const struct ms_counts *a)
{
	t->dirty += a->dirty;
	t->holes += a->holes;
	t->scanned += a->scanned;
	t->data += a->data;
	t->zero += a->zero;
	t->records += a->records;
	t->bytes += a->bytes;
}

static void ms_pass_finish(struct ms_user *u)
{
	struct migsend_counters *t = &u->total;

	u->elapsed_ns = ms_now_ns() - u->start_ns;
	u->state = !u->error ? MIGSEND_STATE_DONE :
		   u->error == ECANCELED ? MIGSEND_STATE_CANCELLED : MIGSEND_STATE_FAILED;
	t->dirty_pages += u->cnt.dirty;
	t->zero_pages_scanned += u->cnt.scanned;
	t->data_pages += u->cnt.data;
	t->records += u->cnt.records;
	t->wire_bytes += u->cnt.bytes;
	t->elapsed_ns += u->elapsed_ns;
	t->errors += u->error != 0;
	pthread_cond_broadcast(&u->cond);
}

static void *ms_conn_thread(void *arg)
{
	struct ms_uconn *c = arg;
	struct ms_user *u = c->u;
	uint64_t t0 = ms_now_ns();
	u64 rs, re, pos;
	struct ms_span sp;
	int err = 0;

	memset(&c->cur, 0, sizeof(c->cur));
	c->type = 0;
	c->niov = 0;
	c->nhdr = (c->batches % MS_ZC_RING) * (MS_ZC_BATCH_PAGES + 2);
	while (!err && ms_take_span(u, &sp)) {
		for (pos = sp.start; !err && ms_next_run(u->bitmap, pos, sp.end, &rs, &re);
		     pos = re)
			err = ms_send_run(c, u->p.gpa + rs * MS_PAGE, re - rs);
		c->cur.dirty += sp.dirty;
		if (!err)
			err = ms_span_done(c);
		__atomic_store_n(&c->live_bytes, c->cur.bytes, __ATOMIC_RELAXED);
	}
	pthread_mutex_lock(&u->lock);
	if (!err && u->abort)
		err = -(u->error ? u->error : ECANCELED);
	pthread_mutex_unlock(&u->lock);
	if (!err)
		err = ms_send_end(c);
	pthread_mutex_lock(&u->lock);
	c->busy_ns += ms_now_ns() - t0;
	c->pass_bytes = c->cur.bytes;
	__atomic_store_n(&c->live_bytes, 0, __ATOMIC_RELAXED);
	ms_add_counts(&u->cnt, &c->cur);
	if (err && !u->error) {
		u->error = -err;
		u->abort = true;
	}
	if (err && err != -ECANCELED) {
		c->failed = true;
		c->error = -err;
	}
	if (!--u->running)
		ms_pass_finish(u);
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* ----- the pass calls -------------------------------------------------- */

static int ms_user_pass_start(struct migsend_session *s, const struct migsend_pass *p)
{
	struct ms_user *u = s->priv;
	unsigned int i;

	if (p->flags & ~MIGSEND_PASS_FLAGS_ALL || p->gpa % MS_PAGE)
		return ms_fail(EINVAL, "starting a pass: bad flags or gpa");
	if (!u->nconns)
		return ms_fail(ENOTCONN, "starting a pass: no data connection");
	if (!s->nregions)
		return ms_fail(ENOENT, "starting a pass: no memory region");
	pthread_mutex_lock(&u->lock);
	if (u->state == MIGSEND_STATE_RUNNING || u->started) {
		pthread_mutex_unlock(&u->lock);
		return ms_fail(EBUSY, "starting a pass: one is running");
	}
	for (i = 0; i < u->nconns; i++) {
		if (u->conns[i].failed) {
			pthread_mutex_unlock(&u->lock);
			return ms_fail(EPIPE, "starting a pass: a connection has failed");
		}
	}
	u->p = *p;
	u->bitmap = (const u64 *)(uintptr_t)p->bitmap;
	u->cursor = 0;
	u->abort = false;
	u->error = 0;
	u->state = MIGSEND_STATE_RUNNING;
	memset(&u->cnt, 0, sizeof(u->cnt));
	u->start_ns = ms_now_ns();
	u->running = u->nconns;
	u->started = true;
	for (i = 0; i < u->nconns; i++) {
		if (pthread_create(&u->conns[i].thread, NULL, ms_conn_thread, &u->conns[i])) {
			/* Threads that did start see the abort and finish. */
			u->abort = true;
			u->error = EAGAIN;
			u->running -= u->nconns - i;
			if (!u->running)
				ms_pass_finish(u);
			u->nconns = i;
			break;
		}
	}
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int ms_user_pass_wait(struct migsend_session *s, struct migsend_pass_result *r)
{
	struct ms_user *u = s->priv;
	unsigned int i;

	if (!u->started)
		return ms_fail(ENOENT, "waiting for a pass: none was started");
	for (i = 0; i < u->nconns; i++)
		pthread_join(u->conns[i].thread, NULL);
	pthread_mutex_lock(&u->lock);
	u->started = false;
	memset(r, 0, sizeof(*r));
	r->pass = u->p.pass;
	r->state = u->state;
	r->error = u->error;
	r->elapsed_ns = u->elapsed_ns;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int ms_user_pass_cancel(struct migsend_session *s)
{
	struct ms_user *u = s->priv;

	pthread_mutex_lock(&u->lock);
	if (u->state == MIGSEND_STATE_RUNNING) {
		u->abort = true;
		if (!u->error)
			u->error = ECANCELED;
	}
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int ms_user_get_stats(struct migsend_session *s, struct migsend_stats *st,
		      struct migsend_conn_stats *conns, uint32_t nconns)
{
	struct ms_user *u = s->priv;
	unsigned int i;

	pthread_mutex_lock(&u->lock);
	st->pass = u->p.pass;
	st->state = u->state;
	st->error = u->state == MIGSEND_STATE_RUNNING ? 0 : u->error;
	st->nregions = s->nregions;
	st->nconns = u->nconns;
	st->last.dirty_pages = u->cnt.dirty;
	st->last.zero_pages_scanned = u->cnt.scanned;
	st->last.data_pages = u->cnt.data;
	st->last.records = u->cnt.records;
	st->last.wire_bytes = u->cnt.bytes;
	/* Connections still sending: what they have sent so far, as the
	 * kernel's counters show a running pass (the bandwidth cap reads it).
	 */
	for (i = 0; u->state == MIGSEND_STATE_RUNNING && i < u->nconns; i++)
		st->last.wire_bytes += __atomic_load_n(&u->conns[i].live_bytes,
						       __ATOMIC_RELAXED);
	st->last.elapsed_ns = u->state == MIGSEND_STATE_RUNNING ?
			      ms_now_ns() - u->start_ns : u->elapsed_ns;
	st->last.errors = u->error != 0;
	st->total = u->total;
	for (i = 0; conns && i < u->nconns && i < nconns; i++) {
		struct ms_uconn *c = &u->conns[i];

		conns[i] = (struct migsend_conn_stats){
			.wire_bytes = c->wire_bytes, .records = c->records,
			.busy_ns = c->busy_ns, .pass_wire_bytes = c->pass_bytes,
			.error = c->error, .flags = c->failed ? MIGSEND_CONN_FAILED : 0,
		};
	}
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int ms_user_version(struct migsend_session *s, struct migsend_version *v)
{
	(void)v;
	return ms_fail(EOPNOTSUPP, "the %s engine does not use the module",
		       migsend_engine_name(s->engine));
}

const struct ms_engine_ops ms_engine_user_ops = {
	.open = ms_user_open,
	.close = ms_user_close,
	.version = ms_user_version,
	.add_region = ms_user_add_region,
	.add_socket = ms_user_add_socket,
	.pass_start = ms_user_pass_start,
	.pass_wait = ms_user_pass_wait,
	.pass_cancel = ms_user_pass_cancel,
	.get_stats = ms_user_get_stats,
};
