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
#include "tls_opts.h"
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
	enum migsend_engine engine;
	const char *host, *port;
	struct conns_choice conns;
	uint64_t max_bandwidth;		/* bytes/s, 0: none */
	struct migsend_sim_opts sim;
	struct migsend_precopy_opts pc;
	bool json, hash;
	struct tls_opts tls;
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
	"  --to HOST:PORT          destination (required)\n"
	"  --conns auto|parallel|N data connections: N (1..128), or computed from the\n"
	"                          speed of the link the route to HOST uses: one per\n"
	"                          10 Gbit/s, at most the guest's CPUs, at least 2\n"
	"                          (parallel); auto: 1 where that is below 2\n"
	"                          (default auto)\n"
	"  --max-conns N           the most --conns auto|parallel picks (default 16)\n"
	"  --max-bandwidth RATE    cap the migration at RATE (e.g. 40M, 40MB/s,\n"
	"                          320Mbit/s), paced per connection by the kernel;\n"
	"                          lifted for the final pass (default: no cap)\n"
	"  --cap-final-pass        keep --max-bandwidth for the final pass too\n"
	"  --size SIZE             simulated guest memory, e.g. 1G (default 256M)\n"
	"  --zero-ratio R          fraction of zero pages, 0..1 (default 0.5)\n"
	"  --dirty-rate N          pages the guest writes per second (default 0)\n"
	"  --downtime-ms MS        downtime target (default 300)\n"
	"  --max-passes N          passes before the final one is forced (default 30)\n"
	"  --timeout S             give up converging after S seconds (default none)\n"
	"  --timeout-strategy cancel|proceed\n"
	"                          on timeout: cancel the migration, or run the\n"
	"                          final pass anyway (default cancel)\n"
	"  --no-zero-skip          send zero pages as data\n"
	"  --engine E              kernel, user-copy, user-zc, user-sendfile, or auto\n"
	"                          (kernel; user-sendfile without the module)\n"
	"  --hash                  print the source memory's hash at the end\n"
	"  --json                  one JSON object on stdout instead of text\n"
	"\n";

static int parse_send(int argc, char **argv, struct send_args *a)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "conns", required_argument, NULL, 'c' },
		{ "max-conns", required_argument, NULL, 'C' },
		{ "max-bandwidth", required_argument, NULL, 'B' },
		{ "cap-final-pass", no_argument, NULL, 'F' },
		{ "size", required_argument, NULL, 's' },
		{ "zero-ratio", required_argument, NULL, 'z' },
		{ "dirty-rate", required_argument, NULL, 'r' },
		{ "downtime-ms", required_argument, NULL, 'd' },
		{ "max-passes", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "timeout-strategy", required_argument, NULL, 'S' },
		{ "no-zero-skip", no_argument, NULL, 'Z' },
		{ "engine", required_argument, NULL, 'E' },
		{ "hash", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		TLS_OPTIONS,
		{ 0 }
	};
	static char to[256];
	int opt;

	conns_choice_init(&a->conns);
	a->engine = MIGSEND_ENGINE_KERNEL;
	a->sim.size = 256ULL << 20;
	a->sim.zero_ratio = 0.5;
	a->pc.pass_flags = MIGSEND_PASS_SKIP_ZERO;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			snprintf(to, sizeof(to), "%s", optarg);
			if (split_addr(to, &a->host, &a->port) || !a->host)
				return -1;
			break;
		case 'c': if (conns_choice_parse(&a->conns, optarg)) return -1; break;
		case 'C':
			a->conns.max_conns = strtoul(optarg, NULL, 0);
			if (!a->conns.max_conns || a->conns.max_conns > MIGSEND_MAX_CONNS)
				return -1;
			break;
		case 'B': if (migsend_parse_rate(optarg, &a->max_bandwidth)) return -1; break;
		case 'F': a->pc.cap_final_pass = true; break;
		case 's': if (parse_size(optarg, &a->sim.size)) return -1; break;
		case 'z': a->sim.zero_ratio = strtod(optarg, NULL); break;
		case 'r': a->sim.dirty_rate = strtoull(optarg, NULL, 0); break;
		case 'd': a->pc.downtime_ms = strtoull(optarg, NULL, 0); break;
		case 'm': a->pc.max_passes = strtoul(optarg, NULL, 0); break;
		case 'T': a->pc.timeout_ms = strtoull(optarg, NULL, 0) * 1000; break;
		case 'S':
			if (!strcmp(optarg, "cancel"))
				a->pc.timeout_strategy = MIGSEND_TIMEOUT_CANCEL;
			else if (!strcmp(optarg, "proceed"))
				a->pc.timeout_strategy = MIGSEND_TIMEOUT_PROCEED;
			else
				return -1;
			break;
		case 'Z': a->pc.pass_flags &= ~MIGSEND_PASS_SKIP_ZERO; break;
		case 'E': if (migsend_engine_parse(optarg, &a->engine)) return -1; break;
		case 'H': a->hash = true; break;
		case 'j': a->json = true; break;
		default: if (!tls_opts_take(&a->tls, opt, optarg)) return -1; break;
		}
	}
	return a->host && a->port && optind == argc ? 0 : -1;
}

static void print_send_result(struct send_ctx *c, const struct send_args *a,
			      const struct migsend_precopy_result *r, uint64_t hash)
{
	if (a->json) {
		printf("{\"engine\":\"%s\",\"passes\":[%s],\"downtime_ms\":%.3f,\"total_seconds\":%.3f,"
		       "\"wire_bytes\":%" PRIu64 ",\"timed_out\":%s",
		       migsend_engine_name(migsend_session_engine(c->s)), c->passes_json, r->downtime_ns / 1e6, r->total_ns / 1e9,
		       r->wire_bytes, r->timed_out ? "true" : "false");
		printf(",");
		conns_json(&a->conns, stdout);
		if (a->max_bandwidth)
			printf(",\"max_bandwidth\":%" PRIu64, a->max_bandwidth);
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
		printf("%s%s%s", send_usage, tls_usage("send"), exit_codes_help);
		return EXIT_OK;
	}
	if (parse_send(argc, argv, &a)) {
		fprintf(stderr, "%s%s", send_usage, tls_usage("send"));
		return EXIT_USAGE;
	}
	if (tls_opts_done(&a.tls, "send", &so.tls))
		return EXIT_USAGE;
	c.json = a.json;
	c.tty = isatty(STDERR_FILENO) && !a.json;
	pthread_mutex_init(&c.lock, NULL);
	a.pc.on_pass = on_pass;
	a.pc.on_pass_start = on_pass_start;
	a.pc.ctx = &c;
	a.pc.state = state;
	a.pc.state_len = sizeof(state);
	so.host = a.host;
	so.port = a.port;
	err = conns_choose(&a.conns, a.host, cpus_available());
	if (err)
		return fail_exit(err, 1);
	so.nconns = a.conns.decision.nconns;
	if (!a.json)
		conns_print(&a.conns, stdout);

	err = migsend_session_open_engine(&c.s, a.engine);
	if (err)
		return fail_exit(err, 0);
	if (a.engine == MIGSEND_ENGINE_AUTO && !a.json)
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
	err = migsend_set_max_bandwidth(c.s, a.max_bandwidth);
	if (!err)
		err = migsend_sender_connect(c.s, &so, &snd);
	if (err) {
		code = fail_exit(err, 1);
		goto out;
	}
	if (c.tty && !pthread_create(&progress, NULL, progress_thread, &c))
		progressing = true;
	err = migsend_precopy_run(snd, &guest, &a.pc, &r);
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
