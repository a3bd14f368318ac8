// SPDX-License-Identifier: GPL-2.0
/*
 * migsend send --qemu-qmp SOCKET: migrate a running, unmodified QEMU guest
 * (docs/QEMU.md).  migsend finds the guest's RAM over QMP, pre-copies it
 * while the guest runs (the soft-dirty log of QEMU's mappings, taken with
 * the vCPUs stopped around each read and clear), stops the guest, sends
 * the final pass and QEMU's device state (QEMU's own migration stream with
 * x-ignore-shared, through a pipe, in migsend's STATE), and hands over.
 *
 * Who runs the guest (docs/PROTOCOL.md, "Who runs the guest"):
 * - until the guest is stopped, any failure (destination gone, Ctrl-C,
 *   SIGTERM, a pass error) leaves it running here;
 * - after the stop, the destination runs it only once this side sent DONE
 *   back; until this side has sent it, the guest is resumed here on any
 *   failure (the destination never runs it without that DONE);
 * - once it is sent, this side never resumes the guest unless the
 *   destination says it will not run it (ABORT); with no word at all (the
 *   connection lost) both stay paused and this says how to resume.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "qemu_cli.h"
#include "send_opts.h"
#include "guest.h"
#include "layout.h"
#include "qmp.h"

#define QS_RUNNING_MS	30000	/* the destination's RUNNING after our DONE */

struct qs_args {
	const char *qmp;
	struct send_opts o;
	struct mq_guest_opts g;
	/* Test only: the handover cut before (0: no cut) ... */
	enum { QS_CUT_NONE, QS_CUT_DONE_LOST, QS_CUT_AFTER_DONE } test_cut;
};

enum qs_outcome {
	QS_FAILED_RUNNING,	/* failed before the stop: the guest runs here */
	QS_RESUMED,		/* failed after the stop: resumed here */
	QS_RESUME_FAILED,	/* failed after the stop and could not resume */
	QS_HANDED_OVER,		/* the destination runs it (RUNNING) */
	QS_UNKNOWN,		/* DONE sent, no word back: both paused */
};

static const char *const qs_outcome_json[] = {
	"source", "source", "paused", "destination", "unknown",
};

struct qs_ctx {
	struct qs_args a;
	struct mq_qmp *q;
	struct mq_layout l;
	struct mq_guest g;
	struct migsend_session *s;
	struct migsend_sender *snd;
	char status[32];
	unsigned int vcpus;
	/* Passes, for --json. */
	char passes_json[32768];
	size_t json_len;
	/* Set by us: put back unless the guest left (a later migration by
	 * QEMU alone would leave its RAM behind). */
	bool ignore_shared_was, ignore_shared_set;
	/* The handover. */
	enum qs_outcome outcome;
	uint64_t resumed_us;
	char why[1024];
};

/* ----- signals: cancel until the handover is committed -------------------------- */

static struct {
	pthread_mutex_t lock;
	struct migsend_sender *snd;
	bool committed;
	volatile sig_atomic_t cancel;
} qs_sig = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *qs_signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	while (!sigwait(set, &sig)) {
		pthread_mutex_lock(&qs_sig.lock);
		if (!qs_sig.committed) {
			qs_sig.cancel = 1;
			if (qs_sig.snd)
				migsend_sender_cancel(qs_sig.snd);
			fprintf(stderr, "migsend: %s: cancelling the migration\n", strsignal(sig));
		} else {
			fprintf(stderr, "migsend: %s: the handover is under way, finishing it\n",
				strsignal(sig));
		}
		pthread_mutex_unlock(&qs_sig.lock);
	}
	return NULL;
}

static void qs_signals_start(void)
{
	static sigset_t set;
	pthread_t t;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (!pthread_create(&t, NULL, qs_signal_thread, &set))
		pthread_detach(t);
}

static void qs_set_sender(struct migsend_sender *snd)
{
	pthread_mutex_lock(&qs_sig.lock);
	qs_sig.snd = snd;
	pthread_mutex_unlock(&qs_sig.lock);
}

/* ----- options ---------------------------------------------------------------------- */

static const char qs_usage[] =
	"usage: migsend send --qemu-qmp SOCKET --to HOST:PORT [options]\n"
	"\n"
	"Migrate the guest of a running QEMU (docs/QEMU.md) to 'migsend recv\n"
	"--qemu-qmp' on the destination.  The guest's RAM must be\n"
	"memory-backend-file objects with share=on (/dev/shm or hugetlbfs);\n"
	"migsend carries it, QEMU's own migration (x-ignore-shared) the devices.\n"
	"\n"
	"  --qemu-qmp SOCKET       the source QEMU's QMP socket, free for migsend\n"
	"  --dirty-log auto|pagemap|scan\n"
	"                          how to read the soft-dirty bits (default auto:\n"
	"                          the PAGEMAP_SCAN ioctl where the kernel has it)\n"
	"  --engine E              kernel, user-copy, user-zc, user-sendfile, or auto\n"
	"                          (default auto: kernel; user-sendfile without the module)\n";

static const char qs_test_usage[] =
	"Test only (they break the migration on purpose):\n"
	"  --test-drop-final-pages N  leave N pages the destination certainly has\n"
	"                          stale out of the final pass (at least 3 passes):\n"
	"                          the destination guest must notice\n"
	"  --test-cut-handover done-lost|after-done\n"
	"                          cut the control connection as if this side's DONE\n"
	"                          were lost on the way (both sides stay paused), or\n"
	"                          right after it (the destination runs the guest,\n"
	"                          this side cannot know)\n"
	"\n";

static int qs_parse_log(const char *s, enum migsend_dirtylog_method *m)
{
	if (!strcmp(s, "auto"))
		*m = MIGSEND_DIRTYLOG_AUTO;
	else if (!strcmp(s, "pagemap"))
		*m = MIGSEND_DIRTYLOG_PAGEMAP;
	else if (!strcmp(s, "scan"))
		*m = MIGSEND_DIRTYLOG_SCAN;
	else
		return -1;
	return 0;
}

static int qs_parse_cut(const char *s, struct qs_args *a)
{
	if (!strcmp(s, "done-lost"))
		a->test_cut = QS_CUT_DONE_LOST;
	else if (!strcmp(s, "after-done"))
		a->test_cut = QS_CUT_AFTER_DONE;
	else
		return -1;
	return 0;
}

enum { QS_OPT_QMP = 1, QS_OPT_DIRTY_LOG, QS_OPT_TEST_DROP, QS_OPT_TEST_CUT };

static int qs_parse(int argc, char **argv, struct qs_args *a)
{
	static const struct option opts[] = {
		{ "qemu-qmp", required_argument, NULL, QS_OPT_QMP },
		{ "dirty-log", required_argument, NULL, QS_OPT_DIRTY_LOG },
		{ "test-drop-final-pages", required_argument, NULL, QS_OPT_TEST_DROP },
		{ "test-cut-handover", required_argument, NULL, QS_OPT_TEST_CUT },
		SEND_OPTIONS,
		{ 0 }
	};
	int opt, err;

	/* The kernel's engine, user-sendfile without the module. */
	send_opts_init(&a->o, MIGSEND_ENGINE_AUTO);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		err = 0;
		switch (opt) {
		case QS_OPT_QMP: a->qmp = optarg; break;
		case QS_OPT_DIRTY_LOG: err = qs_parse_log(optarg, &a->g.method); break;
		case QS_OPT_TEST_DROP:
			a->o.pc.test_drop_final_pages = strtoull(optarg, NULL, 0);
			break;
		case QS_OPT_TEST_CUT: err = qs_parse_cut(optarg, a); break;
		default: err = send_opts_take(&a->o, opt, optarg) == 1 ? 0 : -1; break;
		}
		if (err)
			return -1;
	}
	return a->qmp && optind == argc ? 0 : -1;
}

/* ----- progress ------------------------------------------------------------------------- */

static void qs_on_pass(void *arg, const struct migsend_precopy_report *r)
{
	struct qs_ctx *c = arg;
	const struct migsend_pass_info *i = &r->info;
	double secs = (r->acked_ns ? r->acked_ns : i->elapsed_ns) / 1e9;

	if (!c->a.o.json)
		printf("%s %" PRIu64 ": %" PRIu64 " dirty pages, %" PRIu64 " data, %" PRIu64
		       " zero; %.1f MiB in %.3f s (%.1f MiB/s)\n",
		       r->final ? "final pass" : "pass", i->pass, i->dirty_pages, i->data_pages,
		       i->zero_pages, mib(i->wire_bytes), secs,
		       secs > 0 ? mib(i->wire_bytes) / secs : 0.0);
	if (c->json_len < sizeof(c->passes_json) - 256)
		c->json_len += snprintf(c->passes_json + c->json_len,
					sizeof(c->passes_json) - c->json_len,
					"%s{\"pass\":%" PRIu64 ",\"final\":%s,\"dirty_pages\":%" PRIu64
					",\"data_pages\":%" PRIu64 ",\"zero_pages\":%" PRIu64
					",\"wire_bytes\":%" PRIu64 ",\"seconds\":%.6f}",
					c->json_len ? "," : "", i->pass, r->final ? "true" : "false",
					i->dirty_pages, i->data_pages, i->zero_pages, i->wire_bytes,
					secs);
}

/* ----- set-up ------------------------------------------------------------------------------- */

static unsigned int qs_vcpus(struct mq_qmp *q)
{
	json_object *ret;
	unsigned int n;

	if (mq_qmp_exec(q, "query-cpus-fast", NULL, -1, &ret))
		return 1;
	n = json_object_array_length(ret);
	json_object_put(ret);
	return n ? n : 1;
}

/* x-ignore-shared: QEMU's stream leaves the shared RAM to migsend. */
int qemu_ignore_shared(struct mq_qmp *q, bool on)
{
	json_object *args = json_object_new_object(), *caps = json_object_new_array();
	json_object *cap = json_object_new_object();

	json_object_object_add(cap, "capability", json_object_new_string("x-ignore-shared"));
	json_object_object_add(cap, "state", json_object_new_boolean(on));
	json_object_array_add(caps, cap);
	json_object_object_add(args, "capabilities", caps);
	return mq_qmp_exec(q, "migrate-set-capabilities", args, -1, NULL);
}

/* Whether x-ignore-shared is set (query-migrate-capabilities). */
static bool qs_ignore_shared_was(struct mq_qmp *q)
{
	json_object *ret, *e, *v;
	bool on = false;
	size_t i;

	if (mq_qmp_exec(q, "query-migrate-capabilities", NULL, -1, &ret))
		return false;
	for (i = 0; i < json_object_array_length(ret); i++) {
		e = json_object_array_get_idx(ret, i);
		if (json_object_object_get_ex(e, "capability", &v) &&
		    !strcmp(json_object_get_string(v), "x-ignore-shared") &&
		    json_object_object_get_ex(e, "state", &v))
			on = json_object_get_boolean(v);
	}
	json_object_put(ret);
	return on;
}

static void qs_print_layout(const struct qs_ctx *c)
{
	unsigned int i;
	int ma, mi, mc;

	mq_qmp_version(c->q, &ma, &mi, &mc);
	printf("QEMU %d.%d.%d (pid %d), guest %s, %u vCPUs, %.1f MiB of RAM:\n", ma, mi, mc,
	       c->l.pid, c->status, c->vcpus, mib(mq_layout_bytes(&c->l)));
	for (i = 0; i < c->l.nregions; i++) {
		const struct mq_region *r = &c->l.r[i];
		const struct mq_backend *b = &c->l.b[r->backend];

		printf("  gpa %#" PRIx64 "-%#" PRIx64 ": %s (%s%s) bytes %#" PRIx64 "-%#" PRIx64 "\n",
		       r->gpa, r->gpa + r->len - 1, b->id, b->mem_path,
		       b->hugetlb ? ", hugetlbfs" : "", r->offset, r->offset + r->len - 1);
	}
	if (c->l.warnings[0])
		printf("%s", c->l.warnings);
}

/* Nothing was changed: keep the reason (fail_exit() printed the library's). */
static int qs_setup_failed(struct qs_ctx *c, int code, const char *why)
{
	snprintf(c->why, sizeof(c->why), "%s", why);
	if (code == EXIT_FAIL && why == mq_error())
		fprintf(stderr, "migsend: %s\n", why);
	c->outcome = QS_FAILED_RUNNING;
	return code;
}

/* QMP, layout, engine, regions, guest, connections. */
static int qs_setup(struct qs_ctx *c)
{
	struct migsend_sender_opts so = {
		.host = c->a.o.host, .port = c->a.o.port, .tls = c->a.o.tls_lib,
	};
	unsigned int i;
	int err;

	err = mq_qmp_open(c->a.qmp, 10000, &c->q);
	if (!err)
		err = mq_qmp_status(c->q, c->status, sizeof(c->status));
	if (!err)
		err = mq_layout_discover(c->q, &c->l);
	if (!err) {
		c->ignore_shared_was = qs_ignore_shared_was(c->q);
		err = qemu_ignore_shared(c->q, true);
		c->ignore_shared_set = !err;
	}
	if (err)
		return qs_setup_failed(c, EXIT_FAIL, mq_error());
	c->vcpus = qs_vcpus(c->q);
	if (!c->a.o.json)
		qs_print_layout(c);
	err = conns_choose(&c->a.o.conns, c->a.o.host, c->vcpus);
	if (err)
		return qs_setup_failed(c, fail_exit(err, 1), migsend_last_error());
	so.nconns = c->a.o.conns.decision.nconns;
	if (!c->a.o.json)
		conns_print(&c->a.o.conns, stdout);
	err = migsend_session_open_engine(&c->s, c->a.o.engine);
	if (err)
		return qs_setup_failed(c, fail_exit(err, 0), migsend_last_error());
	if (!c->a.o.json)
		printf("engine: %s\n", migsend_engine_name(migsend_session_engine(c->s)));
	for (i = 0; !err && i < c->l.nregions; i++) {
		const struct mq_region *r = &c->l.r[i];
		const struct mq_backend *b = &c->l.b[r->backend];

		err = migsend_add_region(c->s, b->fd, b->file_offset + r->offset, r->gpa, r->len);
	}
	if (err)
		return qs_setup_failed(c, fail_exit(err, 0), migsend_last_error());
	c->a.g.cancel = &qs_sig.cancel;
	err = mq_guest_init(&c->g, c->q, &c->l, c->status, &c->a.g);
	if (err)
		return qs_setup_failed(c, EXIT_FAIL, mq_error());
	if (!c->a.o.json && c->g.log)
		printf("dirty log: soft-dirty bits of QEMU's mappings, read with %s%s\n",
		       migsend_dirtylog_method_name(migsend_dirtylog_method(c->g.log)),
		       migsend_dirtylog_untracked(c->g.log) ?
		       "; hugetlbfs RAM has no soft-dirty bits: all of it goes again in the final pass" : "");
	err = migsend_set_max_bandwidth(c->s, c->a.o.max_bandwidth);
	if (!err)
		err = migsend_sender_connect(c->s, &so, &c->snd);
	if (err)
		return qs_setup_failed(c, fail_exit(err, 1), migsend_last_error());
	qs_set_sender(c->snd);
	return EXIT_OK;
}

/* ----- the handover -------------------------------------------------------------------------- */

void qemu_resume_hint(char *buf, unsigned long size, const char *socket)
{
	snprintf(buf, size, "migsend qemu-resume --qemu-qmp %s", socket);
}

/* The migration failed with the guest stopped here: the destination never runs it. */
static void qs_resume_here(struct qs_ctx *c)
{
	if (!c->g.paused) {
		c->outcome = QS_FAILED_RUNNING;
		return;
	}
	if (mq_guest_resume(&c->g)) {
		char hint[512];

		qemu_resume_hint(hint, sizeof(hint), c->a.qmp);
		c->outcome = QS_RESUME_FAILED;
		snprintf(c->why, sizeof(c->why), "the guest could not be resumed here (%s): it is paused with its complete state on this side; the destination will not run it. Resume it with: %s",
			 mq_error(), hint);
		return;
	}
	c->outcome = QS_RESUMED;
}

/* DONE was sent: the destination may run the guest now.  Did it? */
static void qs_await_running(struct qs_ctx *c)
{
	int ctl = migsend_sender_control_fd(c->snd), err;
	char hint[512];

	if (c->a.test_cut == QS_CUT_AFTER_DONE)
		shutdown(ctl, SHUT_RDWR);
	err = migsend_handover_wait_running(ctl, QS_RUNNING_MS, &c->resumed_us);
	if (!err) {
		c->outcome = QS_HANDED_OVER;
		return;
	}
	if (err == -ECONNABORTED) {
		/* It said it will not run it: the guest is ours again. */
		snprintf(c->why, sizeof(c->why), "%s", migsend_last_error());
		qs_resume_here(c);
		return;
	}
	qemu_resume_hint(hint, sizeof(hint), "DESTINATION-QMP-SOCKET");
	c->outcome = QS_UNKNOWN;
	snprintf(c->why, sizeof(c->why),
		 "%s.  The destination has the complete state and was told to run the guest; whether it does is unknown, so the guest stays paused here (its complete state too).  If the destination QEMU runs it, quit this one.  If the destination is paused and stays so, resume it there with: %s; only if the destination QEMU is gone, resume it here with: migsend qemu-resume --qemu-qmp %s",
		 migsend_last_error(), hint, c->a.qmp);
}

/* ----- results ------------------------------------------------------------------------------------ */

static double qs_guest_downtime_ms(const struct qs_ctx *c)
{
	if (c->outcome != QS_HANDED_OVER || !c->resumed_us || !c->g.st.stop_us ||
	    c->resumed_us < c->g.st.stop_us)
		return -1;
	return (c->resumed_us - c->g.st.stop_us) / 1e3;
}

static void qs_print_json(const struct qs_ctx *c, const struct migsend_precopy_result *r, int err)
{
	const struct mq_guest_stats *st = &c->g.st;
	double dt = qs_guest_downtime_ms(c);

	printf("{\"engine\":\"%s\",\"outcome\":\"%s\",\"passes\":[%s],\"downtime_ms\":%.3f",
	       c->s ? migsend_engine_name(migsend_session_engine(c->s)) : "none",
	       qs_outcome_json[c->outcome], c->passes_json, r->downtime_ns / 1e6);
	if (dt >= 0)
		printf(",\"guest_downtime_ms\":%.3f", dt);
	else
		printf(",\"guest_downtime_ms\":null");
	printf(",\"total_seconds\":%.3f,\"wire_bytes\":%" PRIu64 ",\"timed_out\":%s"
	       ",\"ram_bytes\":%" PRIu64 ",\"state_bytes\":%" PRIu64,
	       r->total_ns / 1e9, r->wire_bytes, r->timed_out ? "true" : "false",
	       mq_layout_bytes(&c->l), st->state_bytes);
	printf(",\"dirty_log\":{\"method\":\"%s\",\"takes\":%u,\"pauses\":%u,"
	       "\"pause_total_ms\":%.3f,\"pause_max_ms\":%.3f,\"read_max_ms\":%.3f,"
	       "\"clear_max_ms\":%.3f}",
	       c->g.log ? migsend_dirtylog_method_name(migsend_dirtylog_method(c->g.log)) : "none",
	       st->takes, st->pauses, st->pause_total_ns / 1e6, st->pause_max_ns / 1e6,
	       st->read_max_ns / 1e6, st->clear_max_ns / 1e6);
	if (st->stop_us)
		printf(",\"stop_us\":%" PRIu64, st->stop_us);
	if (c->resumed_us)
		printf(",\"resumed_us\":%" PRIu64, c->resumed_us);
	if (c->a.o.pc.test_drop_final_pages)
		printf(",\"test_dropped_pages\":%" PRIu64, r->test_dropped_pages);
	printf(",");
	conns_json(&c->a.o.conns, stdout);
	if (err || c->why[0]) {
		json_object *w = json_object_new_string(c->why);

		printf(",\"error\":%s", json_object_to_json_string(w));
		json_object_put(w);
	}
	printf("}\n");
}

static void qs_print_setup_json(const struct qs_ctx *c)
{
	json_object *w = json_object_new_string(c->why);

	printf("{\"outcome\":\"source\",\"passes\":[],\"error\":%s}\n",
	       json_object_to_json_string(w));
	json_object_put(w);
}

static void qs_print_text(const struct qs_ctx *c, const struct migsend_precopy_result *r)
{
	const struct mq_guest_stats *st = &c->g.st;
	double dt = qs_guest_downtime_ms(c);

	printf("migrated %.1f MiB of guest RAM in %" PRIu64 " passes, %.1f MiB on the wire, %.3f s; device state %.1f KiB\n",
	       mib(mq_layout_bytes(&c->l)), r->passes, mib(r->wire_bytes), r->total_ns / 1e9,
	       st->state_bytes / 1024.0);
	if (st->pauses)
		printf("dirty log: %u takes with the vCPUs stopped, %.1f ms each on average, %.1f ms at most (read %.1f ms, clear %.1f ms at most)\n",
		       st->pauses, st->pause_total_ns / 1e6 / st->pauses, st->pause_max_ns / 1e6,
		       st->read_max_ns / 1e6, st->clear_max_ns / 1e6);
	printf("downtime: %.1f ms to the destination's DONE", r->downtime_ns / 1e6);
	if (dt >= 0)
		printf("; %.1f ms as the guest saw it (STOP here to RESUME there, by the two QEMUs' clocks)",
		       dt);
	printf("\n");
	if (c->a.o.pc.test_drop_final_pages)
		printf("test: %" PRIu64 " pages left out of the final pass\n", r->test_dropped_pages);
	if (c->g.was_running)
		printf("the guest runs on the destination; this QEMU is paused (postmigrate): quit it\n");
	else
		printf("the guest is the destination's, paused as it was here; this QEMU is paused (postmigrate): quit it\n");
}

static int qs_exit_code(int err)
{
	switch (-err) {
	case ETIMEDOUT: return EXIT_TIMEOUT;
	case ECONNABORTED: case ECONNRESET: case EPIPE: return EXIT_LOST;
	default: return EXIT_FAIL;
	}
}

/* Exit status and the last words, once the outcome is known. */
static int qs_report(struct qs_ctx *c, const struct migsend_precopy_result *r, int err)
{
	if (c->a.o.json)
		qs_print_json(c, r, err);
	switch (c->outcome) {
	case QS_HANDED_OVER:
		if (!c->a.o.json)
			qs_print_text(c, r);
		return EXIT_OK;
	case QS_FAILED_RUNNING:
		fprintf(stderr, "migsend: %s\nmigsend: the guest keeps running on the source\n", c->why);
		return qs_exit_code(err);
	case QS_RESUMED:
		fprintf(stderr, "migsend: %s\nmigsend: %s\n", c->why, c->g.was_running ?
			"the guest was stopped for the handover and runs on the source again" :
			"the guest stays on the source, paused as it was");
		return EXIT_LOST;
	default:
		fprintf(stderr, "migsend: %s\n", c->why);
		return EXIT_LOST;
	}
}

static void qs_cleanup(struct qs_ctx *c)
{
	qs_set_sender(NULL);
	if (c->ignore_shared_set && !c->ignore_shared_was &&
	    (c->outcome == QS_FAILED_RUNNING || c->outcome == QS_RESUMED))
		qemu_ignore_shared(c->q, false);
	migsend_sender_close(c->snd);
	mq_guest_fini(&c->g);
	migsend_session_close(c->s);
	mq_layout_close(&c->l);
	mq_qmp_close(c->q);
}

/* The pre-copy loop, then the handover or the way back. */
static int qs_migrate(struct qs_ctx *c)
{
	struct migsend_precopy_result r = { 0 };
	struct migsend_guest guest;
	int err;

	mq_guest_bind(&c->g, &guest);
	if (c->a.test_cut == QS_CUT_DONE_LOST)
		setenv("MIGSEND_TEST_LOSE_DONE", "1", 1);	/* read by the sender */
	c->a.o.pc.on_pass = qs_on_pass;
	c->a.o.pc.ctx = c;
	err = migsend_precopy_run(c->snd, &guest, &c->a.o.pc, &r);
	if (err) {
		/* Our DONE was not sent: the destination will never run the guest. */
		const char *why = c->g.err ? c->g.errmsg : migsend_last_error();

		snprintf(c->why, sizeof(c->why), "%s", why);
		migsend_sender_abort(c->snd, -err, why);
		qs_resume_here(c);
	} else {
		pthread_mutex_lock(&qs_sig.lock);
		qs_sig.committed = true;
		pthread_mutex_unlock(&qs_sig.lock);
		qs_await_running(c);
	}
	return qs_report(c, &r, err);
}

int cmd_send_qemu(int argc, char **argv)
{
	struct qs_ctx *c;
	int code;

	if (want_help(argc, argv)) {
		send_opts_print_usage(stdout, qs_usage);
		printf("%s%s", qs_test_usage, exit_codes_help);
		return EXIT_OK;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return EXIT_FAIL;
	if (qs_parse(argc, argv, &c->a)) {
		send_opts_print_usage(stderr, qs_usage);
		free(c);
		return EXIT_USAGE;
	}
	if (send_opts_done(&c->a.o)) {
		free(c);
		return EXIT_USAGE;
	}
	qs_signals_start();
	code = qs_setup(c);
	if (code == EXIT_OK) {
		code = qs_migrate(c);
	} else {
		fprintf(stderr, "migsend: nothing was changed: the guest keeps running on the source\n");
		if (c->a.o.json)
			qs_print_setup_json(c);
	}
	qs_cleanup(c);
	free(c);
	return code;
}
