// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The source side of the control protocol (docs/PROTOCOL.md).
 *
 * The control connection carries HELLO (layout, token), the device state,
 * COMPLETE and ABORT.  Each data connection JOINs with the token before it
 * is handed to the kernel; from then on the kernel writes records on it
 * and a reader thread here reads the receiver's cumulative ACKs back, and
 * watches the control connection for an ABORT.  Nothing ever waits for an
 * ACK before sending more: passes are pipelined.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tls.h"

#define MS_DEFAULT_CONNECT_MS	5000
#define MS_DEFAULT_PASS_MS	30000
#define MS_HANDSHAKE_MS		120000
#define MS_JOIN_MS		10000
/* After a failed pass, how long to wait for the receiver's own reason. */
#define MS_REASON_GRACE_MS	500

struct migsend_sender {
	struct migsend_session *s;
	struct ms_tls *tls;		/* NULL: plaintext */
	int ctl;
	unsigned int nconns;
	int data[MIGSEND_MAX_CONNS];
	unsigned int pass_timeout_ms;
	uint8_t token[MIGSEND_TOKEN_LEN];
	bool sparse;			/* the receiver and the engine take SPARSE */

	pthread_t reader;
	bool reader_started;
	int wake[2];			/* stops the reader */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t acked_end[MIGSEND_MAX_CONNS];
	uint64_t acked_bytes[MIGSEND_MAX_CONNS];
	uint64_t current_pass;
	/* The reader's partial ACK per data connection (read without blocking). */
	uint8_t ackbuf[MIGSEND_MAX_CONNS][sizeof(struct migsend_ctl_hdr) +
					  sizeof(struct migsend_ctl_ack)];
	size_t ackhave[MIGSEND_MAX_CONNS];
	bool done;			/* the destination said DONE */
	bool closing;
	int error;			/* first failure the reader saw, positive */
	char errmsg[512];
};

static int ms_wait_cond(struct migsend_sender *snd, const struct timespec *deadline);
static struct timespec *ms_deadline(struct timespec *ts, int timeout_ms);

/* Under snd->lock: the first failure wins; the running pass is cancelled. */
static void ms_sender_set_error(struct migsend_sender *snd, int err,
				const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ms_sender_set_error(struct migsend_sender *snd, int err,
				const char *fmt, ...)
{
	va_list ap;

	/* After DONE the outcome is decided: what the connections do no longer matters. */
	if (snd->error || snd->closing || snd->done)
		return;
	snd->error = err;
	va_start(ap, fmt);
	vsnprintf(snd->errmsg, sizeof(snd->errmsg), fmt, ap);
	va_end(ap);
	migsend_pass_cancel(snd->s);
	pthread_cond_broadcast(&snd->cond);
}

static void ms_sender_on_ctl(struct migsend_sender *snd)
{
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	char reason[MIGSEND_REASON_MAX + 1];
	uint16_t type;
	uint32_t len;
	int err = ms_ctl_recv(snd->ctl, &type, buf, sizeof(buf), &len);

	pthread_mutex_lock(&snd->lock);
	if (err && ms_tls_read_error()) {
		ms_sender_set_error(snd, -err,
				    "the control connection to the destination failed during pass %llu: %s",
				    (unsigned long long)snd->current_pass, ms_tls_read_error());
	} else if (err) {
		ms_sender_set_error(snd, ECONNRESET,
				    "the control connection to the destination was lost during pass %llu",
				    (unsigned long long)snd->current_pass);
	} else if (type == MIGSEND_CTL_ABORT) {
		err = ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
		ms_sender_set_error(snd, ECONNABORTED,
				    "the destination aborted the migration during pass %llu: %s (%s)",
				    (unsigned long long)snd->current_pass, reason,
				    strerror(err > 0 ? err : EPROTO));
	} else if (type == MIGSEND_CTL_DONE && !len) {
		snd->done = true;
		pthread_cond_broadcast(&snd->cond);
	} else {
		ms_sender_set_error(snd, EPROTO,
				    "unexpected message %u from the destination", type);
	}
	pthread_mutex_unlock(&snd->lock);
}

/* A whole ACK arrived on data connection @i: check and record it; under snd->lock. */
static void ms_sender_on_ack(struct migsend_sender *snd, unsigned int i)
{
	struct migsend_ctl_hdr h;
	struct migsend_ctl_ack ack;
	uint16_t type;
	uint32_t len;

	memcpy(&h, snd->ackbuf[i], sizeof(h));
	memcpy(&ack, snd->ackbuf[i] + sizeof(h), sizeof(ack));
	snd->ackhave[i] = 0;
	if (ms_ctl_hdr_decode(&h, &type, &len) || type != MIGSEND_CTL_ACK ||
	    len != sizeof(ack)) {
		ms_sender_set_error(snd, EPROTO,
				    "unexpected message on data connection %u", i);
		return;
	}
	snd->acked_end[i] = le64toh(ack.end_pass);
	snd->acked_bytes[i] = le64toh(ack.bytes);
	pthread_cond_broadcast(&snd->cond);
}

/*
 * Read what data connection @i has, without blocking: an ACK may arrive in
 * pieces, and a readiness that is not data (user-zc's MSG_ZEROCOPY
 * completions raise POLLERR) must never stall the reader.
 */
static void ms_sender_on_data(struct migsend_sender *snd, unsigned int i)
{
	size_t want = sizeof(snd->ackbuf[i]);
	ssize_t n;

	for (;;) {
		n = ms_tls_recv(snd->data[i], snd->ackbuf[i] + snd->ackhave[i],
				want - snd->ackhave[i], MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return;
		pthread_mutex_lock(&snd->lock);
		if (n <= 0) {
			const char *tls = n < 0 ? ms_tls_read_error() : NULL;

			ms_sender_set_error(snd, tls ? (int)-n : ECONNRESET,
					    "data connection %u to the destination was lost during pass %llu%s%s",
					    i, (unsigned long long)snd->current_pass,
					    tls ? ": " : "", tls ? tls : "");
			pthread_mutex_unlock(&snd->lock);
			return;
		}
		snd->ackhave[i] += n;
		if (snd->ackhave[i] == want)
			ms_sender_on_ack(snd, i);
		pthread_mutex_unlock(&snd->lock);
	}
}

static uint64_t ms_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/*
 * A connection whose only news is POLLERR (zerocopy completions the send
 * thread reaps) is left out of the poll set for this long, not spun on.
 */
#define MS_MUTE_MS	2

static bool ms_sender_finished(struct migsend_sender *snd)
{
	bool fin;

	pthread_mutex_lock(&snd->lock);
	fin = snd->error || snd->done;
	pthread_mutex_unlock(&snd->lock);
	return fin;
}

static void *ms_sender_reader(void *arg)
{
	struct migsend_sender *snd = arg;
	struct pollfd pfd[MIGSEND_MAX_CONNS + 2];
	uint64_t muted[MIGSEND_MAX_CONNS] = { 0 }, now;
	unsigned int i, n = snd->nconns;
	int timeout;

	while (!ms_sender_finished(snd)) {
		now = ms_mono_ms();
		timeout = -1;
		pfd[0] = (struct pollfd){ .fd = snd->wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = snd->ctl, .events = POLLIN };
		for (i = 0; i < n; i++) {
			bool mute = muted[i] > now;

			pfd[i + 2] = (struct pollfd){
				.fd = mute ? -1 : snd->data[i], .events = POLLIN,
			};
			if (mute)
				timeout = MS_MUTE_MS;
		}
		if (poll(pfd, n + 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents)
			ms_sender_on_ctl(snd);
		for (i = 0; i < n; i++) {
			short ev = pfd[i + 2].revents;

			if (ev & (POLLIN | POLLHUP))
				ms_sender_on_data(snd, i);
			else if (ev & POLLERR)
				muted[i] = ms_mono_ms() + MS_MUTE_MS;
		}
	}
	return NULL;
}

/*
 * Receive the reply to a greeting: @want, or an ABORT with a reason.  A
 * WELCOME (@features not NULL) may say what the receiver takes; any other
 * reply has no payload.
 */
static int ms_expect(int fd, uint16_t want, const char *what, uint64_t *features)
{
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	char reason[MIGSEND_REASON_MAX + 1];
	uint16_t type;
	uint32_t len;
	int err = ms_ctl_recv(fd, &type, buf, sizeof(buf), &len);

	if (err == -EAGAIN || err == -EWOULDBLOCK)
		return ms_fail(ETIMEDOUT, "%s: no answer from the destination", what);
	if (err && ms_tls_read_error()) {
		snprintf(reason, sizeof(reason), "%s", ms_tls_read_error());
		return ms_fail(-err, "%s: %s", what, reason);
	}
	if (err)
		return ms_fail(err == -EPROTO ? EPROTO : -err,
			       "%s: the destination is not a migsend receiver or closed the connection",
			       what);
	if (type == want && features) {
		if (ms_welcome_decode(buf, len, features))
			return ms_fail(EPROTO, "%s: a WELCOME of %u bytes", what, len);
		return 0;
	}
	if (type == want && !len)
		return 0;
	if (type == MIGSEND_CTL_ABORT) {
		err = ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
		return ms_fail(err == EACCES ? EACCES : EPROTO,
			       "%s: refused by the destination: %s", what, reason);
	}
	return ms_fail(EPROTO, "%s: unexpected message %u", what, type);
}

/*
 * Can the session's engine send SPARSE records?  The module can, from the
 * version that knows them; the userspace engines send DATA and ZERO only.
 */
static bool ms_engine_sparse(struct migsend_session *s)
{
	struct migsend_version v;

	return s->engine == MIGSEND_ENGINE_KERNEL && !migsend_get_version(s, &v) &&
	       v.features & MIGSEND_FEAT_SPARSE;
}

static int ms_sender_hello(struct migsend_sender *snd)
{
	struct migsend_session *s = snd->s;
	size_t size = sizeof(struct migsend_ctl_hello) +
		      s->nregions * sizeof(struct migsend_ctl_region);
	void *buf = malloc(size);
	uint64_t features;
	int len, err;

	if (!buf)
		return ms_fail(ENOMEM, "handshake");
	len = ms_hello_encode(buf, size, snd->token, snd->nconns, s->regions,
			      s->nregions);
	err = len < 0 ? ms_fail(EINVAL, "the memory layout cannot be sent") :
	      ms_ctl_send(snd->ctl, MIGSEND_CTL_HELLO, buf, len);
	free(buf);
	if (err < 0 && err != -EINVAL)
		return ms_fail(-err, "sending the handshake");
	if (err < 0)
		return err;
	err = ms_expect(snd->ctl, MIGSEND_CTL_WELCOME, "handshake", &features);
	snd->sparse = !err && features & MIGSEND_CTL_F_SPARSE && ms_engine_sparse(s);
	return err;
}

static int ms_sender_join(struct migsend_sender *snd, const struct migsend_sender_opts *o,
			  unsigned int i)
{
	struct migsend_ctl_join j = { .index = htole32(i) };
	char what[64];
	int fd, err;

	fd = ms_tcp_connect(o->host, o->port, o->connect_timeout_ms ?
			    o->connect_timeout_ms : MS_DEFAULT_CONNECT_MS);
	if (fd < 0)
		return fd;
	snd->data[i] = fd;
	ms_set_timeouts(fd, MS_JOIN_MS);
	/* TLS first: the token travels inside it.  user-copy encrypts itself. */
	if (snd->tls) {
		err = ms_tls_client(snd->tls, fd, o->host,
				    snd->s->engine == MIGSEND_ENGINE_USER_COPY ? MS_TLS_USER_TX : 0);
		if (err)
			return err;
	}
	memcpy(j.token, snd->token, sizeof(j.token));
	err = ms_ctl_send(fd, MIGSEND_CTL_JOIN, &j, sizeof(j));
	if (err)
		return ms_fail(-err, "joining data connection %u", i);
	snprintf(what, sizeof(what), "data connection %u", i);
	err = ms_expect(fd, MIGSEND_CTL_JOINED, what, NULL);
	if (err)
		return err;
	/* Reads of ACKs block in the reader thread only: no limit there. */
	ms_set_timeouts(fd, 0);
	err = migsend_add_socket(snd->s, fd);
	return err < 0 ? err : 0;
}

/* For stop-and-wait engines: until connection @conn acknowledged @bytes. */
static int ms_sender_wait_conn(void *ctx, unsigned int conn, uint64_t bytes)
{
	struct migsend_sender *snd = ctx;
	struct timespec ts, *deadline = ms_deadline(&ts, snd->pass_timeout_ms);
	int err = 0;

	pthread_mutex_lock(&snd->lock);
	while (!snd->error && snd->acked_bytes[conn] < bytes && !err)
		err = ms_wait_cond(snd, deadline);
	if (snd->error)
		err = -ECONNABORTED;
	else if (err)
		err = -ETIMEDOUT;
	pthread_mutex_unlock(&snd->lock);
	return err;
}

static struct migsend_sender *ms_sender_alloc(struct migsend_session *s,
					      const struct migsend_sender_opts *o)
{
	struct migsend_sender *snd = calloc(1, sizeof(*snd));
	unsigned int i;

	if (!snd)
		return NULL;
	snd->s = s;
	snd->ctl = -1;
	snd->nconns = o->nconns;
	snd->pass_timeout_ms = o->pass_timeout_ms ? o->pass_timeout_ms :
			       MS_DEFAULT_PASS_MS;
	for (i = 0; i < MIGSEND_MAX_CONNS; i++)
		snd->data[i] = -1;
	snd->wake[0] = snd->wake[1] = -1;
	pthread_mutex_init(&snd->lock, NULL);
	pthread_cond_init(&snd->cond, NULL);
	return snd;
}

int migsend_sender_connect(struct migsend_session *s,
			   const struct migsend_sender_opts *o,
			   struct migsend_sender **out)
{
	struct migsend_sender *snd;
	unsigned int i;
	int err;

	if (!o->nconns || o->nconns > MIGSEND_MAX_CONNS)
		return ms_fail(EINVAL, "%u data connections: 1 to %u are possible",
			       o->nconns, MIGSEND_MAX_CONNS);
	if (!s->nregions)
		return ms_fail(EINVAL, "no memory region to migrate");
	snd = ms_sender_alloc(s, o);
	if (!snd)
		return ms_fail(ENOMEM, "connecting");
	if (o->tls) {
		err = ms_tls_new(&snd->tls, o->tls, false);
		if (err)
			goto fail;
	}
	s->encrypted = o->tls != NULL;
	if (getrandom(snd->token, sizeof(snd->token), 0) != sizeof(snd->token)) {
		err = ms_fail(errno, "drawing the migration token");
		goto fail;
	}
	err = snd->ctl = ms_tcp_connect(o->host, o->port, o->connect_timeout_ms ?
					o->connect_timeout_ms : MS_DEFAULT_CONNECT_MS);
	if (err < 0)
		goto fail;
	if (snd->tls) {
		ms_set_timeouts(snd->ctl, MS_JOIN_MS);
		err = ms_tls_client(snd->tls, snd->ctl, o->host, 0);
		if (err)
			goto fail;
	}
	ms_set_timeouts(snd->ctl, o->handshake_timeout_ms ? o->handshake_timeout_ms :
				  MS_HANDSHAKE_MS);
	err = ms_sender_hello(snd);
	for (i = 0; !err && i < o->nconns; i++)
		err = ms_sender_join(snd, o, i);
	if (err)
		goto fail;
	ms_set_timeouts(snd->ctl, 0);
	if (pipe2(snd->wake, O_CLOEXEC) ||
	    pthread_create(&snd->reader, NULL, ms_sender_reader, snd)) {
		err = ms_fail(errno ? errno : EAGAIN, "starting the ACK reader");
		goto fail;
	}
	snd->reader_started = true;
	s->wait_acked = ms_sender_wait_conn;
	s->ack_ctx = snd;
	*out = snd;
	return 0;
fail:
	migsend_sender_close(snd);
	return err;
}

static int ms_wait_cond(struct migsend_sender *snd, const struct timespec *deadline)
{
	if (!deadline)
		return pthread_cond_wait(&snd->cond, &snd->lock);
	return pthread_cond_timedwait(&snd->cond, &snd->lock, deadline);
}

static struct timespec *ms_deadline(struct timespec *ts, int timeout_ms)
{
	if (timeout_ms < 0)
		return NULL;
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
	return ts;
}

/* Under snd->lock: report the reader's failure as this call's. */
static int ms_sender_error(struct migsend_sender *snd)
{
	ms_fail(0, "%s", snd->errmsg);
	return -snd->error;
}

/* The pass ended badly: explain it, preferring the receiver's reason. */
static int ms_pass_failed(struct migsend_sender *snd, uint64_t pass,
			  const struct migsend_pass_result *res)
{
	struct timespec ts;
	int err = res->error ? res->error : EIO;

	pthread_mutex_lock(&snd->lock);
	ms_deadline(&ts, MS_REASON_GRACE_MS);
	while (!snd->error && err != ECANCELED &&
	       !ms_wait_cond(snd, &ts))
		;
	if (snd->error) {
		err = ms_sender_error(snd);
		pthread_mutex_unlock(&snd->lock);
		return err;
	}
	pthread_mutex_unlock(&snd->lock);
	switch (err) {
	case ECONNRESET:
	case EPIPE:
		return ms_fail(err, "a data connection was lost during pass %llu",
			       (unsigned long long)pass);
	case ETIMEDOUT:
		return ms_fail(err, "no progress on a data connection for %u ms during pass %llu",
			       snd->pass_timeout_ms, (unsigned long long)pass);
	case ECANCELED:
		return ms_fail(err, "pass %llu was cancelled", (unsigned long long)pass);
	default:
		return ms_fail(err, "pass %llu failed", (unsigned long long)pass);
	}
}

/* Zero pages among data pages go in SPARSE records wherever both ends can. */
static uint32_t ms_pass_flags(const struct migsend_sender *snd, uint32_t flags)
{
	if (snd->sparse && flags & MIGSEND_PASS_SKIP_ZERO)
		flags |= MIGSEND_PASS_SPARSE;
	return flags;
}

int migsend_sender_pass(struct migsend_sender *snd, uint64_t pass,
			const uint64_t *bitmap, uint64_t gpa, uint64_t npages,
			uint32_t flags, struct migsend_pass_info *info)
{
	struct migsend_pass p = {
		.pass = pass, .bitmap = (uintptr_t)bitmap, .gpa = gpa,
		.npages = npages, .flags = ms_pass_flags(snd, flags),
		.timeout_ms = snd->pass_timeout_ms,
	};
	struct migsend_pass_result res;
	struct migsend_stats st;
	int err;

	pthread_mutex_lock(&snd->lock);
	if (snd->error) {
		err = ms_sender_error(snd);
		pthread_mutex_unlock(&snd->lock);
		return err;
	}
	snd->current_pass = pass;
	pthread_mutex_unlock(&snd->lock);

	err = migsend_pass_start(snd->s, &p);
	if (!err)
		err = migsend_pass_wait(snd->s, &res);
	if (err)
		return err;
	if (res.state != MIGSEND_STATE_DONE)
		return ms_pass_failed(snd, pass, &res);
	err = migsend_get_stats(snd->s, &st, NULL, 0);
	if (err)
		return err;
	if (info) {
		info->pass = pass;
		info->dirty_pages = st.last.dirty_pages;
		info->data_pages = st.last.data_pages;
		info->zero_pages = st.last.zero_pages_hole + st.last.zero_pages_scanned;
		info->wire_bytes = st.last.wire_bytes;
		info->elapsed_ns = res.elapsed_ns;
	}
	return 0;
}

static bool ms_all_acked(struct migsend_sender *snd, uint64_t pass)
{
	unsigned int i;

	for (i = 0; i < snd->nconns; i++)
		if (snd->acked_end[i] < pass + 1)
			return false;
	return true;
}

int migsend_sender_wait_acked(struct migsend_sender *snd, uint64_t pass,
			      int timeout_ms)
{
	struct timespec ts, *deadline = ms_deadline(&ts, timeout_ms);
	int err = 0;

	pthread_mutex_lock(&snd->lock);
	while (!snd->error && !ms_all_acked(snd, pass) && !err)
		err = ms_wait_cond(snd, deadline);
	if (snd->error)
		err = ms_sender_error(snd);
	else if (err)
		err = ms_fail(ETIMEDOUT, "the destination did not acknowledge pass %llu in time",
			      (unsigned long long)pass);
	pthread_mutex_unlock(&snd->lock);
	return err;
}

uint64_t migsend_sender_acked_bytes(struct migsend_sender *snd)
{
	uint64_t sum = 0;
	unsigned int i;

	pthread_mutex_lock(&snd->lock);
	for (i = 0; i < snd->nconns; i++)
		sum += snd->acked_bytes[i];
	pthread_mutex_unlock(&snd->lock);
	return sum;
}

void migsend_sender_cancel(struct migsend_sender *snd)
{
	migsend_pass_cancel(snd->s);
}

int migsend_sender_send_state(struct migsend_sender *snd, const void *blob,
			      size_t len)
{
	int err;

	if (len > MIGSEND_CTL_MAX_PAYLOAD)
		return ms_fail(EMSGSIZE, "device state of %zu bytes: at most %u",
			       len, MIGSEND_CTL_MAX_PAYLOAD);
	err = ms_ctl_send(snd->ctl, MIGSEND_CTL_STATE, blob, len);
	return err ? ms_fail(-err, "sending the device state") : 0;
}

int migsend_sender_complete(struct migsend_sender *snd, uint64_t last_pass,
			    int timeout_ms)
{
	struct migsend_ctl_complete c = { .last_pass = htole64(last_pass) };
	struct timespec ts, *deadline;
	int err;

	err = ms_ctl_send(snd->ctl, MIGSEND_CTL_COMPLETE, &c, sizeof(c));
	if (err)
		return ms_fail(-err, "sending COMPLETE");
	deadline = ms_deadline(&ts, timeout_ms);
	pthread_mutex_lock(&snd->lock);
	err = 0;
	while (!snd->error && !snd->done && !err)
		err = ms_wait_cond(snd, deadline);
	if (snd->done)
		err = 0;
	else if (snd->error)
		err = ms_sender_error(snd);
	else
		err = ms_fail(ETIMEDOUT, "the destination did not confirm completion in time");
	pthread_mutex_unlock(&snd->lock);
	if (err) {
		/* Whatever the destination has, it must not run it. */
		migsend_sender_abort(snd, -err, migsend_last_error());
		return err;
	}
	/*
	 * The handover (docs/PROTOCOL.md): the destination succeeds only on
	 * this DONE, so both sides report the same outcome.
	 */
	if (getenv("MIGSEND_TEST_LOSE_DONE")) {
		/* Test only: this DONE counts as sent and is lost on the way. */
		shutdown(snd->ctl, SHUT_RDWR);
		return 0;
	}
	if (ms_ctl_send(snd->ctl, MIGSEND_CTL_DONE, NULL, 0))
		return ms_fail(ENOTCONN, "the destination has all of pass %llu, but the confirmation of its DONE could not be sent: it will not run the guest on its own",
			       (unsigned long long)last_pass);
	shutdown(snd->ctl, SHUT_WR);
	return 0;
}

void migsend_sender_abort(struct migsend_sender *snd, int error,
			  const char *reason)
{
	if (snd->ctl >= 0)
		ms_ctl_send_abort(snd->ctl, error, reason);
}

void migsend_sender_close(struct migsend_sender *snd)
{
	unsigned int i;

	if (!snd)
		return;
	snd->s->wait_acked = NULL;
	pthread_mutex_lock(&snd->lock);
	snd->closing = true;
	pthread_mutex_unlock(&snd->lock);
	if (snd->reader_started) {
		if (write(snd->wake[1], "x", 1) < 0)
			pthread_cancel(snd->reader);
		pthread_join(snd->reader, NULL);
	}
	for (i = 0; i < MIGSEND_MAX_CONNS; i++) {
		if (snd->data[i] >= 0) {
			ms_tls_close(snd->data[i]);
			close(snd->data[i]);
		}
	}
	if (snd->ctl >= 0) {
		ms_tls_close(snd->ctl);
		close(snd->ctl);
	}
	ms_tls_free(snd->tls);
	if (snd->wake[0] >= 0) {
		close(snd->wake[0]);
		close(snd->wake[1]);
	}
	pthread_mutex_destroy(&snd->lock);
	pthread_cond_destroy(&snd->cond);
	free(snd);
}

int migsend_sender_control_fd(const struct migsend_sender *snd)
{
	return snd->ctl;
}

struct migsend_session *migsend_sender_session(struct migsend_sender *snd)
{
	return snd->s;
}
