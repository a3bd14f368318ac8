// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The pre-copy loop: full pass, then passes of what was dirtied meanwhile,
 * until the next pass is estimated to fit the downtime target; then the
 * guest is paused and the final pass, the device state and COMPLETE go.
 *
 * The estimate is dirty pages x the wire bytes a dirty page cost in the
 * last pass / the wire bytes per second of the last pass: zero pages
 * skipped do not inflate it.  A pass's time runs until the destination
 * has acknowledged it on every connection, not until the kernel has
 * queued it: what sits in socket buffers at the end of the final pass is
 * downtime too.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define MS_DEFAULT_DOWNTIME_MS	300
#define MS_DEFAULT_MAX_PASSES	30
#define MS_COMPLETE_TIMEOUT_MS	60000

static uint64_t ms_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t ms_count_bits(const uint64_t *w, uint64_t nbits)
{
	uint64_t i, n = 0;

	for (i = 0; i < nbits / 64; i++)
		n += __builtin_popcountll(w[i]);
	if (nbits % 64)
		n += __builtin_popcountll(le64toh(w[i]) & ((1ULL << (nbits % 64)) - 1));
	return n;
}

static uint64_t *ms_copy_bits(const uint64_t *w, uint64_t nbits)
{
	size_t bytes = (nbits + 63) / 64 * sizeof(uint64_t);
	uint64_t *copy = malloc(bytes);

	if (copy)
		memcpy(copy, w, bytes);
	return copy;
}

static void ms_or_bits(uint64_t *dst, const uint64_t *src, uint64_t nbits)
{
	uint64_t i;

	for (i = 0; i < (nbits + 63) / 64; i++)
		dst[i] |= src[i];
}

struct ms_rate {
	double wire_per_page;	/* wire bytes a dirty page cost */
	double wire_per_ns;	/* wire bytes per nanosecond */
};

static uint64_t ms_estimate_ns(const struct ms_rate *r, uint64_t dirty)
{
	/* Nothing dirty fits any target, even before a rate is known. */
	if (!dirty)
		return 0;
	if (r->wire_per_ns <= 0)
		return UINT64_MAX;
	return (uint64_t)(dirty * r->wire_per_page / r->wire_per_ns);
}

static void ms_rate_update(struct ms_rate *r, const struct migsend_precopy_report *rep)
{
	const struct migsend_pass_info *i = &rep->info;

	if (i->dirty_pages)
		r->wire_per_page = (double)i->wire_bytes / i->dirty_pages;
	if (rep->acked_ns && i->wire_bytes > (1ULL << 20))
		r->wire_per_ns = (double)i->wire_bytes / rep->acked_ns;
}

static int ms_run_pass(struct migsend_sender *snd, const struct migsend_guest *g,
		       const struct migsend_precopy_opts *o, uint64_t pass,
		       const uint64_t *bitmap, struct migsend_precopy_report *rep)
{
	uint64_t npages = g->npages, t0;
	int err;

	if (o->on_pass_start)
		o->on_pass_start(o->ctx, pass, ms_count_bits(bitmap, npages));
	t0 = ms_now_ns();
	rep->acked_ns = 0;
	err = migsend_sender_pass(snd, pass, bitmap, g->gpa, npages, o->pass_flags,
				  &rep->info);
	if (!err && !rep->final) {
		err = migsend_sender_wait_acked(snd, pass, MS_COMPLETE_TIMEOUT_MS);
		rep->acked_ns = ms_now_ns() - t0;
	}
	if (!err && o->on_pass)
		o->on_pass(o->ctx, rep);
	return err;
}

static bool ms_should_stop(const struct migsend_precopy_opts *o, unsigned int passes,
			   uint64_t start, uint64_t estimate, bool *timed_out)
{
	uint64_t downtime = (o->downtime_ms ? o->downtime_ms : MS_DEFAULT_DOWNTIME_MS) * 1000000ULL;
	unsigned int max = o->max_passes ? o->max_passes : MS_DEFAULT_MAX_PASSES;

	if (o->timeout_ms && ms_now_ns() - start > o->timeout_ms * 1000000ULL) {
		*timed_out = true;
		return true;
	}
	/* The test-only drop needs a pass after pass 1 to find stale pages. */
	if (o->test_drop_final_pages && passes < 3 && passes + 1 < max)
		return false;
	return estimate <= downtime || passes + 1 >= max;
}

/* The dirty log since the last take, with its page count. */
static int ms_take_dirty(const struct migsend_guest *g, const uint64_t **dirty,
			 uint64_t *ndirty)
{
	int err = g->ops->take_dirty(g->ctx, dirty);

	if (err)
		return err;
	if (ndirty)
		*ndirty = ms_count_bits(*dirty, g->npages);
	return 0;
}

/*
 * The paused guest's final pass: the log that decided to stop (@dirty:
 * not yet sent) and what was dirtied since.  A take invalidates the
 * previous log: keep a copy first.
 */
static int ms_final_bitmap(const struct migsend_guest *g, const uint64_t *dirty,
			   uint64_t **final, const uint64_t **since_out)
{
	const uint64_t *since;
	int err;

	*final = ms_copy_bits(dirty, g->npages);
	if (!*final)
		return ms_fail(ENOMEM, "the final pass's bitmap");
	err = g->ops->pause(g->ctx);
	if (!err)
		err = ms_take_dirty(g, &since, NULL);
	if (err) {
		free(*final);
		*final = NULL;
		return err;
	}
	ms_or_bits(*final, since, g->npages);
	*since_out = since;
	return 0;
}

static bool ms_bit(const uint64_t *w, uint64_t i)
{
	return le64toh(w[i / 64]) >> (i % 64) & 1;
}

/*
 * Test only (the negative control): leave out of the final pass up to @n
 * pages the destination certainly has stale, highest first: written after
 * the last log was taken (@since), or in that log but not sent by the
 * last pass (@prev, NULL after pass 1, which sent everything).  Any other
 * page of the final pass may have been sent again after its last write,
 * so leaving it out may change nothing.  Returns how many were left out.
 */
static uint64_t ms_drop_stale(uint64_t *final, const uint64_t *since, const uint64_t *dirty,
			      const uint64_t *prev, uint64_t nbits, uint64_t n)
{
	uint64_t i, dropped = 0;

	for (i = nbits; dropped < n && i-- > 0;) {
		if (!ms_bit(final, i) ||
		    !(ms_bit(since, i) || (prev && ms_bit(dirty, i) && !ms_bit(prev, i))))
			continue;
		final[i / 64] &= ~htole64(1ULL << (i % 64));
		dropped++;
	}
	return dropped;
}

/*
 * The timeout struck before the next pass fitted the downtime target:
 * say by how much, and whether the bandwidth cap is why.
 */
static int ms_not_converged(struct migsend_sender *snd,
			    const struct migsend_precopy_opts *o,
			    const struct ms_rate *rate, uint64_t ndirty)
{
	uint64_t cap = migsend_max_bandwidth(migsend_sender_session(snd));
	char capped[96] = "";

	if (cap)
		snprintf(capped, sizeof(capped), ", sending at most %.1f MB/s (--max-bandwidth)",
			 cap / 1e6);
	migsend_sender_abort(snd, ETIMEDOUT, "migration timed out");
	return ms_fail(ETIMEDOUT, "the migration did not converge within %llu ms: %llu pages still dirty, the next pass estimated at %.0f ms against a %llu ms downtime target, %.1f MB/s sent%s: cancelled",
		       (unsigned long long)o->timeout_ms, (unsigned long long)ndirty,
		       ms_estimate_ns(rate, ndirty) / 1e6,
		       (unsigned long long)(o->downtime_ms ? o->downtime_ms : MS_DEFAULT_DOWNTIME_MS),
		       rate->wire_per_ns * 1e3, capped);
}

/*
 * The final pass runs with the guest paused: as QEMU's switchover does
 * (migration_completion_precopy() disables its rate limit), it is not
 * capped unless the caller asked to keep the cap.
 */
static int ms_lift_cap(struct migsend_sender *snd, const struct migsend_precopy_opts *o)
{
	struct migsend_session *s = migsend_sender_session(snd);

	if (o->cap_final_pass || !migsend_max_bandwidth(s))
		return 0;
	return migsend_set_max_bandwidth(s, 0);
}

/* Pass 1's bitmap: the guest's own where its memory has holes, else all ones. */
static int ms_first_bitmap(const struct migsend_guest *g, uint64_t **all)
{
	size_t bytes = (g->npages + 63) / 64 * sizeof(uint64_t);
	const uint64_t *mine;
	int err;

	*all = malloc(bytes);
	if (!*all)
		return ms_fail(ENOMEM, "the first pass's bitmap");
	if (!g->ops->all_pages) {
		memset(*all, 0xff, bytes);
		return 0;
	}
	err = g->ops->all_pages(g->ctx, &mine);
	if (!err)
		memcpy(*all, mine, bytes);
	return err;
}

/* The device state, from the paused guest where it gives one. */
static int ms_send_state(struct migsend_sender *snd, const struct migsend_guest *g,
			 const struct migsend_precopy_opts *o)
{
	const void *blob = o->state;
	size_t len = o->state_len;
	int err;

	if (g->ops->device_state) {
		err = g->ops->device_state(g->ctx, &blob, &len);
		if (err)
			return err;
	}
	return len ? migsend_sender_send_state(snd, blob, len) : 0;
}

int migsend_precopy_run(struct migsend_sender *snd, const struct migsend_guest *g,
			const struct migsend_precopy_opts *o,
			struct migsend_precopy_result *res)
{
	struct migsend_precopy_report rep = { 0 };
	struct ms_rate rate = { 0 };
	const uint64_t *dirty, *since = NULL;
	uint64_t pass = 1, start = ms_now_ns(), paused, ndirty;
	uint64_t *all = NULL, *final, *prev = NULL, *logged = NULL;
	int err;

	memset(res, 0, sizeof(*res));
	if (!g->npages)
		return ms_fail(EINVAL, "the guest has no memory to migrate");
	/* Pass 1: everything; the dirty log starts now. */
	err = ms_first_bitmap(g, &all);
	if (!err)
		err = ms_take_dirty(g, &dirty, NULL);
	if (!err)
		err = ms_run_pass(snd, g, o, pass, all, &rep);
	free(all);
	if (err)
		return err;
	res->wire_bytes += rep.info.wire_bytes;
	ms_rate_update(&rate, &rep);

	for (;;) {
		err = ms_take_dirty(g, &dirty, &ndirty);
		if (err)
			goto out;
		rep.estimate_ns = ms_estimate_ns(&rate, ndirty);
		if (ms_should_stop(o, pass, start, rep.estimate_ns, &res->timed_out))
			break;
		err = ms_run_pass(snd, g, o, ++pass, dirty, &rep);
		if (err)
			goto out;
		res->wire_bytes += rep.info.wire_bytes;
		ms_rate_update(&rate, &rep);
		if (o->test_drop_final_pages) {	/* what the last pass sent */
			free(prev);
			prev = ms_copy_bits(dirty, g->npages);
		}
	}
	if (res->timed_out && o->timeout_strategy == MIGSEND_TIMEOUT_CANCEL) {
		err = ms_not_converged(snd, o, &rate, ndirty);
		goto out;
	}

	err = ms_lift_cap(snd, o);
	if (err)
		goto out;
	/* The final take replaces the log: keep it for the test-only drop. */
	if (o->test_drop_final_pages && !(logged = ms_copy_bits(dirty, g->npages))) {
		err = ms_fail(ENOMEM, "the final pass's bitmap");
		goto out;
	}
	paused = ms_now_ns();
	err = ms_final_bitmap(g, dirty, &final, &since);
	if (err)
		goto out;
	if (o->test_drop_final_pages)
		res->test_dropped_pages = ms_drop_stale(final, since, logged, prev, g->npages,
							o->test_drop_final_pages);
	rep.final = true;
	err = ms_run_pass(snd, g, o, ++pass, final, &rep);
	free(final);
	if (!err)
		err = ms_send_state(snd, g, o);
	if (!err)
		err = migsend_sender_complete(snd, pass, MS_COMPLETE_TIMEOUT_MS);
	if (err)
		goto out;
	res->wire_bytes += rep.info.wire_bytes;
	res->passes = pass;
	res->downtime_ns = ms_now_ns() - paused;
	res->total_ns = ms_now_ns() - start;
out:
	free(prev);
	free(logged);
	return err;
}
