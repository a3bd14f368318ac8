// SPDX-License-Identifier: GPL-2.0
/* migsend send: migrate a guest to a destination. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "send_opts.h"
#include "qemu_cli.h"
#include "sim.h"

/* ----- send --------------------------------------------------------------- */

struct send_ctx {
	struct migsend_session *s;
	bool json;
	bool tty;
	FILE *out;
	pthread_mutex_t lock;
	uint64_t pass_dirty;	/* dirty pages of the running pass */
	double wire_per_page;	/* from the last pass, for the ETA */
	bool stop;
	char passes_json[65536];
	size_t json_len;
};

static void on_pass(void *arg, const struct migsend_precopy_report *r)
{
	struct send_ctx *c = arg;
	const struct migsend_pass_info *i = &r->info;
	double secs = i->elapsed_ns / 1e9, acked = r->acked_ns / 1e9;
	/* The rate the destination saw, where its ACK says when it had all. */
	double rate_secs = acked > 0 ? acked : secs;
	char acked_text[48] = "";

	pthread_mutex_lock(&c->lock);
	if (i->dirty_pages)
		c->wire_per_page = (double)i->wire_bytes / i->dirty_pages;
	if (c->tty)
		fputs("\r\033[K", stderr);
	if (acked > 0)
		snprintf(acked_text, sizeof(acked_text), ", acknowledged after %.3f s", acked);
	if (!c->json)
		fprintf(c->out, "%s %" PRIu64 ": %" PRIu64 " dirty pages, %" PRIu64 " data, %" PRIu64
			" zero; %.1f MiB on the wire in %.3f s%s (%.1f MiB/s)\n",
			r->final ? "final pass" : "pass", i->pass, i->dirty_pages,
			i->data_pages, i->zero_pages, mib(i->wire_bytes), secs, acked_text,
			rate_secs > 0 ? mib(i->wire_bytes) / rate_secs : 0.0);
	if (c->json_len < sizeof(c->passes_json) - 256)
		c->json_len += snprintf(c->passes_json + c->json_len,
					sizeof(c->passes_json) - c->json_len,
					"%s{\"pass\":%" PRIu64 ",\"final\":%s,\"dirty_pages\":%" PRIu64
					",\"data_pages\":%" PRIu64 ",\"zero_pages\":%" PRIu64
					",\"wire_bytes\":%" PRIu64 ",\"seconds\":%.6f"
					",\"acked_seconds\":%.6f}",
					c->json_len ? "," : "", i->pass, r->final ? "true" : "false",
					i->dirty_pages, i->data_pages, i->zero_pages,
					i->wire_bytes, secs, acked);
	fflush(c->out);
	pthread_mutex_unlock(&c->lock);
}

static void on_pass_start(void *arg, uint64_t pass, uint64_t dirty_pages)
{
	struct send_ctx *c = arg;

	(void)pass;
	pthread_mutex_lock(&c->lock);
	c->pass_dirty = dirty_pages;
	pthread_mutex_unlock(&c->lock);
}

/* On a terminal: one line of progress of the running pass, redrawn. */
static void *progress_thread(void *arg)
{
	struct send_ctx *c = arg;
	struct migsend_stats st;

	for (;;) {
		usleep(250 * 1000);
		pthread_mutex_lock(&c->lock);
		if (c->stop) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		if (!migsend_get_stats(c->s, &st, NULL, 0) &&
		    st.state == MIGSEND_STATE_RUNNING && st.last.elapsed_ns) {
			double secs = st.last.elapsed_ns / 1e9;
			double rate = st.last.wire_bytes / secs;
			uint64_t zero = st.last.zero_pages_hole + st.last.zero_pages_scanned;
			uint64_t left = c->pass_dirty > st.last.dirty_pages ?
					c->pass_dirty - st.last.dirty_pages : 0;
			double per_page = c->wire_per_page ? c->wire_per_page : 4096.0;

			fprintf(stderr, "\r\033[Kpass %" PRIu64 ": %.1f MiB, %.1f MiB/s, %.0f%% zero pages, about %.1f s left",
				(uint64_t)st.pass, mib(st.last.wire_bytes), mib((uint64_t)rate),
				st.last.dirty_pages ? 100.0 * zero / st.last.dirty_pages : 0.0,
				rate > 0 ? left * per_page / rate : 0.0);
		}
		pthread_mutex_unlock(&c->lock);
	}
}

struct send_args {
	struct send_opts o;
	struct migsend_sim_opts sim;
	bool hash;
};

static const char send_usage[] =
	"usage: migsend send --to HOST:PORT [options]\n"
	"\n"
	"Migrate a simulated guest to a 'migsend recv' destination with the kernel\n"
	"engine: passes repeat until the next is estimated to fit the downtime\n"
	"target, then the guest is paused and the final pass runs.  With\n"
	"--qemu-qmp SOCKET, a running QEMU's guest instead: 'migsend send --qemu-qmp\n"
	"SOCKET --help' and docs/QEMU.md.\n"
	"\n"
	"  --size SIZE             simulated guest memory, e.g. 1G (default 256M)\n"
	"  --zero-ratio R          fraction of zero pages, 0..1 (default 0.5)\n"
	"  --dirty-rate N          pages the guest writes per second (default 0)\n"
	"  --hash                  print the source memory's hash at the end\n"
	"  --engine E              kernel, user-copy, user-zc, user-sendfile, or auto\n"
	"                          (default kernel; auto: user-sendfile without the\n"
	"                          module)\n";

enum { SIM_OPT_SIZE = 1, SIM_OPT_ZERO_RATIO, SIM_OPT_DIRTY_RATE, SIM_OPT_HASH };

static int parse_send(int argc, char **argv, struct send_args *a)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, SIM_OPT_SIZE },
		{ "zero-ratio", required_argument, NULL, SIM_OPT_ZERO_RATIO },
		{ "dirty-rate", required_argument, NULL, SIM_OPT_DIRTY_RATE },
		{ "hash", no_argument, NULL, SIM_OPT_HASH },
		SEND_OPTIONS,
		{ 0 }
	};
	int opt, taken;

	/* The simulated guest has no vCPUs to spare: the kernel's engine. */
	send_opts_init(&a->o, MIGSEND_ENGINE_KERNEL);
	a->sim.size = 256ULL << 20;
	a->sim.zero_ratio = 0.5;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case SIM_OPT_SIZE: if (parse_size(optarg, &a->sim.size)) return -1; break;
		case SIM_OPT_ZERO_RATIO: a->sim.zero_ratio = strtod(optarg, NULL); break;
		case SIM_OPT_DIRTY_RATE: a->sim.dirty_rate = strtoull(optarg, NULL, 0); break;
		case SIM_OPT_HASH: a->hash = true; break;
		default:
			taken = send_opts_take(&a->o, opt, optarg);
			if (taken <= 0)
				return -1;
			break;
		}
	}
	return optind == argc ? 0 : -1;
}

static void print_send_result(struct send_ctx *c, const struct send_args *a,
			      const struct migsend_precopy_result *r, uint64_t hash)
{
	if (a->o.json) {
		printf("{\"engine\":\"%s\",\"passes\":[%s],\"downtime_ms\":%.3f,\"total_seconds\":%.3f,"
		       "\"wire_bytes\":%" PRIu64 ",\"timed_out\":%s",
		       migsend_engine_name(migsend_session_engine(c->s)), c->passes_json, r->downtime_ns / 1e6, r->total_ns / 1e9,
		       r->wire_bytes, r->timed_out ? "true" : "false");
		printf(",");
		conns_json(&a->o.conns, stdout);
		if (a->o.max_bandwidth)
			printf(",\"max_bandwidth\":%" PRIu64, a->o.max_bandwidth);
		if (a->hash)
			printf(",\"hash\":\"%016" PRIx64 "\"", hash);
		printf("}\n");
		return;
	}
	printf("migrated %.1f MiB of guest memory in %" PRIu64 " passes, %.1f MiB on the wire, %.3f s\n",
	       mib(a->sim.size), r->passes, mib(r->wire_bytes), r->total_ns / 1e9);
	printf("downtime: %.1f ms (final pass, device state, destination's confirmation)\n",
	       r->downtime_ns / 1e6);
	if (a->hash)
		printf("source memory hash: %016" PRIx64 "\n", hash);
}

int cmd_send(int argc, char **argv)
{
	struct send_args a = { 0 };
	struct send_ctx c = { .out = stdout };
	struct migsend_sender_opts so = { 0 };
	struct migsend_precopy_result r;
	struct migsend_sender *snd = NULL;
	struct migsend_sim *sim = NULL;
	struct migsend_guest guest;
	static const char state[] = "simulated device state";
	uint64_t hash = 0, off = 0;
	pthread_t progress;
	bool progressing = false;
	int err, code = EXIT_OK, fd;

	if (has_qemu_option(argc, argv))	/* a QEMU guest: qemu_send.c */
		return cmd_send_qemu(argc, argv);
	if (want_help(argc, argv)) {
		send_opts_print_usage(stdout, send_usage);
		printf("%s", exit_codes_help);
		return EXIT_OK;
	}
	if (parse_send(argc, argv, &a)) {
		send_opts_print_usage(stderr, send_usage);
		return EXIT_USAGE;
	}
	if (send_opts_done(&a.o))
		return EXIT_USAGE;
	so.tls = a.o.tls_lib;
	c.json = a.o.json;
	c.tty = isatty(STDERR_FILENO) && !a.o.json;
	pthread_mutex_init(&c.lock, NULL);
	a.o.pc.on_pass = on_pass;
	a.o.pc.on_pass_start = on_pass_start;
	a.o.pc.ctx = &c;
	a.o.pc.state = state;
	a.o.pc.state_len = sizeof(state);
	so.host = a.o.host;
	so.port = a.o.port;
	err = conns_choose(&a.o.conns, a.o.host, cpus_available());
	if (err)
		return fail_exit(err, 1);
	so.nconns = a.o.conns.decision.nconns;
	if (!a.o.json)
		conns_print(&a.o.conns, stdout);

	err = migsend_session_open_engine(&c.s, a.o.engine);
	if (err)
		return fail_exit(err, 0);
	if (a.o.engine == MIGSEND_ENGINE_AUTO && !a.o.json)
		printf("engine: %s\n", migsend_engine_name(migsend_session_engine(c.s)));
	err = migsend_sim_create(&a.sim, &sim);
	if (err) {
		fprintf(stderr, "migsend: cannot create a simulated guest of %" PRIu64 " bytes: %s\n",
			a.sim.size, strerror(-err));
		code = EXIT_FAIL;
		goto out;
	}
	migsend_sim_guest(sim, &guest);
	err = migsend_add_region(c.s, migsend_sim_fd(sim), 0, 0, a.sim.size);
	if (err) {
		code = fail_exit(err, 0);
		goto out;
	}
	/* Set before connecting: each data socket is paced as it is added. */
	err = migsend_set_max_bandwidth(c.s, a.o.max_bandwidth);
	if (!err)
		err = migsend_sender_connect(c.s, &so, &snd);
	if (err) {
		code = fail_exit(err, 1);
		goto out;
	}
	if (c.tty && !pthread_create(&progress, NULL, progress_thread, &c))
		progressing = true;
	err = migsend_precopy_run(snd, &guest, &a.o.pc, &r);
	pthread_mutex_lock(&c.lock);
	c.stop = true;
	pthread_mutex_unlock(&c.lock);
	if (progressing) {
		pthread_join(progress, NULL);
		fputs("\r\033[K", stderr);
	}
	if (err) {
		code = fail_exit(err, 0);
		migsend_sender_abort(snd, -err, migsend_last_error());
		goto out;
	}
	fd = migsend_sim_fd(sim);
	if (a.hash && (err = migsend_hash_memory(&fd, &off, &a.sim.size, 1, &hash))) {
		code = fail_exit(err, 0);
		goto out;
	}
	print_send_result(&c, &a, &r, hash);
out:
	migsend_sender_close(snd);
	migsend_sim_destroy(sim);
	migsend_session_close(c.s);
	return code;
}
