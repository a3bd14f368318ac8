// SPDX-License-Identifier: GPL-2.0
/*
 * The module's tracepoints, read through tracefs: an instance of the
 * trace buffer of its own with the migsend events enabled, a pass (and a
 * connection reset) while they are on, and every event checked with its
 * fields against what the ioctls report.  docs/TRACING.md lists them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ms_testlib.h"

#define PAGE		MIGSEND_PAGE_SIZE
#define MB		(1024UL * 1024)
#define NCONNS		2
#define MAX_EVENTS	8192
#define MAX_FIELDS	12

static const char *const events[] = {
	"migsend_session_open", "migsend_session_close", "migsend_pass_start",
	"migsend_pass_done", "migsend_span_sent", "migsend_conn_dead",
};

/* ----- tracefs ---------------------------------------------------------- */

/* Where tracefs is: mounted at /sys/kernel/tracing when it is not yet. */
static const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	if (!mount("tracefs", dirs[0], "tracefs", 0, NULL))
		return dirs[0];
	return NULL;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

/* The whole of a (small, virtual) file, NUL-terminated; free() it. */
static char *read_file(const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			char *more = realloc(buf, cap *= 2);

			if (!more)
				break;
			buf = more;
		}
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

/* ----- events ------------------------------------------------------------- */

struct event {
	const char *line;	/* as the trace file has it */
	char name[32];
	int nfields;
	char key[MAX_FIELDS][16];
	char val[MAX_FIELDS][24];
};

struct trace {
	struct event *ev;
	int n;
};

/* "...: migsend_pass_done: session=0 pass=1 state=DONE ..." */
static void parse_line(struct trace *t, const char *line)
{
	const char *p = strstr(line, ": migsend_"), *colon;
	struct event *e;
	int used;

	if (!p || t->n == MAX_EVENTS)
		return;
	p += 2;
	colon = strchr(p, ':');
	if (!colon || colon - p >= (long)sizeof(e->name))
		return;
	e = &t->ev[t->n++];
	memset(e, 0, sizeof(*e));
	e->line = line;
	memcpy(e->name, p, colon - p);
	p = colon + 1;
	while (e->nfields < MAX_FIELDS &&
	       sscanf(p, " %15[^= ]=%23s%n", e->key[e->nfields],
		      e->val[e->nfields], &used) == 2) {
		e->nfields++;
		p += used;
	}
}

static int parse_trace(struct trace *t, char *text)
{
	char *line, *save = NULL;

	t->n = 0;
	t->ev = calloc(MAX_EVENTS, sizeof(*t->ev));
	if (!t->ev)
		return -1;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			parse_line(t, line);
	return 0;
}

static const char *field(const struct event *e, const char *key)
{
	int i;

	for (i = 0; i < e->nfields; i++)
		if (!strcmp(e->key[i], key))
			return e->val[i];
	return NULL;
}

static uint64_t num(const struct event *e, const char *key)
{
	const char *v = field(e, key);

	return v ? strtoull(v, NULL, 0) : ~0ULL;
}

/* The events called @name of session @session, in order. */
static int select_events(const struct trace *t, const char *name,
			 uint64_t session, const struct event **out, int max)
{
	int i, n = 0;

	for (i = 0; i < t->n && n < max; i++)
		if (!strcmp(t->ev[i].name, name) &&
		    num(&t->ev[i], "session") == session)
			out[n++] = &t->ev[i];
	return n;
}

/* The session this process opened last, as session_open says. */
static int64_t own_session(const struct trace *t)
{
	int64_t id = -1;
	int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->ev[i].name, "migsend_session_open") &&
		    num(&t->ev[i], "pid") == (uint64_t)getpid())
			id = num(&t->ev[i], "session");
	return id;
}

/* ----- the session under trace ------------------------------------------ */

FIXTURE(traced) {
	char inst[160];		/* our own trace instance */
	int dev;
	int snd[NCONNS], rcv[NCONNS];
	struct ms_mem mem;
	struct ms_bitmap bm;
	uint8_t *dst;
	struct ms_rx rx;
	bool rx_running;
	struct trace t;
	char *text;
};

FIXTURE_SETUP(traced)
{
	const char *fs = tracefs();
	char path[256];

	ASSERT_NE(NULL, fs) TH_LOG("no tracefs");
	snprintf(self->inst, sizeof(self->inst), "%s/instances/migsend_test_%d",
		 fs, getpid());
	ASSERT_EQ(0, mkdir(self->inst, 0700));
	snprintf(path, sizeof(path), "%s/events/migsend/enable", self->inst);
	ASSERT_EQ(0, write_file(path, "1")) TH_LOG("%s", path);

	self->dev = ms_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ms_tcp_pairs(NCONNS, self->snd, self->rcv));
	for (int i = 0; i < NCONNS; i++)
		ASSERT_EQ(i, ms_add_sock(self->dev, self->snd[i]));
	ASSERT_EQ(0, ms_mem_create(&self->mem, 8 * MB, false));
	ASSERT_EQ(0, ms_add_region(self->dev, self->mem.fd, 0, 0, 8 * MB));
	ASSERT_EQ(0, ms_bitmap_alloc(&self->bm, 8 * MB / PAGE));
	self->dst = mmap(NULL, 8 * MB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->dst);
}

FIXTURE_TEARDOWN(traced)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->rx_running)
		ms_rx_stop(&self->rx);
	ms_close_fds(self->snd, NCONNS);
	ms_close_fds(self->rcv, NCONNS);
	ms_mem_destroy(&self->mem);
	ms_bitmap_free(&self->bm);
	munmap(self->dst, 8 * MB);
	free(self->t.ev);
	free(self->text);
	rmdir(self->inst);
}

/* Close the session, stop tracing and read what the instance holds. */
static int end_and_read(FIXTURE_DATA(traced) *self)
{
	char path[256];

	close(self->dev);
	self->dev = -1;
	snprintf(path, sizeof(path), "%s/events/migsend/enable", self->inst);
	if (write_file(path, "0"))
		return -1;
	snprintf(path, sizeof(path), "%s/trace", self->inst);
	self->text = read_file(path);
	if (!self->text)
		return -1;
	return parse_trace(&self->t, self->text);
}

TEST_F(traced, every_event_exists_with_its_fields)
{
	static const char *const fields[] = {
		"session", "pid", "pass", "npages", "state", "error", "pages",
		"zero", "holes", "bytes", "ns", "conn", "dirty", "gpa",
	};
	char path[256], *all = calloc(1, 1);
	unsigned int i;

	ASSERT_NE(NULL, all);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		char *fmt, *more;

		snprintf(path, sizeof(path), "%s/events/migsend/%s/format",
			 self->inst, events[i]);
		fmt = read_file(path);
		ASSERT_NE(NULL, fmt) TH_LOG("%s", path);
		more = realloc(all, strlen(all) + strlen(fmt) + 1);
		ASSERT_NE(NULL, more);
		all = strcat(more, fmt);
		free(fmt);
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char want[32];

		snprintf(want, sizeof(want), " %s;", fields[i]);
		EXPECT_NE(NULL, strstr(all, want)) TH_LOG("no field %s", fields[i]);
	}
	free(all);
}

TEST_F(traced, a_pass_traces_its_start_spans_and_end)
{
	const uint64_t npages = 8 * MB / PAGE;
	const struct event *ev[MAX_EVENTS];
	struct migsend_pass_result res;
	struct migsend_stats st = { 0 };
	uint64_t dirty = 0, bytes = 0, conns_seen = 0;
	int64_t id;
	int i, n;

	/* Half random data, a quarter touched zero pages, a quarter holes. */
	ms_mem_fill_random(&self->mem, 0, npages / 2, 5);
	memset(self->mem.p + npages / 2 * PAGE, 0, npages / 4 * PAGE);
	ms_bitmap_set(&self->bm, 0, npages);
	ASSERT_EQ(0, ms_rx_start(&self->rx, self->dst, 0, 8 * MB, self->rcv,
				 NCONNS));
	self->rx_running = true;
	ASSERT_EQ(0, ms_pass_start(self->dev, 1, &self->bm, 0,
				   MIGSEND_PASS_SKIP_ZERO));
	ASSERT_EQ(0, ms_pass_wait(self->dev, &res));
	ASSERT_EQ(MIGSEND_STATE_DONE, res.state);
	ASSERT_EQ(0, ms_rx_wait_pass(&self->rx, 1, 60000));
	EXPECT_EQ(0, memcmp(self->dst, self->mem.p, 8 * MB));
	ASSERT_EQ(0, ioctl(self->dev, MIGSEND_IOC_GET_STATS, &st));
	ASSERT_EQ(0, end_and_read(self));

	id = own_session(&self->t);
	ASSERT_LE(0, id) TH_LOG("no migsend_session_open of pid %d", getpid());

	n = select_events(&self->t, "migsend_pass_start", id, ev, MAX_EVENTS);
	ASSERT_EQ(1, n);
	EXPECT_EQ(1, num(ev[0], "pass"));
	EXPECT_EQ(npages, num(ev[0], "npages"));
	EXPECT_EQ(0, num(ev[0], "gpa"));
	EXPECT_EQ(NCONNS, num(ev[0], "nconns"));
	EXPECT_EQ(MIGSEND_PASS_SKIP_ZERO, num(ev[0], "flags"));

	/* The spans cover every dirty page once, on every connection. */
	n = select_events(&self->t, "migsend_span_sent", id, ev, MAX_EVENTS);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(1, num(ev[i], "pass"));
		EXPECT_EQ(0, num(ev[i], "error"));
		EXPECT_GE(num(ev[i], "pages"), num(ev[i], "dirty"));
		EXPECT_GE(256, num(ev[i], "dirty"));
		EXPECT_GT(~0ULL, num(ev[i], "ns"));
		EXPECT_GT(NCONNS, num(ev[i], "conn"));
		conns_seen |= 1ULL << num(ev[i], "conn");
		dirty += num(ev[i], "dirty");
		bytes += num(ev[i], "bytes");
	}
	EXPECT_EQ(npages, dirty);
	/* Each connection's last record and its END close after its last span. */
	EXPECT_GE(st.last.wire_bytes, bytes);
	EXPECT_LT(st.last.wire_bytes / 2, bytes);
	printf("# %d spans on %d connections, the first:\n# %s\n", n,
	       __builtin_popcountll(conns_seen), ev[0]->line);

	n = select_events(&self->t, "migsend_pass_done", id, ev, MAX_EVENTS);
	ASSERT_EQ(1, n);
	printf("# %s\n", ev[0]->line);
	EXPECT_STREQ("DONE", field(ev[0], "state"));
	EXPECT_EQ(0, num(ev[0], "error"));
	EXPECT_EQ(1, num(ev[0], "pass"));
	EXPECT_EQ(st.last.dirty_pages, num(ev[0], "pages"));
	EXPECT_EQ(st.last.data_pages, num(ev[0], "data"));
	EXPECT_EQ(st.last.zero_pages_scanned, num(ev[0], "zero"));
	EXPECT_EQ(st.last.zero_pages_hole, num(ev[0], "holes"));
	EXPECT_EQ(st.last.records, num(ev[0], "records"));
	EXPECT_EQ(st.last.wire_bytes, num(ev[0], "bytes"));
	EXPECT_EQ(st.last.elapsed_ns, num(ev[0], "ns"));
	EXPECT_EQ(npages / 2, num(ev[0], "data"));
	EXPECT_EQ(npages / 4, num(ev[0], "zero"));
	EXPECT_EQ(npages / 4, num(ev[0], "holes"));

	EXPECT_EQ(0, select_events(&self->t, "migsend_conn_dead", id, ev,
				   MAX_EVENTS));
	n = select_events(&self->t, "migsend_session_close", id, ev, MAX_EVENTS);
	ASSERT_EQ(1, n);
	EXPECT_EQ((uint64_t)getpid(), num(ev[0], "pid"));
	EXPECT_EQ(1, num(ev[0], "last_pass"));
	EXPECT_EQ(st.total.wire_bytes, num(ev[0], "bytes"));
	EXPECT_EQ(0, num(ev[0], "errors"));
}

TEST_F(traced, a_reset_connection_is_traced_dead)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	const uint64_t npages = 8 * MB / PAGE;
	const struct event *ev[MAX_EVENTS];
	struct migsend_pass_result res;
	bool conn1_dead = false;
	int64_t id;
	int i, n;

	/* Nobody reads: the pass fills the sockets, then one is reset. */
	ms_mem_fill_random(&self->mem, 0, npages, 9);
	ms_bitmap_set(&self->bm, 0, npages);
	ASSERT_EQ(0, ms_pass_start(self->dev, 1, &self->bm, 0,
				   MIGSEND_PASS_SKIP_ZERO));
	usleep(300 * 1000);
	ASSERT_EQ(0, setsockopt(self->rcv[1], SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(self->rcv[1]);
	self->rcv[1] = -1;
	ASSERT_EQ(0, ms_pass_wait(self->dev, &res));
	ASSERT_EQ(MIGSEND_STATE_FAILED, res.state);
	ASSERT_EQ(0, end_and_read(self));

	id = own_session(&self->t);
	ASSERT_LE(0, id);
	n = select_events(&self->t, "migsend_conn_dead", id, ev, MAX_EVENTS);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(1, num(ev[i], "pass"));
		EXPECT_NE(0, num(ev[i], "error"));
		if (num(ev[i], "conn") == 1 &&
		    (num(ev[i], "error") == ECONNRESET ||
		     num(ev[i], "error") == EPIPE))
			conn1_dead = true;
	}
	EXPECT_TRUE(conn1_dead);

	n = select_events(&self->t, "migsend_pass_done", id, ev, MAX_EVENTS);
	ASSERT_EQ(1, n);
	EXPECT_STREQ("FAILED", field(ev[0], "state"));
	EXPECT_EQ((uint64_t)res.error, num(ev[0], "error"));
	n = select_events(&self->t, "migsend_session_close", id, ev, MAX_EVENTS);
	ASSERT_EQ(1, n);
	EXPECT_EQ(1, num(ev[0], "errors"));
}

TEST_F(traced, nothing_is_recorded_while_the_events_are_off)
{
	char path[256];
	struct migsend_pass_result res;

	snprintf(path, sizeof(path), "%s/events/migsend/enable", self->inst);
	ASSERT_EQ(0, write_file(path, "0"));
	snprintf(path, sizeof(path), "%s/trace", self->inst);
	ASSERT_EQ(0, write_file(path, ""));	/* the setup's session_open */
	ms_bitmap_set(&self->bm, 0, 16);
	ASSERT_EQ(0, ms_rx_start(&self->rx, self->dst, 0, 8 * MB, self->rcv,
				 NCONNS));
	self->rx_running = true;
	ASSERT_EQ(0, ms_pass_start(self->dev, 1, &self->bm, 0, 0));
	ASSERT_EQ(0, ms_pass_wait(self->dev, &res));
	ASSERT_EQ(MIGSEND_STATE_DONE, res.state);
	ASSERT_EQ(0, end_and_read(self));
	EXPECT_EQ(0, self->t.n);
}

TEST_HARNESS_MAIN
