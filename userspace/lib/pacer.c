// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The bandwidth cap: SO_MAX_PACING_RATE on every data socket, the rate
 * split evenly, so that the kernel paces each socket whatever the engine.
 *
 * The kernel's pacing loses the time by which its timer fires late, and
 * on a loaded or emulated host that is a fifth of the rate or more
 * (measured: 32 and 30 MB/s under a 40 MB/s cap in the TCG test VM with
 * the host busy).  So a thread closes the loop: every 200 ms while a pass
 * runs it compares the bytes the pass has sent with cap x the time it has
 * run and sets the sockets' rate to make up the difference (see
 * ms_pacer_tick()).  Each pass starts the count afresh: time between
 * passes is not owed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"

#define MS_PACER_TICK_NS	200000000ULL
#define MS_PACER_HORIZON_S	1.0
#define MS_PACER_MAX_OWED_S	2.5

static double ms_clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

struct ms_pacer {
	struct migsend_session *s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t pass;			/* the pass being counted */
	uint64_t pass_start_bytes;	/* the session's wire bytes then */
	double running_s;		/* time that pass has run */
};

static uint64_t ms_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* SO_MAX_PACING_RATE of @total bytes/s split over the sockets (0: none). */
int ms_pacing_set(struct migsend_session *s, uint64_t total)
{
	unsigned long rate = ~0UL;	/* the kernel's "no limit" */
	unsigned int i;

	if (total && s->nsocks)
		rate = total / s->nsocks ? total / s->nsocks : 1;
	for (i = 0; i < s->nsocks; i++)
		if (setsockopt(s->socks[i], SOL_SOCKET, SO_MAX_PACING_RATE,
			       &rate, sizeof(rate)))
			return ms_fail(errno, "capping connection %u's bandwidth", i);
	return 0;
}

/*
 * One tick: ask the kernel for the cap plus what the running pass owes,
 * made up within a second.  That is integral control: where the kernel
 * delivers only a share of the rate it is given (two thirds in the
 * loaded TCG test VM), the debt settles where the asked rate makes up
 * for it.  Debt is bounded to MS_PACER_MAX_OWED_S seconds of the cap, so
 * that a stall never turns into a long burst, and credit (ahead of the
 * cap) to one second; the asked rate stays within [cap / 2, 3.5 x cap].
 */
static void ms_pacer_tick(struct ms_pacer *p, uint64_t cap, double dt)
{
	struct migsend_stats st;
	double sent, owed, rate;

	if (migsend_get_stats(p->s, &st, NULL, 0) || st.state != MIGSEND_STATE_RUNNING)
		return;
	if (st.pass != p->pass) {
		p->pass = st.pass;
		p->pass_start_bytes = st.last.wire_bytes;
		p->running_s = 0;
		return;
	}
	p->running_s += dt;
	sent = (double)(st.last.wire_bytes - p->pass_start_bytes);
	owed = cap * p->running_s - sent;
	if (owed > cap * MS_PACER_MAX_OWED_S) {
		/* Forgive the excess: the pass is counted from later on. */
		p->running_s = (sent + cap * MS_PACER_MAX_OWED_S) / cap;
		owed = cap * MS_PACER_MAX_OWED_S;
	}
	rate = ms_clamp(cap + owed / MS_PACER_HORIZON_S, cap * 0.5,
			cap * (1 + MS_PACER_MAX_OWED_S / MS_PACER_HORIZON_S));
	ms_pacing_set(p->s, (uint64_t)rate);
	if (getenv("MS_PACER_DEBUG"))
		fprintf(stderr, "pacer: pass %llu t %.2f sent %.1f MB owed %.1f MB rate %.1f MB/s\n",
			(unsigned long long)st.pass, p->running_s, sent / 1e6,
			owed / 1e6, rate / 1e6);
}

static void *ms_pacer_thread(void *arg)
{
	struct ms_pacer *p = arg;
	uint64_t last = ms_mono_ns();
	struct timespec next;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		uint64_t cap = p->s->max_bandwidth, now;

		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_nsec += MS_PACER_TICK_NS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &next);
		if (p->stop)
			break;
		now = ms_mono_ns();
		pthread_mutex_unlock(&p->lock);
		if (cap)
			ms_pacer_tick(p, cap, (now - last) / 1e9);
		last = now;
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int ms_pacer_start(struct migsend_session *s)
{
	struct ms_pacer *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return ms_fail(ENOMEM, "the bandwidth cap");
	p->s = s;
	p->pass = UINT64_MAX;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, ms_pacer_thread, p)) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
		return ms_fail(EAGAIN, "starting the bandwidth cap's thread");
	}
	s->pacer = p;
	return 0;
}

void ms_pacer_stop(struct migsend_session *s)
{
	struct ms_pacer *p = s->pacer;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	s->pacer = NULL;
}

int migsend_set_max_bandwidth(struct migsend_session *s, uint64_t bytes_per_sec)
{
	int err;

	if (!bytes_per_sec)
		ms_pacer_stop(s);
	s->max_bandwidth = bytes_per_sec;
	err = ms_pacing_set(s, bytes_per_sec);
	if (!err && bytes_per_sec && !s->pacer)
		err = ms_pacer_start(s);
	return err;
}

uint64_t migsend_max_bandwidth(const struct migsend_session *s)
{
	return s->max_bandwidth;
}
