/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A running QEMU as the pre-copy loop's guest (struct migsend_guest): the
 * soft-dirty log of QEMU's guest-RAM mappings, taken with the vCPUs
 * stopped (QMP stop ... cont) so that no write falls between reading and
 * clearing; the final pause (QMP stop, its STOP event's time); QEMU's
 * device state, saved through a pipe while the final pass runs.
 */
#ifndef MIGSEND_QEMU_GUEST_H
#define MIGSEND_QEMU_GUEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "libmigsend.h"
#include "layout.h"
#include "qmp.h"
#include "state.h"

struct mq_guest_opts {
	enum migsend_dirtylog_method method;
	/* Set (by a signal handler's thread) to give up before the final pause. */
	volatile sig_atomic_t *cancel;
};

struct mq_guest_stats {
	unsigned int takes;		/* logs taken with the guest running */
	unsigned int pauses;		/* vCPU stops for them */
	uint64_t pause_total_ns, pause_max_ns;
	uint64_t read_max_ns, clear_max_ns;	/* inside the pauses */
	uint64_t stop_us;		/* the final STOP event (QEMU's clock), 0: none */
	uint64_t state_bytes;		/* QEMU's stream */
};

struct mq_guest {
	struct mq_qmp *q;
	const struct mq_layout *l;
	struct mq_guest_opts o;
	struct migsend_dirtylog *log;	/* NULL: the guest is not running */
	bool was_running;		/* when migsend started */
	bool paused;			/* the final pause was done */
	bool state_started;
	unsigned int calls;
	uint64_t gpa, npages;
	uint64_t *empty, *all;
	struct mq_state_out state;
	void *blob;			/* migsend's envelope + QEMU's stream */
	size_t blob_len;
	struct mq_guest_stats st;
	int err;			/* the first failed operation's */
	char errmsg[1024];
};

/*
 * Bind to the QEMU behind @q with layout @l (discovered).  @status is
 * QEMU's run state: "running" (a dirty log is opened), or "paused" /
 * "prelaunch" (nothing can change: no log, the destination stays paused).
 */
int mq_guest_init(struct mq_guest *g, struct mq_qmp *q, const struct mq_layout *l,
		  const char *status, const struct mq_guest_opts *o);
void mq_guest_bind(struct mq_guest *g, struct migsend_guest *mg);
/*
 * The migration failed before the source confirmed DONE: the destination
 * will never run the guest, so it runs here again (when it ran before):
 * QEMU's own migration cancelled if it still runs, then cont.
 */
int mq_guest_resume(struct mq_guest *g);
void mq_guest_fini(struct mq_guest *g);

#endif /* MIGSEND_QEMU_GUEST_H */
