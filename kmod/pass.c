// SPDX-License-Identifier: GPL-2.0
/*
 * migsend passes: start, wait, cancel, stats, and work sharing.
 *
 * Work is shared through one cursor over the dirty bitmap.  A connection
 * thread that is idle takes the next span (at most MS_SPAN_MAX_DIRTY dirty
 * pages) under cursor_lock, copies the span's bitmap words and lets go of
 * the lock before it looks at a single page; so a slow connection only
 * ever holds back its own span.  The bitmap stays in userspace and is read
 * MS_WIN_BITS bits at a time, through the owner's mm.
 *
 * A pass ends when every connection thread has finished its share and
 * written its END record; the last one to finish completes the pass.
 */
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "migsend.h"

int ms_pass_alloc(struct ms_pass *p)
{
	p->win = kmalloc_array(MS_WIN_WORDS, sizeof(u64), GFP_KERNEL);
	if (!p->win)
		return -ENOMEM;
	mutex_init(&p->cursor_lock);
	return 0;
}

void ms_pass_free(struct ms_pass *p)
{
	kfree(p->win);
	mutex_destroy(&p->cursor_lock);
}

bool ms_pass_running(struct ms_session *s)
{
	return READ_ONCE(s->pass.state) == MIGSEND_STATE_RUNNING;
}

static int ms_pass_check_args(struct ms_session *s, const struct migsend_pass *a)
{
	u64 bytes, span, end;

	if (a->flags & ~MIGSEND_PASS_FLAGS_ALL)
		return -EINVAL;
	if (a->gpa & (MIGSEND_PAGE_SIZE - 1))
		return -EINVAL;
	if (s->pass_started && a->pass <= s->pass.number)
		return -EINVAL;
	if (check_shl_overflow(a->npages, MIGSEND_PAGE_SHIFT, &span) ||
	    check_add_overflow(a->gpa, span, &end))
		return -EOVERFLOW;
	bytes = DIV_ROUND_UP(a->npages, MS_BITS_PER_WORD) * sizeof(u64);
	if (a->npages && !access_ok(u64_to_user_ptr(a->bitmap), bytes))
		return -EFAULT;
	return 0;
}

/* Under s->lock. */
static int ms_pass_check_session(struct ms_session *s)
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
	int err;

	mutex_lock(&s->lock);
	err = ms_pass_check_session(s);
	if (!err)
		err = ms_pass_check_args(s, a);
	if (err)
		goto unlock;

	p->number = a->pass;
	p->bitmap = a->bitmap;
	p->gpa = a->gpa;
	p->npages = a->npages;
	p->flags = a->flags;
	p->timeout_ms = a->timeout_ms;
	p->cursor = 0;
	p->win_base = 0;
	p->win_nbits = 0;
	p->abort = false;
	atomic_set(&p->error, 0);
	atomic_set(&p->running_conns, s->nconns);
	ms_pass_reset_counters(&p->cnt);
	mmgrab(current->mm);
	p->mm = current->mm;
	p->start_ns = ktime_get_ns();
	p->elapsed_ns = 0;

	spin_lock(&s->state_lock);
	WRITE_ONCE(p->state, MIGSEND_STATE_RUNNING);
	s->pass_started = true;
	spin_unlock(&s->state_lock);

	/* Publish the pass to the connection threads. */
	smp_store_release(&s->pass_gen, s->pass_gen + 1);
	wake_up_all(&s->work_wq);
unlock:
	mutex_unlock(&s->lock);
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

/* Called by each connection thread when its share of the pass is done. */
void ms_pass_conn_done(struct ms_session *s)
{
	struct ms_pass *p = &s->pass;
	struct mm_struct *mm;
	int error;

	if (!atomic_dec_and_test(&p->running_conns))
		return;

	error = atomic_read(&p->error);
	mm = p->mm;
	spin_lock(&s->state_lock);
	p->mm = NULL;
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
	mmdrop(mm);
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

/* Read bitmap window [base, base + nbits) from the pass owner's memory. */
static int ms_pass_read_window(struct ms_pass *p, u64 base, u64 nbits)
{
	u64 nwords = DIV_ROUND_UP(nbits, MS_BITS_PER_WORD);
	void __user *src = u64_to_user_ptr(p->bitmap + base / 8);
	unsigned long left;
	u64 i;

	if (!mmget_not_zero(p->mm))
		return -EFAULT;
	kthread_use_mm(p->mm);
	left = copy_from_user(p->win, src, nwords * sizeof(u64));
	kthread_unuse_mm(p->mm);
	mmput(p->mm);
	if (left)
		return -EFAULT;

	for (i = 0; i < nwords; i++)
		p->win[i] = le64_to_cpu((__force __le64)p->win[i]);
	if (nbits % MS_BITS_PER_WORD)
		p->win[nwords - 1] &= ~ms_mask_from(nbits);
	return 0;
}

/*
 * Hand out the next span of work: its bitmap words are copied to @words,
 * whose bit 0 is bitmap bit *@base; @span is relative to *@base.
 * Returns 0 with a span, 1 when the pass has no work left, or an error.
 */
int ms_pass_take_span(struct ms_pass *p, u64 *words, u64 *base,
		      struct ms_span *span)
{
	struct ms_span sp;
	u64 first, last;
	int ret = 1;

	mutex_lock(&p->cursor_lock);
	while (p->cursor < p->npages && !READ_ONCE(p->abort)) {
		if (p->cursor >= p->win_base + p->win_nbits) {
			p->win_base = round_down(p->cursor, MS_BITS_PER_WORD);
			p->win_nbits = min_t(u64, MS_WIN_BITS,
					     p->npages - p->win_base);
			ret = ms_pass_read_window(p, p->win_base, p->win_nbits);
			if (ret) {
				p->win_nbits = 0;
				break;
			}
			ret = 1;
		}
		if (!ms_next_span(p->win, p->cursor - p->win_base, p->win_nbits,
				  MS_SPAN_MAX_DIRTY, MS_SPAN_MAX_BITS, &sp)) {
			p->cursor = p->win_base + p->win_nbits;
			continue;
		}
		first = sp.start / MS_BITS_PER_WORD;
		last = (sp.end - 1) / MS_BITS_PER_WORD;
		memcpy(words, &p->win[first], (last - first + 1) * sizeof(u64));
		*base = p->win_base + first * MS_BITS_PER_WORD;
		span->start = sp.start - first * MS_BITS_PER_WORD;
		span->end = sp.end - first * MS_BITS_PER_WORD;
		span->dirty = sp.dirty;
		p->cursor = p->win_base + sp.end;
		ret = 0;
		break;
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
	cs->flags = READ_ONCE(c->failed) ? MIGSEND_CONN_FAILED : 0;
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

int ms_pass_get_stats(struct ms_session *s, struct migsend_stats *st)
{
	struct migsend_conn_stats __user *ucs = u64_to_user_ptr(st->conns);
	struct migsend_conn_stats cs;
	u32 want = st->nconns;
	unsigned int i;
	int err = 0;

	if (st->reserved)
		return -EINVAL;

	mutex_lock(&s->lock);
	st->nconns = s->nconns;
	for (i = 0; i < s->nconns && i < want; i++) {
		ms_conn_stats_read(s->conns[i], &cs);
		if (copy_to_user(&ucs[i], &cs, sizeof(cs))) {
			err = -EFAULT;
			break;
		}
	}
	ms_session_snapshot(s, st);
	mutex_unlock(&s->lock);
	return err;
}
