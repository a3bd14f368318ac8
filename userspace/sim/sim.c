// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A guest simulator for demos and tests: a memfd of a given size and zero
 * ratio, and a writer thread that dirties pages at a given rate and
 * records them in a dirty log, standing in for KVM's.  A write sets the
 * page's dirty bit first and changes the page second, under the log's
 * lock, so that a page changed after its pass read it is always in the
 * next log.  One write in ten makes its page zero again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define MS_PAGE		MIGSEND_PAGE_SIZE
#define MS_TICK_NS	10000000ULL	/* the writer wakes every 10 ms */

struct migsend_sim {
	int fd;
	uint8_t *mem;
	uint64_t npages;
	uint64_t rate;
	uint64_t seed;
	pthread_t writer;
	bool writer_running;
	pthread_mutex_t lock;
	bool stop;
	uint64_t *active;	/* the log being written */
	uint64_t *spare;	/* handed out by the last take */
	size_t words;
};

static uint64_t ms_next_random(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void ms_fill_page(uint8_t *page, uint64_t *seed)
{
	uint64_t *w = (uint64_t *)page;
	size_t i;

	for (i = 0; i < MS_PAGE / sizeof(*w); i++)
		w[i] = ms_next_random(seed);
	w[0] |= 1;	/* never zero by chance */
}

/*
 * Data pages get random contents; of the zero pages, every other one is
 * written with zeros (touched), the rest stay holes (never touched).
 */
static void ms_sim_fill(struct migsend_sim *sim, double zero_ratio)
{
	uint64_t i, seed = sim->seed, zeros = 0;
	uint64_t threshold = (uint64_t)(zero_ratio * (double)UINT64_MAX);

	for (i = 0; i < sim->npages; i++) {
		if (zero_ratio > 0 && ms_next_random(&seed) <= threshold) {
			if (zeros++ % 2)
				memset(sim->mem + i * MS_PAGE, 0, MS_PAGE);
			continue;
		}
		ms_fill_page(sim->mem + i * MS_PAGE, &seed);
	}
}

static void ms_sim_write_one(struct migsend_sim *sim, uint64_t *seed)
{
	uint64_t r = ms_next_random(seed), page = r % sim->npages;
	uint64_t *w = (uint64_t *)(sim->mem + page * MS_PAGE);

	pthread_mutex_lock(&sim->lock);
	sim->active[page / 64] |= htole64(1ULL << (page % 64));
	if (r >> 60 == 0)	/* about one write in 16: back to zero */
		memset(w, 0, MS_PAGE);
	else
		w[(r >> 20) % (MS_PAGE / sizeof(*w))] = r | 1;
	pthread_mutex_unlock(&sim->lock);
}

static void *ms_sim_writer(void *arg)
{
	struct migsend_sim *sim = arg;
	uint64_t seed = sim->seed ^ 0x5eed, per_tick, i, debt = 0;
	struct timespec next;

	per_tick = sim->rate * MS_TICK_NS / 1000000000ULL;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		pthread_mutex_lock(&sim->lock);
		if (sim->stop) {
			pthread_mutex_unlock(&sim->lock);
			return NULL;
		}
		pthread_mutex_unlock(&sim->lock);
		/* Rates below one page per tick accumulate. */
		debt += sim->rate * MS_TICK_NS % 1000000000ULL;
		i = per_tick + debt / 1000000000ULL;
		debt %= 1000000000ULL;
		while (i--)
			ms_sim_write_one(sim, &seed);
		next.tv_nsec += MS_TICK_NS;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}

int migsend_sim_create(const struct migsend_sim_opts *o, struct migsend_sim **out)
{
	struct migsend_sim *sim;
	int err;

	if (!o->size || o->size % MS_PAGE || o->zero_ratio < 0 || o->zero_ratio > 1)
		return -EINVAL;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	sim->npages = o->size / MS_PAGE;
	sim->rate = o->dirty_rate;
	sim->seed = o->seed ? o->seed : 1;
	sim->words = (sim->npages + 63) / 64;
	pthread_mutex_init(&sim->lock, NULL);
	sim->fd = memfd_create("migsend-guest", MFD_CLOEXEC);
	sim->active = calloc(sim->words, sizeof(uint64_t));
	sim->spare = calloc(sim->words, sizeof(uint64_t));
	if (sim->fd < 0 || ftruncate(sim->fd, o->size) || !sim->active || !sim->spare)
		goto fail;
	sim->mem = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, sim->fd, 0);
	if (sim->mem == MAP_FAILED) {
		sim->mem = NULL;
		goto fail;
	}
	ms_sim_fill(sim, o->zero_ratio);
	if (sim->rate) {
		if (pthread_create(&sim->writer, NULL, ms_sim_writer, sim))
			goto fail;
		sim->writer_running = true;
	}
	*out = sim;
	return 0;
fail:
	err = errno ? -errno : -ENOMEM;
	migsend_sim_destroy(sim);
	return err;
}

int migsend_sim_fd(const struct migsend_sim *sim)
{
	return sim->fd;
}

uint64_t migsend_sim_npages(const struct migsend_sim *sim)
{
	return sim->npages;
}

const uint64_t *migsend_sim_take_dirty(struct migsend_sim *sim)
{
	uint64_t *taken;

	memset(sim->spare, 0, sim->words * sizeof(uint64_t));
	pthread_mutex_lock(&sim->lock);
	taken = sim->active;
	sim->active = sim->spare;
	pthread_mutex_unlock(&sim->lock);
	sim->spare = taken;
	return taken;
}

void migsend_sim_pause(struct migsend_sim *sim)
{
	pthread_mutex_lock(&sim->lock);
	sim->stop = true;
	pthread_mutex_unlock(&sim->lock);
	if (sim->writer_running)
		pthread_join(sim->writer, NULL);
	sim->writer_running = false;
}

static int ms_sim_take_dirty(void *ctx, const uint64_t **bitmap)
{
	*bitmap = migsend_sim_take_dirty(ctx);
	return 0;
}

static int ms_sim_pause(void *ctx)
{
	migsend_sim_pause(ctx);
	return 0;
}

static const struct migsend_guest_ops ms_sim_guest_ops = {
	.take_dirty = ms_sim_take_dirty,
	.pause = ms_sim_pause,
};

void migsend_sim_guest(struct migsend_sim *sim, struct migsend_guest *g)
{
	g->ops = &ms_sim_guest_ops;
	g->ctx = sim;
	g->gpa = 0;
	g->npages = sim->npages;
}

void migsend_sim_destroy(struct migsend_sim *sim)
{
	if (!sim)
		return;
	migsend_sim_pause(sim);
	if (sim->mem)
		munmap(sim->mem, sim->npages * MS_PAGE);
	if (sim->fd >= 0)
		close(sim->fd);
	free(sim->active);
	free(sim->spare);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}
