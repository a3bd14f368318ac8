// SPDX-License-Identifier: GPL-2.0
/*
 * migsend recv --qemu-qmp SOCKET: the destination of a QEMU migration
 * (docs/QEMU.md).  The destination QEMU waits with -incoming defer on its
 * own RAM files; migsend finds them over QMP, receives into them, loads
 * QEMU's device state into it before saying DONE (a load that fails is an
 * ABORT: the source keeps the guest), and resumes the guest only once the
 * source has sent DONE back, then says so (RUNNING).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qemu_cli.h"
#include "tls_opts.h"
#include "layout.h"
#include "qmp.h"
#include "state.h"

#define QR_LOAD_MS	60000	/* QEMU loading its device state */
#define QR_EVENT_MS	2000

struct qr_ctx {
	const char *qmp;
	bool json;
	struct tls_opts tls;
	struct mq_qmp *q;
	struct mq_layout l;
	struct mq_state_hdr hdr;
	bool loaded;
	bool resumed;
	uint64_t resumed_us;
	char cont_error[512];
};

static const char qr_usage[] =
	"usage: migsend recv --listen [HOST:]PORT --qemu-qmp SOCKET [options]\n"
	"\n"
	"Receive a QEMU guest from 'migsend send --qemu-qmp' into the RAM files of\n"
	"the QEMU behind SOCKET, started with -incoming defer and the same memory\n"
	"layout as the source (docs/QEMU.md), load its device state, and resume\n"
	"it once the source has handed it over.\n"
	"\n"
	"  --listen [HOST:]PORT    where to listen (required)\n"
	"  --qemu-qmp SOCKET       the destination QEMU's QMP socket\n"
	"  --timeout S             wait at most S seconds for the source (default 60)\n"
	"  --json                  one JSON object on stdout instead of text\n"
	"\n";

static void qr_log(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "migsend recv: %s\n", line);
}

/* Before DONE: QEMU loads the devices; the guest stays paused. */
static int qr_ready(void *ctx, const void *state, size_t len, char *why, size_t why_size)
{
	struct qr_ctx *c = ctx;
	const uint8_t *stream;
	char st[32];
	int err;

	err = mq_state_unwrap(state, len, &c->hdr, &stream);
	if (!err)
		err = mq_state_load(c->q, stream, c->hdr.len, QR_LOAD_MS);
	if (!err)
		err = mq_qmp_status(c->q, st, sizeof(st));
	if (!err && strcmp(st, "paused"))
		err = mq_fail(EPROTO, "the destination QEMU is '%s' after loading, not paused", st);
	if (err) {
		snprintf(why, why_size, "the destination QEMU did not take the device state: %s",
			 mq_error());
		return err;
	}
	c->loaded = true;
	return 0;
}

/* After the source's DONE: the guest is ours; run it if it ran there. */
static void qr_confirmed(void *ctx, int ctl)
{
	struct qr_ctx *c = ctx;
	uint64_t seq = mq_qmp_event_seq(c->q);
	struct mq_event ev;

	if (!(c->hdr.flags & MQ_STATE_F_RUN)) {
		migsend_handover_running(ctl, 0);
		return;
	}
	if (mq_qmp_exec(c->q, "cont", NULL, -1, NULL)) {
		/* Paused with everything; no RUNNING: the source reports it unknown. */
		snprintf(c->cont_error, sizeof(c->cont_error), "%s", mq_error());
		return;
	}
	c->resumed = true;
	if (!mq_qmp_wait_event(c->q, "RESUME", seq, QR_EVENT_MS, &ev))
		c->resumed_us = ev.ts_us;
	migsend_handover_running(ctl, c->resumed_us);
}

/* The QEMU must wait for an incoming migration, and must not start on its own. */
static int qr_setup(struct qr_ctx *c)
{
	char st[32];
	int err = mq_qmp_open(c->qmp, 10000, &c->q);

	if (!err)
		err = mq_qmp_status(c->q, st, sizeof(st));
	if (!err && strcmp(st, "inmigrate"))
		err = mq_fail(EINVAL, "the destination QEMU is '%s': start it with -incoming defer", st);
	/* 'stop' while it waits clears autostart: only our 'cont' runs it. */
	if (!err)
		err = mq_qmp_exec(c->q, "stop", NULL, -1, NULL);
	if (!err)
		err = qemu_ignore_shared(c->q, true);
	if (!err)
		err = mq_layout_discover(c->q, &c->l);
	return err;
}

static void qr_print(const struct qr_ctx *c, const struct migsend_receiver_result *r,
		     int err)
{
	double dt = c->resumed_us && c->hdr.stop_us && c->resumed_us >= c->hdr.stop_us ?
		    (c->resumed_us - c->hdr.stop_us) / 1e3 : -1;

	if (c->json) {
		json_object *w = json_object_new_string(err ? migsend_last_error() : "");

		printf("{\"outcome\":\"%s\",\"passes\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"data_pages\":%" PRIu64 ",\"zero_pages\":%" PRIu64
		       ",\"refused\":%" PRIu64 ",\"state_bytes\":%zu,\"ram_bytes\":%" PRIu64,
		       c->resumed ? "running" : !err && c->loaded ? "paused" :
		       err == -ENOTCONN ? "unknown" : "failed",
		       r->passes, r->bytes, r->data_pages, r->zero_pages, r->refused,
		       r->state_len, mq_layout_bytes(&c->l));
		if (dt >= 0)
			printf(",\"guest_downtime_ms\":%.3f", dt);
		if (c->resumed_us)
			printf(",\"resumed_us\":%" PRIu64, c->resumed_us);
		if (err)
			printf(",\"error\":%s", json_object_to_json_string(w));
		printf("}\n");
		json_object_put(w);
		return;
	}
	if (err)
		return;
	printf("migration complete: %" PRIu64 " passes, %.1f MiB received into %.1f MiB of QEMU's RAM, %zu bytes of device state\n",
	       r->passes, mib(r->bytes), mib(mq_layout_bytes(&c->l)), r->state_len);
	if (c->resumed) {
		printf("the guest runs here");
		if (dt >= 0)
			printf("; downtime as the guest saw it: %.1f ms (STOP on the source to RESUME here, by the two QEMUs' clocks)",
			       dt);
		printf("\n");
	} else if (c->cont_error[0]) {
		printf("the guest could not be resumed: %s\n", c->cont_error);
	} else {
		printf("the guest was paused on the source: it stays paused here\n");
	}
}

static int qr_parse(int argc, char **argv, struct qr_ctx *c,
		    struct migsend_receiver_opts *o, char *listen_at, size_t size)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "qemu-qmp", required_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		TLS_OPTIONS,
		{ 0 }
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': snprintf(listen_at, size, "%s", optarg); break;
		case 'q': c->qmp = optarg; break;
		case 'T': o->timeout_ms = strtoul(optarg, NULL, 0) * 1000; break;
		case 'j': c->json = true; break;
		default:
			if (!tls_opts_take(&c->tls, opt, optarg))
				return -1;
			break;
		}
	}
	if (!*listen_at || !c->qmp || optind != argc ||
	    split_addr(listen_at, &o->host, &o->port))
		return -1;
	return 0;
}

/* What the failure means for the guest, and what to do. */
static int qr_failed(struct qr_ctx *c, int err)
{
	char hint[512];

	fprintf(stderr, "migsend recv: %s\n", migsend_last_error());
	if (err == -ENOTCONN && c->loaded) {
		qemu_resume_hint(hint, sizeof(hint), c->qmp);
		fprintf(stderr, "migsend recv: this QEMU holds the complete state (memory and devices) but the source never confirmed the handover: it may still run the guest.  The guest stays paused here.  If the source QEMU is paused and stays so (or is gone), resume the guest here with: %s\n",
			hint);
		return EXIT_LOST;
	}
	fprintf(stderr, "migsend recv: the source keeps the guest; this QEMU's state is incomplete: quit it\n");
	return err == -ETIMEDOUT ? EXIT_TIMEOUT : EXIT_LOST;
}

int cmd_recv_qemu(int argc, char **argv)
{
	struct migsend_receiver_opts o = { .listen_fd = -1, .log = qr_log };
	struct migsend_dest_region d[MQ_MAX_REGIONS];
	struct migsend_receiver_result r;
	struct qr_ctx c = { 0 };
	char listen_at[256] = "";
	unsigned int i;
	int err, code;

	if (want_help(argc, argv)) {
		printf("%s%s%s", qr_usage, tls_usage("recv"), exit_codes_help);
		return EXIT_OK;
	}
	if (qr_parse(argc, argv, &c, &o, listen_at, sizeof(listen_at))) {
		fprintf(stderr, "%s%s", qr_usage, tls_usage("recv"));
		return EXIT_USAGE;
	}
	if (tls_opts_done(&c.tls, "recv", &o.tls))
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	err = qr_setup(&c);
	if (err) {
		fprintf(stderr, "migsend recv: %s\n", mq_error());
		if (c.json) {
			json_object *w = json_object_new_string(mq_error());

			printf("{\"outcome\":\"failed\",\"error\":%s}\n", json_object_to_json_string(w));
			json_object_put(w);
		}
		mq_layout_close(&c.l);
		mq_qmp_close(c.q);
		return EXIT_FAIL;
	}
	for (i = 0; i < c.l.nregions; i++) {
		const struct mq_region *x = &c.l.r[i];
		const struct mq_backend *b = &c.l.b[x->backend];

		d[i] = (struct migsend_dest_region){
			.fd = b->fd, .offset = b->file_offset + x->offset,
			.gpa = x->gpa, .len = x->len,
		};
	}
	o.ready = qr_ready;
	o.confirmed = qr_confirmed;
	o.vmm_ctx = &c;
	err = migsend_receive_into(&o, d, c.l.nregions, &r);
	qr_print(&c, &r, err);
	code = err ? qr_failed(&c, err) : EXIT_OK;
	if (!err || err == -ENOTCONN)
		migsend_receiver_result_free(&r);
	mq_layout_close(&c.l);
	mq_qmp_close(c.q);
	return code;
}
