// SPDX-License-Identifier: GPL-2.0
/*
 * The QEMU guest of the pre-copy loop.
 *
 * The loop takes the log once before pass 1 (only a clear is needed: pass
 * 1 sends everything written after it), once per later pass (the vCPUs
 * stopped around read + clear: a page first written between the two
 * would be in no log), and once more after pause() (the guest is stopped:
 * a read, with every hugetlbfs page counted dirty, since those have no
 * soft-dirty bits).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest.h"

#define MQ_PAGE		4096ULL
#define MQ_EVENT_MS	2000	/* QEMU sends STOP before answering stop */
#define MQ_STATE_MS	60000	/* saving the device state of a paused guest */

static uint64_t mq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void mq_set_bits(uint64_t *w, uint64_t start, uint64_t n)
{
	for (; n; start++, n--)
		w[start / 64] |= htole64(1ULL << (start % 64));
}

/* A libmigsend call failed: its message (errno text included) is ours. */
static int mq_lib_error(int err)
{
	mq_fail(0, "%s", migsend_last_error());
	return err;
}

/* ----- stop and cont ------------------------------------------------------------ */

static int mq_stop(struct mq_guest *g, uint64_t *stop_us)
{
	uint64_t seq = mq_qmp_event_seq(g->q);
	struct mq_event ev;
	int err = mq_qmp_exec(g->q, "stop", NULL, -1, NULL);

	if (err || !stop_us)
		return err;
	err = mq_qmp_wait_event(g->q, "STOP", seq, MQ_EVENT_MS, &ev);
	*stop_us = err ? 0 : ev.ts_us;
	return 0;
}

static int mq_cont(struct mq_guest *g)
{
	int err = mq_qmp_exec(g->q, "cont", NULL, -1, NULL);

	if (err)
		return mq_fail(-err, "QEMU did not resume the guest after migsend stopped it (%s): it is paused; resume it with 'migsend qemu-resume --qemu-qmp SOCKET' once migsend is gone",
			       mq_error());
	return 0;
}

/* ----- the guest operations --------------------------------------------------------- */

/* The log with the vCPUs stopped around it, timed. */
static int mq_take_stopped(struct mq_guest *g, const uint64_t **bitmap)
{
	struct migsend_dirtylog_stats ds;
	uint64_t t0 = mq_now_ns(), t;
	int err, cerr;

	err = mq_stop(g, NULL);
	if (err)
		return err;
	err = migsend_dirtylog_take(g->log, bitmap);
	if (err)
		mq_lib_error(err);
	cerr = mq_cont(g);
	t = mq_now_ns() - t0;
	g->st.pauses++;
	g->st.pause_total_ns += t;
	if (t > g->st.pause_max_ns)
		g->st.pause_max_ns = t;
	migsend_dirtylog_last(g->log, &ds);
	if (ds.read_ns > g->st.read_max_ns)
		g->st.read_max_ns = ds.read_ns;
	if (ds.clear_ns > g->st.clear_max_ns)
		g->st.clear_max_ns = ds.clear_ns;
	return err ? err : cerr;
}

static int mq_final_take(struct mq_guest *g, const uint64_t **bitmap)
{
	const uint64_t *bm;
	int err = migsend_dirtylog_read(g->log, true, &bm);

	if (err)
		return mq_lib_error(err);
	*bitmap = bm;
	return 0;
}

static int mq_take_dirty(void *ctx, const uint64_t **bitmap)
{
	struct mq_guest *g = ctx;
	int err;

	if (!g->paused && g->o.cancel && *g->o.cancel)
		return mq_fail(ECANCELED, "cancelled");
	g->calls++;
	if (!g->log) {			/* a paused guest writes nothing */
		*bitmap = g->empty;
		return 0;
	}
	if (g->paused)
		return mq_final_take(g, bitmap);
	if (g->calls == 1) {		/* before pass 1: the log starts now */
		err = migsend_dirtylog_clear(g->log);
		*bitmap = g->empty;
		return err ? mq_lib_error(err) : 0;
	}
	g->st.takes++;
	return mq_take_stopped(g, bitmap);
}

static int mq_pause(void *ctx)
{
	struct mq_guest *g = ctx;
	int err;

	if (g->o.cancel && *g->o.cancel)
		return mq_fail(ECANCELED, "cancelled");
	if (g->was_running) {
		err = mq_stop(g, &g->st.stop_us);
		if (err)
			return err;
	}
	g->paused = true;
	/* QEMU saves its devices while the final pass runs. */
	err = mq_state_start(g->q, &g->state);
	g->state_started = !err;
	return err;
}

static int mq_all_pages(void *ctx, const uint64_t **bitmap)
{
	struct mq_guest *g = ctx;

	*bitmap = g->all;
	return 0;
}

static int mq_device_state(void *ctx, const void **blob, size_t *len)
{
	struct mq_guest *g = ctx;
	struct mq_state_hdr h = {
		.flags = g->was_running ? MQ_STATE_F_RUN : 0,
		.stop_us = g->st.stop_us,
	};
	int err = mq_state_finish(g->q, &g->state, MQ_STATE_MS);

	g->state_started = false;
	if (err)
		return err;
	g->st.state_bytes = g->state.len;
	free(g->blob);
	g->blob = NULL;
	err = mq_state_wrap(&h, g->state.buf, g->state.len, &g->blob, &g->blob_len);
	mq_state_out_free(&g->state);
	if (err)
		return err;
	*blob = g->blob;
	*len = g->blob_len;
	return 0;
}

/* The loop passes an operation's error on: keep its message for the caller. */
static int mq_op_result(struct mq_guest *g, int err)
{
	if (err && !g->err) {
		g->err = err;
		snprintf(g->errmsg, sizeof(g->errmsg), "%s", mq_error());
	}
	return err;
}

static int mq_op_take_dirty(void *ctx, const uint64_t **bitmap)
{
	return mq_op_result(ctx, mq_take_dirty(ctx, bitmap));
}

static int mq_op_pause(void *ctx)
{
	return mq_op_result(ctx, mq_pause(ctx));
}

static int mq_op_device_state(void *ctx, const void **blob, size_t *len)
{
	return mq_op_result(ctx, mq_device_state(ctx, blob, len));
}

static const struct migsend_guest_ops mq_guest_ops = {
	.take_dirty = mq_op_take_dirty,
	.pause = mq_op_pause,
	.all_pages = mq_all_pages,
	.device_state = mq_op_device_state,
};

/* ----- set-up ------------------------------------------------------------------------- */

static int mq_open_log(struct mq_guest *g)
{
	struct migsend_dirtylog_range r[MQ_MAX_REGIONS];
	unsigned int i;
	int err;

	for (i = 0; i < g->l->nregions; i++) {
		const struct mq_region *x = &g->l->r[i];

		r[i].addr = g->l->b[x->backend].hva + x->offset;
		r[i].gpa = x->gpa;
		r[i].len = x->len;
	}
	err = migsend_dirtylog_open(g->l->pid, r, g->l->nregions, g->gpa, g->npages,
				    g->o.method, &g->log);
	return err ? mq_lib_error(err) : 0;
}

int mq_guest_init(struct mq_guest *g, struct mq_qmp *q, const struct mq_layout *l,
		  const char *status, const struct mq_guest_opts *o)
{
	size_t words;
	unsigned int i;

	memset(g, 0, sizeof(*g));
	g->q = q;
	g->l = l;
	g->o = *o;
	if (!strcmp(status, "running"))
		g->was_running = true;
	else if (strcmp(status, "paused") && strcmp(status, "prelaunch"))
		return mq_fail(EINVAL, "the source QEMU is in state '%s': only a running or paused guest can be migrated",
			       status);
	mq_layout_span(l, &g->gpa, &g->npages);
	words = (g->npages + 63) / 64;
	g->empty = calloc(words, sizeof(uint64_t));
	g->all = calloc(words, sizeof(uint64_t));
	if (!g->empty || !g->all) {
		mq_guest_fini(g);
		return mq_fail(ENOMEM, "the guest's bitmaps");
	}
	for (i = 0; i < l->nregions; i++)
		mq_set_bits(g->all, (l->r[i].gpa - g->gpa) / MQ_PAGE, l->r[i].len / MQ_PAGE);
	if (g->was_running) {
		int err = mq_open_log(g);

		if (err) {
			mq_guest_fini(g);
			return err;
		}
	}
	return 0;
}

void mq_guest_bind(struct mq_guest *g, struct migsend_guest *mg)
{
	mg->ops = &mq_guest_ops;
	mg->ctx = g;
	mg->gpa = g->gpa;
	mg->npages = g->npages;
}

int mq_guest_resume(struct mq_guest *g)
{
	if (g->state_started) {
		mq_state_abandon(g->q, &g->state);
		g->state_started = false;
	}
	if (!g->paused || !g->was_running)
		return 0;
	g->paused = false;
	return mq_cont(g);
}

void mq_guest_fini(struct mq_guest *g)
{
	if (g->state_started)
		mq_state_abandon(g->q, &g->state);
	mq_state_out_free(&g->state);
	migsend_dirtylog_close(g->log);
	free(g->empty);
	free(g->all);
	free(g->blob);
	memset(g, 0, sizeof(*g));
}
