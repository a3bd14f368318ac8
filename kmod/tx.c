// SPDX-License-Identifier: GPL-2.0
/*
 * migsend connection threads: turn spans of dirty pages into records and
 * send them without copying page data.
 *
 * Records are built in a batch of page fragments (struct ms_tx): record
 * headers are written into a page of their own and, like guest pages,
 * sent by reference; so one send call carries many records.  From 6.5 a
 * batch is one sock_sendmsg() with MSG_SPLICE_PAGES over a bvec iterator;
 * before 6.5 (where TCP ignores MSG_SPLICE_PAGES) it is one sendpage per
 * fragment.  TCP holds its own page references; the thread drops its own
 * as soon as the send call returns.  On a kTLS socket the same calls
 * reach kTLS, which takes the pages into its records by reference too.
 *
 * In a MIGSEND_PASS_SPARSE pass, a zero page between data pages costs a
 * bit in a SPARSE record's mask rather than a ZERO record and a fragment
 * of its own: an skb then carries as many data pages as on a pass with no
 * zero page at all.
 *
 * A batch always ends at a record boundary, so a pass that is aborted
 * between two batches leaves the stream parseable.  The socket's send
 * timeout is MS_SNDTIMEO, so a thread blocked on a full socket looks at
 * the abort flag and its no-progress timeout that often.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>

#include "compat.h"
#include "migsend.h"
#include "ms_wire.h"
#include "ms_zero.h"
#include "trace.h"

#define MS_HDR_LEN	sizeof(struct migsend_wire_hdr)
#define MS_END_LEN	(MS_HDR_LEN + sizeof(struct migsend_wire_end))
#define MS_SPARSE_LEN	sizeof(struct migsend_wire_sparse)

/* ----- sending a batch ------------------------------------------------ */

/*
 * The socket gave EAGAIN: its send timeout passed without room.  Decide
 * whether to keep waiting.
 */
static int ms_conn_may_wait(struct ms_conn *c, unsigned long progress)
{
	struct ms_pass *p = &c->s->pass;

	if (READ_ONCE(p->abort) || kthread_should_stop())
		return -ECANCELED;
	if (p->timeout_ms &&
	    time_after(jiffies, progress + msecs_to_jiffies(p->timeout_ms)))
		return -ETIMEDOUT;
	return 0;
}

#if MS_HAVE_SPLICE_PAGES
static int ms_sock_send(struct ms_conn *c, size_t *sent, bool more)
{
	struct ms_tx *tx = &c->tx;
	unsigned long progress = jiffies;
	struct msghdr msg = {};
	int ret;

	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, tx->vec, tx->nvec, tx->bytes);
	while (iov_iter_count(&msg.msg_iter)) {
		msg.msg_flags = MSG_SPLICE_PAGES | MSG_NOSIGNAL |
				(more ? MSG_MORE : 0);
		ret = sock_sendmsg(c->sock, &msg);
		if (ret > 0) {
			*sent += ret;
			progress = jiffies;
			continue;
		}
		if (ret && ret != -EAGAIN)
			return ret;
		ret = ms_conn_may_wait(c, progress);
		if (ret)
			return ret;
	}
	return 0;
}
#else
/* Before 6.5: sendpage, one fragment at a time; copy what it refuses. */
static int ms_sock_send_frag(struct ms_conn *c, struct page *page,
			     unsigned int off, unsigned int len, int flags)
{
	struct kvec kv;
	struct msghdr msg = { .msg_flags = flags };
	int ret;

	if (sendpage_ok(page))
		return kernel_sendpage(c->sock, page, off, len, flags);
	/* kTLS's sendmsg refuses the sendpage-only flag. */
	msg.msg_flags &= ~MSG_SENDPAGE_NOTLAST;
	kv.iov_base = kmap_local_page(page) + off;
	kv.iov_len = len;
	ret = kernel_sendmsg(c->sock, &msg, &kv, 1, len);
	kunmap_local(kv.iov_base);
	return ret;
}

static int ms_sock_send(struct ms_conn *c, size_t *sent, bool more)
{
	struct ms_tx *tx = &c->tx;
	unsigned long progress = jiffies;
	unsigned int i;
	int ret;

	for (i = 0; i < tx->nvec; i++) {
		struct bio_vec *v = &tx->vec[i];
		unsigned int off = v->bv_offset, len = v->bv_len;
		int flags = MSG_NOSIGNAL;

		if (more || i + 1 < tx->nvec)
			flags |= MSG_MORE | MSG_SENDPAGE_NOTLAST;
		while (len) {
			ret = ms_sock_send_frag(c, v->bv_page, off, len, flags);
			if (ret > 0) {
				off += ret;
				len -= ret;
				*sent += ret;
				progress = jiffies;
				continue;
			}
			if (ret && ret != -EAGAIN)
				return ret;
			ret = ms_conn_may_wait(c, progress);
			if (ret)
				return ret;
		}
	}
	return 0;
}
#endif

/* Drop the batch's page references; nothing of it is sent. */
static void ms_tx_discard(struct ms_tx *tx)
{
	unsigned int i;

	for (i = 0; i < tx->nvec; i++)
		put_page(tx->vec[i].bv_page);
	tx->nvec = 0;
	tx->bytes = 0;
	tx->records = 0;
}

void ms_tx_free(struct ms_tx *tx)
{
	ms_tx_discard(tx);
	if (tx->hdr_page) {
		put_page(tx->hdr_page);
		tx->hdr_page = NULL;
	}
}

/*
 * The connection's stream is broken: mark it failed and shut it down for
 * writing, so that the receiver sees an end of stream rather than a
 * record cut in the middle.
 */
static void ms_conn_break(struct ms_conn *c, int error)
{
	WRITE_ONCE(c->error, error);
	WRITE_ONCE(c->failed, true);
	trace_migsend_conn_dead(c->s->id, c->idx, c->s->pass.number, -error,
				c->wire_bytes, c->records);
	kernel_sock_shutdown(c->sock, SHUT_WR);
	ms_nl_event_conn_dead(c);
}

static int ms_tx_flush(struct ms_conn *c, bool more)
{
	struct ms_tx *tx = &c->tx;
	size_t sent = 0;
	int err;

	if (!tx->nvec)
		return 0;
	err = ms_sock_send(c, &sent, more);
	WRITE_ONCE(c->wire_bytes, c->wire_bytes + sent);
	if (!err)
		WRITE_ONCE(c->records, c->records + tx->records);
	else if (sent || err != -ECANCELED)
		ms_conn_break(c, err);
	ms_tx_discard(tx);
	return err;
}

/* ----- building records ------------------------------------------------ */

static int ms_tx_reserve(struct ms_conn *c, unsigned int nvec)
{
	if (c->tx.nvec + nvec <= MS_TX_MAX_VECS)
		return 0;
	return ms_tx_flush(c, true);
}

static void ms_tx_add_page(struct ms_tx *tx, struct page *page,
			   unsigned int off, unsigned int len)
{
	get_page(page);
	bvec_set_page(&tx->vec[tx->nvec++], page, len, off);
	tx->bytes += len;
}

/* Room for @len bytes of headers, in the batch, after what it holds. */
static void *ms_tx_add_hdr(struct ms_tx *tx, unsigned int len)
{
	struct bio_vec *last = tx->nvec ? &tx->vec[tx->nvec - 1] : NULL;
	void *p;

	if (!tx->hdr_page || tx->hdr_off + len > PAGE_SIZE) {
		struct page *page = alloc_page(GFP_KERNEL);

		if (!page)
			return NULL;
		if (tx->hdr_page)
			put_page(tx->hdr_page);
		tx->hdr_page = page;
		tx->hdr_off = 0;
		last = NULL;
	}
	p = page_address(tx->hdr_page) + tx->hdr_off;
	if (last && last->bv_page == tx->hdr_page &&
	    last->bv_offset + last->bv_len == tx->hdr_off) {
		last->bv_len += len;
		tx->bytes += len;
	} else {
		ms_tx_add_page(tx, tx->hdr_page, tx->hdr_off, len);
	}
	tx->hdr_off += len;
	return p;
}

static bool ms_pass_sparse(const struct ms_conn *c)
{
	return c->s->pass.flags & MIGSEND_PASS_SPARSE;
}

static void ms_count_record(struct ms_conn *c, u32 npages, u32 nzero,
			    u32 payload_len)
{
	c->cur.records++;
	c->tx.records++;
	c->cur.bytes += MS_HDR_LEN + payload_len;
	c->cur.data_pages += npages - nzero;
	c->cur.zero_pages += nzero;
}

/*
 * Write the pending DATA record's header: a SPARSE one when it holds zero
 * pages, else a DATA one, without the room kept for the mask.
 */
static void ms_rec_close_data(struct ms_conn *c)
{
	struct ms_pending *r = &c->pending;
	u32 nzero = hweight64(r->zero_mask);
	u32 len = r->npages << MIGSEND_PAGE_SHIFT;
	u8 type = MIGSEND_REC_DATA;

	if (r->zero_mask) {
		type = MIGSEND_REC_SPARSE;
		len = ms_wire_sparse_len(r->npages, nzero);
		ms_wire_sparse_encode((void *)(r->hdr + 1), r->zero_mask);
	} else if (ms_pass_sparse(c)) {
		/* Still in this batch: the whole record is (ms_rec_open_data). */
		c->tx.vec[r->hdr_vec].bv_len -= MS_SPARSE_LEN;
		c->tx.bytes -= MS_SPARSE_LEN;
	}
	ms_wire_hdr_encode(r->hdr, type, r->gpa, r->npages, len,
			   c->s->pass.number);
	ms_count_record(c, r->npages, nzero, len);
	r->type = 0;
}

/* Close the pending record: its header gets its final page count. */
static int ms_rec_close(struct ms_conn *c)
{
	struct ms_pending *r = &c->pending;
	struct migsend_wire_hdr *h;
	int err;

	if (r->type == MIGSEND_REC_DATA)
		ms_rec_close_data(c);
	if (r->type != MIGSEND_REC_ZERO)
		return 0;
	err = ms_tx_reserve(c, 1);
	if (err)
		return err;
	h = ms_tx_add_hdr(&c->tx, MS_HDR_LEN);
	if (!h)
		return -ENOMEM;
	ms_wire_hdr_encode(h, MIGSEND_REC_ZERO, r->gpa, r->npages, 0,
			   c->s->pass.number);
	ms_count_record(c, r->npages, r->npages, 0);
	r->type = 0;
	return 0;
}

/* Would a page at @gpa go next into the pending record of @type? */
static bool ms_rec_extends(const struct ms_pending *r, u8 type, u64 gpa,
			   u64 max)
{
	return r->type == type && r->npages < max &&
	       r->gpa + ((u64)r->npages << MIGSEND_PAGE_SHIFT) == gpa;
}

static int ms_rec_add_zero(struct ms_conn *c, u64 gpa, u64 npages)
{
	struct ms_pending *r = &c->pending;
	int err;

	/*
	 * In a sparse pass the DATA record takes zero pages up to its 64
	 * pages, as mask bits: they cost nothing there, and a record that
	 * ends where the next begins leaves no ZERO header between them.
	 */
	if (ms_pass_sparse(c) && npages &&
	    ms_rec_extends(r, MIGSEND_REC_DATA, gpa, MIGSEND_MAX_DATA_PAGES)) {
		u32 n = min_t(u64, npages, MIGSEND_MAX_DATA_PAGES - r->npages);

		r->zero_mask |= GENMASK_ULL(r->npages + n - 1, r->npages);
		r->npages += n;
		gpa += (u64)n << MIGSEND_PAGE_SHIFT;
		npages -= n;
	}
	while (npages) {
		u64 n;

		if (!ms_rec_extends(r, MIGSEND_REC_ZERO, gpa, U32_MAX)) {
			err = ms_rec_close(c);
			if (err)
				return err;
			r->type = MIGSEND_REC_ZERO;
			r->gpa = gpa;
			r->npages = 0;
		}
		n = min_t(u64, npages, U32_MAX - r->npages);
		r->npages += n;
		gpa += n << MIGSEND_PAGE_SHIFT;
		npages -= n;
	}
	return 0;
}

static int ms_rec_open_data(struct ms_conn *c, u64 gpa)
{
	unsigned int len = MS_HDR_LEN + (ms_pass_sparse(c) ? MS_SPARSE_LEN : 0);
	struct ms_pending *r = &c->pending;
	int err;

	err = ms_rec_close(c);
	if (err)
		return err;
	/* The whole record goes into one batch. */
	err = ms_tx_reserve(c, 1 + MIGSEND_MAX_DATA_PAGES);
	if (err)
		return err;
	r->hdr = ms_tx_add_hdr(&c->tx, len);
	if (!r->hdr)
		return -ENOMEM;
	r->hdr_vec = c->tx.nvec - 1;
	r->type = MIGSEND_REC_DATA;
	r->gpa = gpa;
	r->npages = 0;
	r->zero_mask = 0;
	return 0;
}

static int ms_rec_add_data(struct ms_conn *c, u64 gpa, struct page *page)
{
	struct ms_pending *r = &c->pending;
	int err;

	if (!ms_rec_extends(r, MIGSEND_REC_DATA, gpa, MIGSEND_MAX_DATA_PAGES)) {
		err = ms_rec_open_data(c, gpa);
		if (err)
			return err;
	}
	ms_tx_add_page(&c->tx, page, 0, PAGE_SIZE);
	r->npages++;
	return 0;
}

/* ----- classifying pages ----------------------------------------------- */

static bool ms_page_is_zero(struct page *page)
{
	void *addr = kmap_local_page(page);
	bool zero = ms_mem_is_zero(addr, PAGE_SIZE);

	kunmap_local(addr);
	return zero;
}

/* Pages [off, off + npages) of region @r, at guest address @gpa. */
static int ms_send_region_run(struct ms_conn *c, const struct ms_region *r,
			      u64 gpa, u64 off, u64 npages)
{
	bool skip_zero = c->s->pass.flags & MIGSEND_PASS_SKIP_ZERO;
	struct page *page;
	u64 n;
	int ret;

	if (off + (npages << PAGE_SHIFT) > (u64)i_size_read(file_inode(r->file)))
		return -ENXIO;
	while (npages) {
		ret = ms_mem_lookup(c, r, off, npages, &page, &n);
		if (ret < 0)
			return ret;
		if (ret == MS_PAGE_HOLE) {
			c->cur.holes += n;
			if (skip_zero) {
				ret = ms_rec_add_zero(c, gpa, n);
			} else {
				n = 1;
				ret = ms_rec_add_data(c, gpa, ZERO_PAGE(0));
			}
		} else {
			n = 1;
			if (skip_zero && ms_page_is_zero(page)) {
				c->cur.scanned_zero++;
				ret = ms_rec_add_zero(c, gpa, 1);
			} else {
				ret = ms_rec_add_data(c, gpa, page);
			}
		}
		if (ret)
			return ret;
		gpa += n << PAGE_SHIFT;
		off += n << PAGE_SHIFT;
		npages -= n;
	}
	return 0;
}

/* A run of dirty pages, which may cross regions. */
static int ms_send_run(struct ms_conn *c, u64 gpa, u64 npages)
{
	const struct ms_region *r = c->last_region;
	int err;

	while (npages) {
		u64 n;

		if (!r || gpa < r->gpa || gpa - r->gpa >= r->len) {
			r = ms_session_find_region(c->s, gpa);
			if (!r)
				return -ERANGE;
			c->last_region = r;
		}
		n = min_t(u64, npages, (r->gpa + r->len - gpa) >> PAGE_SHIFT);
		err = ms_send_region_run(c, r, gpa, r->offset + (gpa - r->gpa), n);
		if (err)
			return err;
		gpa += n << PAGE_SHIFT;
		npages -= n;
	}
	return 0;
}

static void ms_conn_push_counts(struct ms_conn *c)
{
	struct ms_pass_counters *pc = &c->s->pass.cnt;
	struct ms_conn_counts *cur = &c->cur, *old = &c->pushed;

	atomic64_add(cur->dirty_pages - old->dirty_pages, &pc->dirty_pages);
	atomic64_add(cur->holes - old->holes, &pc->zero_pages_hole);
	atomic64_add(cur->scanned_zero - old->scanned_zero,
		     &pc->zero_pages_scanned);
	atomic64_add(cur->data_pages - old->data_pages, &pc->data_pages);
	atomic64_add(cur->records - old->records, &pc->records);
	atomic64_add(cur->bytes - old->bytes, &pc->wire_bytes);
	*old = *cur;
}

/* Span @sp of the bitmap chunk @words, whose bit 0 is bitmap bit @base. */
static int ms_send_span(struct ms_conn *c, const u64 *words, u64 base,
			const struct ms_span *sp)
{
	const struct ms_pass *p = &c->s->pass;
	u64 pos = sp->start, rs, re;
	int err = 0;

	while (!err && ms_next_run(words, pos, sp->end, &rs, &re)) {
		err = ms_send_run(c, p->gpa + ((base + rs) << PAGE_SHIFT), re - rs);
		pos = re;
	}
	c->cur.dirty_pages += sp->dirty;
	return err;
}

static int ms_send_end(struct ms_conn *c)
{
	struct migsend_wire_hdr *h;
	int err;

	err = ms_rec_close(c);
	if (!err)
		err = ms_tx_reserve(c, 1);
	if (err)
		return err;
	h = ms_tx_add_hdr(&c->tx, MS_END_LEN);
	if (!h)
		return -ENOMEM;
	ms_wire_hdr_encode(h, MIGSEND_REC_END, 0, 0,
			   sizeof(struct migsend_wire_end), c->s->pass.number);
	ms_wire_end_encode((struct migsend_wire_end *)(h + 1), c->cur.records,
			   c->cur.bytes, c->cur.data_pages, c->cur.zero_pages);
	c->tx.records++;
	c->cur.records++;
	c->cur.bytes += MS_END_LEN;
	return ms_tx_flush(c, false);
}

/* The span is handed to the socket: trace it when someone listens. */
static void ms_trace_span(struct ms_conn *c, u64 base,
			  const struct ms_span *sp, u64 t0, u64 bytes0, int err)
{
	const struct ms_pass *p = &c->s->pass;

	if (!trace_migsend_span_sent_enabled() || !t0)
		return;
	trace_migsend_span_sent(c->s->id, c->idx, p->number,
				p->gpa + ((base + sp->start) << PAGE_SHIFT),
				sp->end - sp->start, sp->dirty,
				c->cur.bytes - bytes0, ktime_get_ns() - t0,
				-err);
}

static void ms_conn_run_pass(struct ms_conn *c)
{
	struct ms_pass *p = &c->s->pass;
	u64 t0 = ktime_get_ns(), base;
	struct ms_span span;
	const u64 *words;
	int err = 0;

	memset(&c->cur, 0, sizeof(c->cur));
	memset(&c->pushed, 0, sizeof(c->pushed));
	c->pending.type = 0;
	c->last_region = NULL;
	while (!READ_ONCE(p->abort)) {
		u64 span_t0 = 0, bytes0 = c->cur.bytes;

		if (ms_pass_take_span(p, &words, &base, &span))
			break;
		if (trace_migsend_span_sent_enabled())
			span_t0 = ktime_get_ns();
		err = ms_send_span(c, words, base, &span);
		ms_conn_push_counts(c);
		ms_trace_span(c, base, &span, span_t0, bytes0, err);
		if (err)
			break;
	}
	if (!err && !READ_ONCE(p->abort))
		err = ms_send_end(c);
	ms_conn_push_counts(c);
	ms_mem_release(c);
	ms_tx_discard(&c->tx);
	if (err)
		ms_pass_fail(p, err);
	WRITE_ONCE(c->last_pass_bytes, c->cur.bytes);
	WRITE_ONCE(c->busy_ns, c->busy_ns + ktime_get_ns() - t0);
}

int ms_conn_thread(void *arg)
{
	struct ms_conn *c = arg;
	struct ms_session *s = c->s;
	u64 gen;

	for (;;) {
		wait_event_idle(s->work_wq, kthread_should_stop() ||
				READ_ONCE(s->pass_gen) != c->seen_gen);
		/*
		 * Pairs with the release in ms_pass_start(): a new generation
		 * comes with the pass parameters written before it.
		 */
		gen = smp_load_acquire(&s->pass_gen);
		if (gen != c->seen_gen) {
			/* Take part even when stopping: the pass counts on it. */
			c->seen_gen = gen;
			ms_conn_run_pass(c);
			ms_pass_conn_done(s);
			continue;
		}
		if (kthread_should_stop())
			break;
	}
	return 0;
}
