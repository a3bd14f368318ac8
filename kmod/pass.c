// SPDX-License-Identifier: GPL-2.0
/*
 * migsend passes: start, wait, cancel, stats, and work sharing.
 *
 * PASS_START copies the caller's dirty bitmap into the kernel, in the
 * caller's context and before it takes any lock: memory that blocks on
 * read (userfaultfd, FUSE) can hold up that one call, interruptibly, and
 * nothing else.  The connection threads never touch user memory.
 *
 * Work is shared through one cursor over the copy.  A connection thread
 * that is idle takes the next span (at most MS_SPAN_MAX_DIRTY dirty pages)
 * under cursor_lock and lets go of the lock before it looks at a single
 * page; so a slow connection only ever holds back its own span.
 *
 * A pass ends when every connection thread has finished its share and
 * written its END record; the last one to finish completes the pass.
 */
#include <linux/ktime.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "migsend.h"
#include "trace.h"

/* The chunk of a bitmap copy whose bits are all set (a first pass's). */
static const u64 ms_full_chunk[MS_CHUNK_WORDS] = {
	[0 ... MS_CHUNK_WORDS - 1] = ~0ULL,
};

static void ms_dirty_free(struct ms_dirty *d)
{
	u64 i;

	for (i = 0; i < d->nchunks; i++)
		if (d->chunks[i] != ms_full_chunk)
			kfree(d->chunks[i]);
	kvfree(d->chunks);
	d->chunks = NULL;
	d->nchunks = 0;
}

void ms_pass_init(struct ms_pass *p)
{
	mutex_init(&p->cursor_lock);
}

void ms_pass_free(struct ms_pass *p)
{
	ms_dirty_free(&p->dirty);
	mutex_destroy(&p->cursor_lock);
}

bool ms_pass_running(struct ms_session *s)
{
	return READ_ONCE(s->pass.state) == MIGSEND_STATE_RUNNING;
}

static size_t ms_bitmap_bytes(u64 npages)
{
	return DIV_ROUND_UP(npages, MS_BITS_PER_WORD) * sizeof(u64);
}

/* What can be checked before the bitmap is read and the session locked. */
static int ms_pass_check_args(const struct migsend_pass *a)
{
	u64 span, end;

	if (a->flags & ~MIGSEND_PASS_FLAGS_ALL)
		return -EINVAL;
	/* Zero pages go inside SPARSE records only when they are looked for. */
	if ((a->flags & MIGSEND_PASS_SPARSE) &&
	    !(a->flags & MIGSEND_PASS_SKIP_ZERO))
		return -EINVAL;
	if (a->gpa & (MIGSEND_PAGE_SIZE - 1))
		return -EINVAL;
	if (check_shl_overflow(a->npages, MIGSEND_PAGE_SHIFT, &span) ||
	    check_add_overflow(a->gpa, span, &end))
		return -EOVERFLOW;
	if (a->npages > MIGSEND_MAX_PASS_PAGES)
		return -E2BIG;
	if (a->npages &&
	    !access_ok(u64_to_user_ptr(a->bitmap), ms_bitmap_bytes(a->npages)))
		return -EFAULT;
	return 0;
}

/*
 * NULL when no bit of [0, @nbits) of @w is set, ms_full_chunk when all
 * are, else @w.  Bits past @nbits are clear.
 */
static const u64 *ms_chunk_kind(const u64 *w, u64 nbits)
{
	u64 i, nwords = DIV_ROUND_UP(nbits, MS_BITS_PER_WORD);
	u64 any = 0, all = ~0ULL, last = w[nwords - 1];
	u64 valid = nbits % MS_BITS_PER_WORD ? ~ms_mask_from(nbits) : ~0ULL;

	for (i = 0; i + 1 < nwords; i++) {
		any |= w[i];
		all &= w[i];
	}
	any |= last;
	all &= last | ~valid;
	if (!any)
		return NULL;
	return all == ~0ULL ? ms_full_chunk : w;
}

/*
 * Copy the caller's bitmap, in the caller's context and with no lock
 * held.  A fault on it may wait (userfaultfd, FUSE): interruptibly, and
 * only this caller waits.  Its last word is read first, so that a bitmap
 * too short for npages costs no allocation.  Between two chunks the copy
 * stops for a fatal signal (EINTR) or a PASS_CANCEL (ECANCELED).
 */
static int ms_dirty_copy(struct ms_dirty *d, struct ms_session *s,
			 const struct migsend_pass *a, u32 cancel_seq)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	u64 __user *src = u64_to_user_ptr(a->bitmap);
	u64 i, k, nchunks = DIV_ROUND_UP(a->npages, MS_CHUNK_BITS);
	u64 *buf = NULL;
	int err = 0;

	if (!a->npages)
		return 0;
	if (fault_in_readable((const char __user *)
			      &src[ms_bitmap_bytes(a->npages) / sizeof(u64) - 1],
			      sizeof(u64)))
		return fatal_signal_pending(current) ? -EINTR : -EFAULT;
	d->chunks = kvcalloc(nchunks, sizeof(*d->chunks), gfp);
	if (!d->chunks)
		return -ENOMEM;
	d->nchunks = nchunks;
	for (i = 0; i < nchunks; i++) {
		u64 nbits = min_t(u64, MS_CHUNK_BITS, a->npages - i * MS_CHUNK_BITS);
		u64 nwords = DIV_ROUND_UP(nbits, MS_BITS_PER_WORD);
		const u64 *kind;

		if (fatal_signal_pending(current))
			err = -EINTR;
		else if (READ_ONCE(s->cancel_seq) != cancel_seq)
			err = -ECANCELED;
		if (!err && !buf) {
			buf = kmalloc_array(MS_CHUNK_WORDS, sizeof(u64), gfp);
			if (!buf)
				err = -ENOMEM;
		}
		if (!err && copy_from_user(buf, &src[i * MS_CHUNK_WORDS],
					   nwords * sizeof(u64)))
			err = fatal_signal_pending(current) ? -EINTR : -EFAULT;
		if (err)
			break;
		for (k = 0; k < nwords; k++)
			buf[k] = le64_to_cpu((__force __le64)buf[k]);
		if (nbits % MS_BITS_PER_WORD)
			buf[nwords - 1] &= ~ms_mask_from(nbits);
		kind = ms_chunk_kind(buf, nbits);
		d->chunks[i] = kind;
		if (kind == buf)
			buf = NULL;
		cond_resched();
	}
	kfree(buf);
	if (err)
		ms_dirty_free(d);
	return err;
}

/* Under s->lock. */
static int ms_pass_check_session(struct ms_session *s,
				 const struct migsend_pass *a)
{
	unsigned int i;

	if (ms_pass_running(s))
		return -EBUSY;
	if (!s->nconns)
		return -ENOTCONN;
	if (!s->nregions)
		return -ENOENT;
	for (i = 0; i < s->nconns; i++)
		if (READ_ONCE(s->conns[i]->failed))
			return -EPIPE;
	if (s->pass_started && a->pass <= s->pass.number)
		return -EINVAL;
	return 0;
}

static void ms_pass_reset_counters(struct ms_pass_counters *c)
{
	atomic64_set(&c->dirty_pages, 0);
	atomic64_set(&c->zero_pages_hole, 0);
	atomic64_set(&c->zero_pages_scanned, 0);
	atomic64_set(&c->data_pages, 0);
	atomic64_set(&c->records, 0);
	atomic64_set(&c->wire_bytes, 0);
}

int ms_pass_start(struct ms_session *s, const struct migsend_pass *a)
{
	struct ms_pass *p = &s->pass;
	u32 cancel_seq = READ_ONCE(s->cancel_seq);
	struct ms_dirty dirty = {};
	int err;

	err = ms_pass_check_args(a);
	if (err)
		return err;
	/* Refuse early what would be refused after the copy anyway. */
	mutex_lock(&s->lock);
	err = ms_pass_check_session(s, a);
	mutex_unlock(&s->lock);
	if (err)
		return err;
	err = ms_dirty_copy(&dirty, s, a, cancel_seq);
	if (err)
		return err;

	mutex_lock(&s->lock);
	err = ms_pass_check_session(s, a);
	/* Cancelled while the bitmap was read: start nothing. */
	if (!err && READ_ONCE(s->cancel_seq) != cancel_seq)
		err = -ECANCELED;
	if (err)
		goto unlock;

	p->number = a->pass;
	p->dirty = dirty;
	dirty = (struct ms_dirty){};
	p->gpa = a->gpa;
	p->npages = a->npages;
	p->flags = a->flags;
	p->timeout_ms = a->timeout_ms;
	p->cursor = 0;
	p->abort = false;
	atomic_set(&p->error, 0);
	atomic_set(&p->running_conns, s->nconns);
	ms_pass_reset_counters(&p->cnt);
	p->start_ns = ktime_get_ns();
	p->elapsed_ns = 0;

	spin_lock(&s->state_lock);
	WRITE_ONCE(p->state, MIGSEND_STATE_RUNNING);
	s->pass_started = true;
	spin_unlock(&s->state_lock);

	trace_migsend_pass_start(s->id, p->number, p->gpa, p->npages, p->flags,
				 s->nconns, p->timeout_ms);
	/* Publish the pass to the connection threads. */
	smp_store_release(&s->pass_gen, s->pass_gen + 1);
	wake_up_all(&s->work_wq);
unlock:
	mutex_unlock(&s->lock);
	ms_dirty_free(&dirty);
	return err;
}

void ms_pass_fail(struct ms_pass *p, int error)
{
	atomic_cmpxchg(&p->error, 0, error);
	WRITE_ONCE(p->abort, true);
}

void ms_pass_cancel(struct ms_session *s, int error)
{
	spin_lock(&s->state_lock);
	WRITE_ONCE(s->cancel_seq, s->cancel_seq + 1);
	if (s->pass.state == MIGSEND_STATE_RUNNING)
		ms_pass_fail(&s->pass, error);
	spin_unlock(&s->state_lock);
}

static void ms_counters_add(struct migsend_counters *t, struct ms_pass *p)
{
	t->dirty_pages += atomic64_read(&p->cnt.dirty_pages);
	t->zero_pages_hole += atomic64_read(&p->cnt.zero_pages_hole);
	t->zero_pages_scanned += atomic64_read(&p->cnt.zero_pages_scanned);
	t->data_pages += atomic64_read(&p->cnt.data_pages);
	t->records += atomic64_read(&p->cnt.records);
	t->wire_bytes += atomic64_read(&p->cnt.wire_bytes);
	t->elapsed_ns += p->elapsed_ns;
}

static void ms_trace_pass_done(struct ms_session *s)
{
	struct migsend_counters c = {};
	struct ms_pass *p = &s->pass;

	if (!trace_migsend_pass_done_enabled())
		return;
	ms_counters_add(&c, p);
	trace_migsend_pass_done(s->id, p->number, READ_ONCE(p->state),
				-atomic_read(&p->error), &c);
}

/* Called by each connection thread when its share of the pass is done. */
void ms_pass_conn_done(struct ms_session *s)
{
	struct ms_pass *p = &s->pass;
	struct ms_dirty dirty;
	int error;

	if (!atomic_dec_and_test(&p->running_conns))
		return;

	error = atomic_read(&p->error);
	dirty = p->dirty;
	spin_lock(&s->state_lock);
	p->dirty = (struct ms_dirty){};
	p->elapsed_ns = ktime_get_ns() - p->start_ns;
	ms_counters_add(&s->total, p);
	if (error)
		s->total.errors++;
	if (!error)
		WRITE_ONCE(p->state, MIGSEND_STATE_DONE);
	else if (error == -ECANCELED)
		WRITE_ONCE(p->state, MIGSEND_STATE_CANCELLED);
	else
		WRITE_ONCE(p->state, MIGSEND_STATE_FAILED);
	spin_unlock(&s->state_lock);
	ms_dirty_free(&dirty);
	ms_trace_pass_done(s);
	wake_up_all(&s->done_wq);
	ms_nl_event_pass_done(s);
}

static void ms_pass_result(struct ms_session *s, struct migsend_pass_result *r)
{
	struct ms_pass *p = &s->pass;

	memset(r, 0, sizeof(*r));
	spin_lock(&s->state_lock);
	r->pass = p->number;
	r->state = p->state;
	if (p->state != MIGSEND_STATE_RUNNING) {
		r->error = -atomic_read(&p->error);
		r->elapsed_ns = p->elapsed_ns;
	}
	spin_unlock(&s->state_lock);
}

int ms_pass_wait(struct ms_session *s, bool nonblock,
		 struct migsend_pass_result *res)
{
	int err;

	if (!READ_ONCE(s->pass_started))
		return -ENOENT;
	if (ms_pass_running(s)) {
		if (nonblock)
			return -EAGAIN;
		err = wait_event_interruptible(s->done_wq, !ms_pass_running(s));
		if (err)
			return err;
	}
	ms_pass_result(s, res);
	return 0;
}

/*
 * Hand out the next span of work.  Returns 0 with a span, relative to
 * *@base, in the chunk of bitmap *@words; 1 when the pass has no work
 * left.  A span never crosses a chunk: the lock is held over at most one
 * chunk's scan, and a clean chunk is skipped without a look.
 */
int ms_pass_take_span(struct ms_pass *p, const u64 **words, u64 *base,
		      struct ms_span *span)
{
	int ret = 1;

	mutex_lock(&p->cursor_lock);
	while (p->cursor < p->npages && !READ_ONCE(p->abort)) {
		u64 chunk = p->cursor / MS_CHUNK_BITS;
		u64 start = chunk * MS_CHUNK_BITS;
		u64 nbits = min_t(u64, MS_CHUNK_BITS, p->npages - start);
		const u64 *w = p->dirty.chunks[chunk];

		if (w && ms_next_span(w, p->cursor - start, nbits,
				      MS_SPAN_MAX_DIRTY, MS_SPAN_MAX_BITS, span)) {
			*words = w;
			*base = start;
			p->cursor = start + span->end;
			ret = 0;
			break;
		}
		p->cursor = start + nbits;
		cond_resched();
	}
	mutex_unlock(&p->cursor_lock);
	return ret;
}

static void ms_counters_read(struct migsend_counters *c, struct ms_pass *p)
{
	memset(c, 0, sizeof(*c));
	ms_counters_add(c, p);
	if (READ_ONCE(p->state) == MIGSEND_STATE_RUNNING)
		c->elapsed_ns = ktime_get_ns() - p->start_ns;
	c->errors = atomic_read(&p->error) ? 1 : 0;
}

void ms_conn_stats_read(struct ms_conn *c, struct migsend_conn_stats *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->wire_bytes = READ_ONCE(c->wire_bytes);
	cs->records = READ_ONCE(c->records);
	cs->busy_ns = READ_ONCE(c->busy_ns);
	cs->pass_wire_bytes = READ_ONCE(c->last_pass_bytes);
	cs->error = -READ_ONCE(c->error);
	cs->flags = (READ_ONCE(c->failed) ? MIGSEND_CONN_FAILED : 0) |
		    (c->ktls ? MIGSEND_CONN_KTLS : 0);
}

/*
 * The session's pass state and counters, without its connections: under
 * state_lock only, so it can be taken from netlink and the threads too.
 */
void ms_session_snapshot(struct ms_session *s, struct migsend_stats *st)
{
	spin_lock(&s->state_lock);
	st->nregions = READ_ONCE(s->nregions);
	st->pass = s->pass.number;
	st->state = s->pass.state;
	st->error = -atomic_read(&s->pass.error);
	if (st->state == MIGSEND_STATE_RUNNING)
		st->error = 0;
	if (s->pass_started)
		ms_counters_read(&st->last, &s->pass);
	else
		memset(&st->last, 0, sizeof(st->last));
	st->total = s->total;
	spin_unlock(&s->state_lock);
}

/*
 * The connections' counters are gathered under the session's lock and
 * written out after it is dropped: a caller whose array blocks on write
 * (userfaultfd) holds up nobody but itself.
 */
int ms_pass_get_stats(struct ms_session *s, struct migsend_stats *st)
{
	struct migsend_conn_stats __user *ucs = u64_to_user_ptr(st->conns);
	u32 want = min_t(u32, st->nconns, MIGSEND_MAX_CONNS);
	struct migsend_conn_stats *cs = NULL;
	unsigned int i, n;
	int err = 0;

	if (st->reserved)
		return -EINVAL;
	if (want) {
		cs = kmalloc_array(want, sizeof(*cs), GFP_KERNEL);
		if (!cs)
			return -ENOMEM;
	}

	mutex_lock(&s->lock);
	st->nconns = s->nconns;
	n = min(want, st->nconns);
	for (i = 0; i < n; i++)
		ms_conn_stats_read(s->conns[i], &cs[i]);
	ms_session_snapshot(s, st);
	mutex_unlock(&s->lock);

	if (n && copy_to_user(ucs, cs, n * sizeof(*cs)))
		err = -EFAULT;
	kfree(cs);
	return err;
}
