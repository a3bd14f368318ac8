/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A QMP client (QEMU's machine protocol: JSON over a unix socket), what
 * migsend's QEMU path needs of it: capabilities negotiation, commands
 * (one at a time, optionally passing an fd), HMP through
 * human-monitor-command, and the events that arrive meanwhile, kept with
 * their timestamps.
 */
#ifndef MIGSEND_QEMU_QMP_H
#define MIGSEND_QEMU_QMP_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

struct mq_qmp;

/* The last events of each kind QEMU sent. */
struct mq_event {
	char name[32];
	uint64_t ts_us;			/* QEMU's wall clock, microseconds */
	char status[32];		/* data.status (MIGRATION), else "" */
	uint64_t seq;			/* order of arrival */
};

/*
 * Connect to the QMP socket @path, read the greeting, negotiate
 * capabilities.  Errors: ENOENT/ECONNREFUSED (no QEMU there), EBUSY
 * (another client holds that socket: QEMU does not answer it), ETIMEDOUT,
 * EPROTO (not QMP).
 */
int mq_qmp_open(const char *path, int timeout_ms, struct mq_qmp **out);
void mq_qmp_close(struct mq_qmp *q);
/* QEMU's pid (SO_PEERCRED of the socket) and version. */
int mq_qmp_pid(const struct mq_qmp *q);
void mq_qmp_version(const struct mq_qmp *q, int *major, int *minor, int *micro);
/* Milliseconds a command may take before ETIMEDOUT (default 30000). */
void mq_qmp_set_timeout(struct mq_qmp *q, int timeout_ms);

/*
 * Run @cmd with @args (owned by the call, may be NULL), passing @fd with
 * it where >= 0 (SCM_RIGHTS, for getfd).  *ret, when not NULL, gets the
 * "return" value (the caller puts it).  A QMP error is -EIO with QEMU's
 * own description in mq_error(); a lost connection -ECONNRESET.
 */
int mq_qmp_exec(struct mq_qmp *q, const char *cmd, json_object *args, int fd,
		json_object **ret);
/* An HMP command line through human-monitor-command; *out is malloc()ed. */
int mq_qmp_hmp(struct mq_qmp *q, const char *line, char **out);
/* query-status: "running", "paused", "inmigrate", "postmigrate", ... */
int mq_qmp_status(struct mq_qmp *q, char *buf, size_t size);

/* The newest event @name seen so far (0 when none), without waiting. */
bool mq_qmp_event(struct mq_qmp *q, const char *name, struct mq_event *ev);
/*
 * Wait until an event @name newer than arrival @after comes (read from
 * the socket meanwhile), at most @timeout_ms.  -ETIMEDOUT, -ECONNRESET.
 */
int mq_qmp_wait_event(struct mq_qmp *q, const char *name, uint64_t after, int timeout_ms,
		      struct mq_event *ev);
/* The arrival number of the newest event seen. */
uint64_t mq_qmp_event_seq(const struct mq_qmp *q);

/* ----- errors of the QEMU path ------------------------------------------- */

/* Record the message of a failure for the calling thread; returns -err. */
int mq_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *mq_error(void);

#endif /* MIGSEND_QEMU_QMP_H */
