/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's device state as migsend's STATE message (docs/QEMU.md): QEMU's
 * own migration stream, written by the source QEMU into a pipe migsend
 * hands it (QMP getfd, then migrate "fd:"), and read by the destination
 * QEMU from a pipe (getfd, migrate-incoming "fd:").  With x-ignore-shared
 * the stream holds the devices and the small RAM blocks that are not
 * shared (firmware, option ROMs, video memory): never guest RAM.
 *
 * migsend puts a header of its own in front (little-endian):
 *   magic "MSQEMU01" | flags u32 | reserved u32 | stop_us u64 | len u64 | stream
 * flags bit 0: the guest ran on the source (the destination resumes it);
 * stop_us: the source's STOP event, QEMU's wall clock in microseconds.
 */
#ifndef MIGSEND_QEMU_STATE_H
#define MIGSEND_QEMU_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qmp.h"

#define MQ_STATE_MAGIC		"MSQEMU01"
#define MQ_STATE_F_RUN		0x1
#define MQ_STATE_HDR_LEN	32

struct mq_state_hdr {
	uint32_t flags;
	uint64_t stop_us;
	uint64_t len;
};

/* Header + stream in @out (malloc()ed); the stream must fit 64 MiB - 32. */
int mq_state_wrap(const struct mq_state_hdr *h, const void *stream, size_t len,
		  void **out, size_t *out_len);
/* Check a STATE payload: EPROTO when it is not migsend's QEMU state. */
int mq_state_unwrap(const void *state, size_t len, struct mq_state_hdr *h,
		    const uint8_t **stream);

/* The source: QEMU's stream collected while the final pass runs. */
struct mq_state_out {
	pthread_t reader;
	bool started;
	int rfd;
	uint8_t *buf;
	size_t len, cap;
	int err;			/* the reader's, negative */
};

/* getfd + migrate "fd:" on the paused source; a thread reads the pipe. */
int mq_state_start(struct mq_qmp *q, struct mq_state_out *o);
/* Until QEMU finished its migration: the stream in o->buf. */
int mq_state_finish(struct mq_qmp *q, struct mq_state_out *o, int timeout_ms);
/* Stop collecting: cancel QEMU's migration if it still runs. */
void mq_state_abandon(struct mq_qmp *q, struct mq_state_out *o);
void mq_state_out_free(struct mq_state_out *o);

/* The destination: feed the stream to a QEMU started with -incoming defer. */
int mq_state_load(struct mq_qmp *q, const uint8_t *stream, size_t len, int timeout_ms);

/* The status of QEMU's migration (query-migrate), "none" when there is none. */
int mq_migration_status(struct mq_qmp *q, char *buf, size_t size);

#endif /* MIGSEND_QEMU_STATE_H */
