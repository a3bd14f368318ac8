// SPDX-License-Identifier: GPL-2.0
/*
 * The QMP client: one JSON object per line in each direction
 * (docs/interop/qmp-spec in QEMU), parsed with json-c.  Commands run one
 * at a time; events that arrive before a command's answer are kept, the
 * newest of each kind with its timestamp, for the downtime and for waits.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

#define MQ_LINE_MAX	(16 << 20)	/* an HMP answer (info mtree) can be long */
#define MQ_EVENTS	16
#define MQ_DEFAULT_TIMEOUT_MS	30000

struct mq_qmp {
	int fd;
	int pid;
	int timeout_ms;
	int version[3];
	char *buf;
	size_t len, cap;
	struct mq_event events[MQ_EVENTS];
	uint64_t seq;
};

/* ----- errors ----------------------------------------------------------- */

static _Thread_local char mq_last_error[1024];

int mq_fail(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(mq_last_error, sizeof(mq_last_error), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && (size_t)n < sizeof(mq_last_error))
		snprintf(mq_last_error + n, sizeof(mq_last_error) - n, ": %s", strerror(err));
	return -err;
}

const char *mq_error(void)
{
	return mq_last_error;
}

/* ----- the line stream ------------------------------------------------------ */

static uint64_t mq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Read more from QEMU until @deadline (CLOCK_MONOTONIC ms). */
static int mq_fill(struct mq_qmp *q, uint64_t deadline)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	uint64_t now = mq_now_ms();
	ssize_t n;
	int r;

	if (q->cap - q->len < 65536) {
		size_t cap = q->cap ? q->cap * 2 : 131072;
		char *b;

		if (cap > MQ_LINE_MAX)
			return mq_fail(EMSGSIZE, "QMP: a message longer than %d bytes", MQ_LINE_MAX);
		b = realloc(q->buf, cap);
		if (!b)
			return mq_fail(ENOMEM, "QMP");
		q->buf = b;
		q->cap = cap;
	}
	r = poll(&pfd, 1, now >= deadline ? 0 : (int)(deadline - now));
	if (r < 0)
		return errno == EINTR ? 0 : mq_fail(errno, "QMP");
	if (!r)
		return -ETIMEDOUT;
	n = recv(q->fd, q->buf + q->len, q->cap - q->len - 1, 0);
	if (n < 0)
		return errno == EINTR ? 0 : mq_fail(ECONNRESET, "QMP: the connection to QEMU was lost");
	if (!n)
		return mq_fail(ECONNRESET, "QMP: QEMU closed the connection");
	q->len += n;
	return 0;
}

/* The next message (one line), parsed; -ETIMEDOUT at the deadline. */
static int mq_next(struct mq_qmp *q, uint64_t deadline, json_object **msg)
{
	char *nl;
	int err;

	for (;;) {
		nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		if (nl) {
			*nl = 0;
			*msg = json_tokener_parse(q->buf);
			q->len -= nl + 1 - q->buf;
			memmove(q->buf, nl + 1, q->len);
			if (!*msg)
				return mq_fail(EPROTO, "QMP: QEMU sent something that is not JSON");
			return 0;
		}
		err = mq_fill(q, deadline);
		if (err)
			return err;
	}
}

static const char *mq_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t mq_int(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* Keep an event: the newest of each name (16 names at most). */
static void mq_keep_event(struct mq_qmp *q, json_object *msg)
{
	const char *name = mq_str(msg, "event"), *status;
	json_object *ts = NULL, *data = NULL;
	struct mq_event *slot = NULL;
	unsigned int i;

	json_object_object_get_ex(msg, "timestamp", &ts);
	json_object_object_get_ex(msg, "data", &data);
	for (i = 0; i < MQ_EVENTS && !slot; i++)
		if (!strcmp(q->events[i].name, name))
			slot = &q->events[i];
	for (i = 0; i < MQ_EVENTS && !slot; i++)
		if (!q->events[i].name[0])
			slot = &q->events[i];
	if (!slot) {	/* forget the oldest */
		slot = &q->events[0];
		for (i = 1; i < MQ_EVENTS; i++)
			if (q->events[i].seq < slot->seq)
				slot = &q->events[i];
	}
	snprintf(slot->name, sizeof(slot->name), "%s", name);
	slot->ts_us = (uint64_t)mq_int(ts, "seconds") * 1000000 + mq_int(ts, "microseconds");
	status = mq_str(data, "status");
	snprintf(slot->status, sizeof(slot->status), "%s", status ? status : "");
	slot->seq = ++q->seq;
}

/* ----- commands ----------------------------------------------------------------- */

/* One request line; @fd (>= 0) rides on its first byte (SCM_RIGHTS). */
static int mq_send(struct mq_qmp *q, json_object *req, int fd)
{
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text) + 1, off = 0;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char *line = malloc(len);
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;

	if (!line)
		return mq_fail(ENOMEM, "QMP");
	memcpy(line, text, len - 1);
	line[len - 1] = '\n';
	while (off < len) {
		iov.iov_base = line + off;
		iov.iov_len = len - off;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (fd >= 0 && !off) {
			struct cmsghdr *c;

			mh.msg_control = cbuf;
			mh.msg_controllen = sizeof(cbuf);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
		}
		n = sendmsg(q->fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(line);
			return mq_fail(ECONNRESET, "QMP: the connection to QEMU was lost");
		}
		off += n;
	}
	free(line);
	return 0;
}

/* The answer to the command just sent; events are kept on the way. */
static int mq_answer(struct mq_qmp *q, const char *cmd, json_object **ret)
{
	uint64_t deadline = mq_now_ms() + q->timeout_ms;
	json_object *msg, *v;
	int err;

	for (;;) {
		err = mq_next(q, deadline, &msg);
		if (err == -ETIMEDOUT)
			return mq_fail(ETIMEDOUT, "QMP: no answer to %s from QEMU within %d ms",
				       cmd, q->timeout_ms);
		if (err)
			return err;
		if (mq_str(msg, "event")) {
			mq_keep_event(q, msg);
			json_object_put(msg);
			continue;
		}
		if (json_object_object_get_ex(msg, "return", &v)) {
			if (ret)
				*ret = json_object_get(v);
			json_object_put(msg);
			return 0;
		}
		if (json_object_object_get_ex(msg, "error", &v)) {
			err = mq_fail(0, "QEMU refused %s: %s", cmd,
				      mq_str(v, "desc") ? mq_str(v, "desc") : "(no reason given)");
			json_object_put(msg);
			return -EIO;
		}
		json_object_put(msg);
		return mq_fail(EPROTO, "QMP: an answer to %s that is neither return nor error", cmd);
	}
}

int mq_qmp_exec(struct mq_qmp *q, const char *cmd, json_object *args, int fd,
		json_object **ret)
{
	json_object *req = json_object_new_object();
	int err;

	if (ret)
		*ret = NULL;
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	err = mq_send(q, req, fd);
	json_object_put(req);
	return err ? err : mq_answer(q, cmd, ret);
}

int mq_qmp_hmp(struct mq_qmp *q, const char *line, char **out)
{
	json_object *args = json_object_new_object(), *ret;
	int err;

	json_object_object_add(args, "command-line", json_object_new_string(line));
	err = mq_qmp_exec(q, "human-monitor-command", args, -1, &ret);
	if (err)
		return err;
	*out = strdup(json_object_is_type(ret, json_type_string) ?
		      json_object_get_string(ret) : "");
	json_object_put(ret);
	return *out ? 0 : mq_fail(ENOMEM, "QMP");
}

int mq_qmp_status(struct mq_qmp *q, char *buf, size_t size)
{
	json_object *ret;
	const char *s;
	int err = mq_qmp_exec(q, "query-status", NULL, -1, &ret);

	if (err)
		return err;
	s = mq_str(ret, "status");
	snprintf(buf, size, "%s", s ? s : "unknown");
	json_object_put(ret);
	return 0;
}

/* ----- events ------------------------------------------------------------------- */

bool mq_qmp_event(struct mq_qmp *q, const char *name, struct mq_event *ev)
{
	unsigned int i;

	for (i = 0; i < MQ_EVENTS; i++)
		if (!strcmp(q->events[i].name, name)) {
			*ev = q->events[i];
			return true;
		}
	memset(ev, 0, sizeof(*ev));
	return false;
}

uint64_t mq_qmp_event_seq(const struct mq_qmp *q)
{
	return q->seq;
}

int mq_qmp_wait_event(struct mq_qmp *q, const char *name, uint64_t after, int timeout_ms,
		      struct mq_event *ev)
{
	uint64_t deadline = mq_now_ms() + timeout_ms;
	json_object *msg;
	int err;

	for (;;) {
		if (mq_qmp_event(q, name, ev) && ev->seq > after)
			return 0;
		err = mq_next(q, deadline, &msg);
		if (err == -ETIMEDOUT)
			return mq_fail(ETIMEDOUT, "QMP: no %s event from QEMU within %d ms",
				       name, timeout_ms);
		if (err)
			return err;
		if (mq_str(msg, "event"))
			mq_keep_event(q, msg);
		json_object_put(msg);
	}
}

/* ----- the connection ------------------------------------------------------------ */

static int mq_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return mq_fail(ENAMETOOLONG, "QMP socket %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mq_fail(errno, "QMP");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(fd);
		return mq_fail(err, "connecting to QEMU's QMP socket %s", path);
	}
	return fd;
}

static int mq_greeting(struct mq_qmp *q, const char *path, int timeout_ms)
{
	json_object *msg, *qmp, *v, *ver;
	int err = mq_next(q, mq_now_ms() + timeout_ms, &msg);

	if (err == -ETIMEDOUT)
		return mq_fail(EBUSY, "QMP socket %s: no greeting within %d ms (another client holds it? QEMU serves one client per -qmp socket)",
			       path, timeout_ms);
	if (err)
		return err;
	if (!json_object_object_get_ex(msg, "QMP", &qmp)) {
		json_object_put(msg);
		return mq_fail(EPROTO, "%s is not a QMP socket", path);
	}
	if (json_object_object_get_ex(qmp, "version", &v) &&
	    json_object_object_get_ex(v, "qemu", &ver)) {
		q->version[0] = (int)mq_int(ver, "major");
		q->version[1] = (int)mq_int(ver, "minor");
		q->version[2] = (int)mq_int(ver, "micro");
	}
	json_object_put(msg);
	return mq_qmp_exec(q, "qmp_capabilities", NULL, -1, NULL);
}

int mq_qmp_open(const char *path, int timeout_ms, struct mq_qmp **out)
{
	struct mq_qmp *q = calloc(1, sizeof(*q));
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int err;

	if (!q)
		return mq_fail(ENOMEM, "QMP");
	q->timeout_ms = MQ_DEFAULT_TIMEOUT_MS;
	q->fd = mq_connect(path);
	if (q->fd < 0) {
		err = q->fd;
		free(q);
		return err;
	}
	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.pid <= 0) {
		err = mq_fail(errno ? errno : ESRCH, "QMP socket %s: whose is it (SO_PEERCRED)", path);
		goto fail;
	}
	q->pid = cred.pid;
	err = mq_greeting(q, path, timeout_ms > 0 ? timeout_ms : MQ_DEFAULT_TIMEOUT_MS);
	if (err)
		goto fail;
	*out = q;
	return 0;
fail:
	mq_qmp_close(q);
	return err;
}

void mq_qmp_close(struct mq_qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	free(q);
}

int mq_qmp_pid(const struct mq_qmp *q)
{
	return q->pid;
}

void mq_qmp_version(const struct mq_qmp *q, int *major, int *minor, int *micro)
{
	*major = q->version[0];
	*minor = q->version[1];
	*micro = q->version[2];
}

void mq_qmp_set_timeout(struct mq_qmp *q, int timeout_ms)
{
	q->timeout_ms = timeout_ms > 0 ? timeout_ms : MQ_DEFAULT_TIMEOUT_MS;
}
