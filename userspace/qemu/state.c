// SPDX-License-Identifier: GPL-2.0
/* QEMU's device state through pipes: see state.h. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/migsend.h>

#include "state.h"

#define MQ_FDNAME	"migsend-state"
#define MQ_STATE_MAX	(MIGSEND_CTL_MAX_PAYLOAD - MQ_STATE_HDR_LEN)

static uint64_t mq_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* ----- the envelope ------------------------------------------------------ */

int mq_state_wrap(const struct mq_state_hdr *h, const void *stream, size_t len,
		  void **out, size_t *out_len)
{
	uint8_t *p;
	uint64_t v;
	uint32_t w;

	if (len > MQ_STATE_MAX)
		return mq_fail(EMSGSIZE, "QEMU's device state is %zu bytes: at most %u fit migsend's STATE message (large video memory? -vga none)",
			       len, MQ_STATE_MAX);
	p = malloc(MQ_STATE_HDR_LEN + len);
	if (!p)
		return mq_fail(ENOMEM, "the device state");
	memcpy(p, MQ_STATE_MAGIC, 8);
	w = htole32(h->flags);
	memcpy(p + 8, &w, 4);
	memset(p + 12, 0, 4);
	v = htole64(h->stop_us);
	memcpy(p + 16, &v, 8);
	v = htole64(len);
	memcpy(p + 24, &v, 8);
	memcpy(p + MQ_STATE_HDR_LEN, stream, len);
	*out = p;
	*out_len = MQ_STATE_HDR_LEN + len;
	return 0;
}

int mq_state_unwrap(const void *state, size_t len, struct mq_state_hdr *h,
		    const uint8_t **stream)
{
	const uint8_t *p = state;
	uint64_t v;
	uint32_t w;

	if (!p || len < MQ_STATE_HDR_LEN || memcmp(p, MQ_STATE_MAGIC, 8))
		return mq_fail(EPROTO, "the source sent no QEMU device state (is it 'migsend send --qemu-qmp'?)");
	memcpy(&w, p + 8, 4);
	h->flags = le32toh(w);
	memcpy(&w, p + 12, 4);
	memcpy(&v, p + 16, 8);
	h->stop_us = le64toh(v);
	memcpy(&v, p + 24, 8);
	h->len = le64toh(v);
	if (w || h->flags & ~MQ_STATE_F_RUN || h->len != len - MQ_STATE_HDR_LEN)
		return mq_fail(EPROTO, "malformed QEMU device state from the source (flags %#x, %llu bytes announced, %zu came)",
			       h->flags, (unsigned long long)h->len, len - MQ_STATE_HDR_LEN);
	*stream = p + MQ_STATE_HDR_LEN;
	return 0;
}

/* ----- QEMU's migration --------------------------------------------------------- */

int mq_migration_status(struct mq_qmp *q, char *buf, size_t size)
{
	json_object *ret, *v;
	int err = mq_qmp_exec(q, "query-migrate", NULL, -1, &ret);

	if (err)
		return err;
	if (json_object_object_get_ex(ret, "status", &v))
		snprintf(buf, size, "%s", json_object_get_string(v));
	else
		snprintf(buf, size, "none");
	json_object_put(ret);
	return 0;
}

/* Hand @fd to QEMU under MQ_FDNAME (it keeps its own copy). */
static int mq_getfd(struct mq_qmp *q, int fd)
{
	json_object *args = json_object_new_object();

	json_object_object_add(args, "fdname", json_object_new_string(MQ_FDNAME));
	return mq_qmp_exec(q, "getfd", args, fd, NULL);
}

static int mq_migrate_cmd(struct mq_qmp *q, const char *cmd)
{
	json_object *args = json_object_new_object();

	json_object_object_add(args, "uri", json_object_new_string("fd:" MQ_FDNAME));
	return mq_qmp_exec(q, cmd, args, -1, NULL);
}

/* Wait until QEMU's migration is over: 0 when completed. */
static int mq_wait_migration(struct mq_qmp *q, const char *side, int timeout_ms)
{
	uint64_t deadline = mq_ms() + timeout_ms;
	char st[32];
	int err;

	for (;;) {
		err = mq_migration_status(q, st, sizeof(st));
		if (err == -ECONNRESET)
			return mq_fail(ECONNRESET, "the %s QEMU went away while it %s its device state (QEMU exits when a load fails: see its log)",
				       side, !strcmp(side, "source") ? "saved" : "loaded");
		if (err)
			return err;
		if (!strcmp(st, "completed"))
			return 0;
		if (!strcmp(st, "failed") || !strcmp(st, "cancelled"))
			return mq_fail(EIO, "the %s QEMU's migration of its device state %s", side, st);
		if (mq_ms() > deadline)
			return mq_fail(ETIMEDOUT, "the %s QEMU's device state did not complete within %d ms (status %s)",
				       side, timeout_ms, st);
		usleep(5000);
	}
}

/* ----- the source --------------------------------------------------------------- */

static void *mq_state_reader(void *arg)
{
	struct mq_state_out *o = arg;
	ssize_t n;

	for (;;) {
		if (o->cap - o->len < 65536) {
			size_t cap = o->cap ? o->cap * 2 : 1 << 20;
			uint8_t *b;

			if (o->len > MQ_STATE_MAX) {
				o->err = -EMSGSIZE;
				break;	/* closing the pipe fails QEMU's migration */
			}
			b = realloc(o->buf, cap);
			if (!b) {
				o->err = -ENOMEM;
				break;
			}
			o->buf = b;
			o->cap = cap;
		}
		n = read(o->rfd, o->buf + o->len, o->cap - o->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			o->err = -errno;
			break;
		}
		if (!n)
			break;
		o->len += n;
	}
	close(o->rfd);
	o->rfd = -1;
	return NULL;
}

int mq_state_start(struct mq_qmp *q, struct mq_state_out *o)
{
	int p[2], err;

	memset(o, 0, sizeof(*o));
	o->rfd = -1;
	if (pipe2(p, O_CLOEXEC))
		return mq_fail(errno, "a pipe for QEMU's device state");
	err = mq_getfd(q, p[1]);
	close(p[1]);
	if (err) {
		close(p[0]);
		return err;
	}
	o->rfd = p[0];
	if (pthread_create(&o->reader, NULL, mq_state_reader, o)) {
		close(o->rfd);
		o->rfd = -1;
		return mq_fail(EAGAIN, "a thread for QEMU's device state");
	}
	o->started = true;
	err = mq_migrate_cmd(q, "migrate");
	if (err)
		mq_state_abandon(q, o);
	return err;
}

int mq_state_finish(struct mq_qmp *q, struct mq_state_out *o, int timeout_ms)
{
	int err = mq_wait_migration(q, "source", timeout_ms);

	if (o->started) {
		pthread_join(o->reader, NULL);
		o->started = false;
	}
	if (!err && o->err == -EMSGSIZE)
		err = mq_fail(EMSGSIZE, "QEMU's device state is larger than %u bytes, the most migsend's STATE message carries (large video memory? -vga none)",
			      MQ_STATE_MAX);
	else if (!err && o->err)
		err = mq_fail(-o->err, "reading QEMU's device state");
	return err;
}

void mq_state_abandon(struct mq_qmp *q, struct mq_state_out *o)
{
	char st[32] = "";

	if (!mq_migration_status(q, st, sizeof(st)) &&
	    (!strcmp(st, "setup") || !strcmp(st, "active") || !strcmp(st, "device")))
		mq_qmp_exec(q, "migrate_cancel", NULL, -1, NULL);
	if (o->started) {
		pthread_join(o->reader, NULL);
		o->started = false;
	}
}

void mq_state_out_free(struct mq_state_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->cap = 0;
}

/* ----- the destination --------------------------------------------------------------- */

static int mq_write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

int mq_state_load(struct mq_qmp *q, const uint8_t *stream, size_t len, int timeout_ms)
{
	int p[2], err;

	if (pipe2(p, O_CLOEXEC))
		return mq_fail(errno, "a pipe for QEMU's device state");
	err = mq_getfd(q, p[0]);
	close(p[0]);
	if (!err)
		err = mq_migrate_cmd(q, "migrate-incoming");
	if (!err) {
		/*
		 * QEMU reads as it loads: a load that fails closes the pipe
		 * (EPIPE here), and QEMU's status or its exit says why.
		 */
		int werr = mq_write_all(p[1], stream, len);

		close(p[1]);
		p[1] = -1;
		err = mq_wait_migration(q, "destination", werr ? 5000 : timeout_ms);
		if (!err && werr)
			err = mq_fail(-werr, "handing the device state to the destination QEMU");
	}
	if (p[1] >= 0)
		close(p[1]);
	return err;
}
