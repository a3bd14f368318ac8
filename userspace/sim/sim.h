/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest simulator for demos, tests and benchmarks: a memfd filled with
 * a given share of zero pages, and a writer thread that dirties pages at a
 * given rate into a dirty log, standing in for a VMM's guest and KVM's
 * log.  Not part of libmigsend: the CLI and the tests link it.
 */
#ifndef MIGSEND_SIM_H
#define MIGSEND_SIM_H

#include <stdint.h>

#include "libmigsend.h"

struct migsend_sim;

struct migsend_sim_opts {
	uint64_t size;			/* bytes, a multiple of 4 KiB */
	double zero_ratio;		/* fraction of pages that are zero */
	uint64_t dirty_rate;		/* pages written per second */
	uint64_t seed;
};

/*
 * A memfd filled as asked; a writer thread dirties pages from start on.
 * Returns 0 or a negative errno (EINVAL: size not a non-zero multiple of
 * 4 KiB or zero ratio outside [0, 1]).
 */
int migsend_sim_create(const struct migsend_sim_opts *o, struct migsend_sim **out);
int migsend_sim_fd(const struct migsend_sim *sim);
uint64_t migsend_sim_npages(const struct migsend_sim *sim);
/* Get and clear the dirty log, as KVM's; valid until the next call. */
const uint64_t *migsend_sim_take_dirty(struct migsend_sim *sim);
/* Stop the writer: the paused VM of the final pass. */
void migsend_sim_pause(struct migsend_sim *sim);
/* The simulated guest as the pre-copy loop drives it (one region at gpa 0). */
void migsend_sim_guest(struct migsend_sim *sim, struct migsend_guest *g);
void migsend_sim_destroy(struct migsend_sim *sim);

#endif /* MIGSEND_SIM_H */
