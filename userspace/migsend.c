// SPDX-License-Identifier: GPL-2.0
/*
 * migsend: the command-line tool.
 *
 *   migsend send     migrate (a simulated guest) to a destination
 *   migsend recv     receive one migration
 *   migsend stats    the live sessions, from the module's netlink family
 *   migsend monitor  the module's events as they happen
 *   migsend version  the loaded module's interface
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libmigsend.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* anything not below */
	EXIT_USAGE = 2,
	EXIT_NO_MODULE = 3,	/* /dev/migsend or the netlink family missing */
	EXIT_UNREACHABLE = 4,	/* destination unreachable */
	EXIT_REFUSED = 5,	/* token or handshake refused */
	EXIT_LOST = 6,		/* connection lost or migration aborted */
	EXIT_TIMEOUT = 7,	/* did not converge in time (strategy cancel) */
};

static const char exit_codes_help[] =
	"exit status: 0 success, 1 failure, 2 usage, 3 module not loaded,\n"
	"4 destination unreachable, 5 refused by the destination (token, handshake),\n"
	"6 connection lost or migration aborted, 7 timed out (--timeout-strategy cancel)\n";

static int fail_exit(int err, int connecting)
{
	fprintf(stderr, "migsend: %s\n", migsend_last_error());
	switch (-err) {
	case ENOENT:
		return EXIT_NO_MODULE;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNREFUSED:
		return EXIT_UNREACHABLE;
	case ETIMEDOUT:
		return connecting ? EXIT_UNREACHABLE : EXIT_TIMEOUT;
	case EACCES:
	case EPROTO:
		return connecting ? EXIT_REFUSED : EXIT_FAIL;
	case ECONNABORTED:
	case ECONNRESET:
	case EPIPE:
		return EXIT_LOST;
	default:
		return EXIT_FAIL;
	}
}

static bool want_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* "1G", "512M", "4096": bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': case 'g': v <<= 30; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'K': case 'k': v <<= 10; end++; break;
	default: break;
	}
	if (*end || !v)
		return -1;
	*out = v;
	return 0;
}

/* "host:port", "[v6]:port" or ":port" / "port" (any host). */
static int split_addr(char *s, const char **host, const char **port)
{
	char *colon = strrchr(s, ':');

	if (!colon) {
		*host = NULL;
		*port = s;
		return 0;
	}
	*colon = 0;
	*port = colon + 1;
	*host = *s ? s : NULL;
	if (*host && **host == '[' && colon[-1] == ']') {
		colon[-1] = 0;
		(*host)++;
	}
	return **port ? 0 : -1;
}

static double mib(uint64_t bytes)
{
	return bytes / 1048576.0;
}

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
	unsigned int conns;
	struct migsend_sim_opts sim;
	struct migsend_precopy_opts pc;
	bool json, hash;
};

static const char send_usage[] =
	"usage: migsend send --to HOST:PORT [options]\n"
	"\n"
	"Migrate a simulated guest to a 'migsend recv' destination with the kernel\n"
	"engine: passes repeat until the next is estimated to fit the downtime\n"
	"target, then the guest is paused and the final pass runs.\n"
	"\n"
	"  --to HOST:PORT          destination (required)\n"
	"  --conns N               data connections (default 4, 1..128)\n"
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
		{ 0 }
	};
	static char to[256];
	int opt;

	a->conns = 4;
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
		case 'c': a->conns = strtoul(optarg, NULL, 0); break;
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
		default: return -1;
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

static int cmd_send(int argc, char **argv)
{
	struct send_args a = { 0 };
	struct send_ctx c = { .out = stdout };
	struct migsend_sender_opts so = { 0 };
	struct migsend_precopy_result r;
	struct migsend_sender *snd = NULL;
	struct migsend_sim *sim = NULL;
	static const char state[] = "simulated device state";
	uint64_t hash = 0, off = 0;
	pthread_t progress;
	bool progressing = false;
	int err, code = EXIT_OK, fd;

	if (want_help(argc, argv)) {
		printf("%s%s", send_usage, exit_codes_help);
		return EXIT_OK;
	}
	if (parse_send(argc, argv, &a)) {
		fprintf(stderr, "%s", send_usage);
		return EXIT_USAGE;
	}
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
	so.nconns = a.conns;

	err = migsend_session_open_engine(&c.s, a.engine);
	if (err)
		return fail_exit(err, 0);
	if (a.engine == MIGSEND_ENGINE_AUTO && !a.json)
		printf("engine: %s\n", migsend_engine_name(migsend_session_engine(c.s)));
	err = migsend_sim_create(&a.sim, &sim);
	if (!err)
		err = migsend_add_region(c.s, migsend_sim_fd(sim), 0, 0, a.sim.size);
	if (err) {
		code = fail_exit(err, 0);
		goto out;
	}
	err = migsend_sender_connect(c.s, &so, &snd);
	if (err) {
		code = fail_exit(err, 1);
		goto out;
	}
	if (c.tty && !pthread_create(&progress, NULL, progress_thread, &c))
		progressing = true;
	err = migsend_precopy_run(snd, sim, &a.pc, &r);
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

/* ----- recv --------------------------------------------------------------- */

static const char recv_usage[] =
	"usage: migsend recv --listen [HOST:]PORT [options]\n"
	"\n"
	"Receive one migration into memfds of this process, and report it.\n"
	"Connections that do not carry the migration's token are refused and logged.\n"
	"\n"
	"  --listen [HOST:]PORT    where to listen (required)\n"
	"  --timeout S             wait at most S seconds for the source (default 60)\n"
	"  --hash                  print the hash of all received memory\n"
	"  --prealloc              allocate all memory at the handshake\n"
	"  --json                  one JSON object on stdout instead of text\n"
	"\n";

static void log_stderr(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "migsend recv: %s\n", line);
}

static int cmd_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "hash", no_argument, NULL, 'H' },
		{ "prealloc", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct migsend_receiver_opts o = { .listen_fd = -1, .log = log_stderr };
	struct migsend_receiver_result r;
	char listen_at[256] = "";
	bool json = false;
	int opt, err;

	if (want_help(argc, argv)) {
		printf("%s%s", recv_usage, exit_codes_help);
		return EXIT_OK;
	}
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': snprintf(listen_at, sizeof(listen_at), "%s", optarg); break;
		case 'T': o.timeout_ms = strtoul(optarg, NULL, 0) * 1000; break;
		case 'H': o.hash = true; break;
		case 'P': o.prealloc = true; break;
		case 'j': json = true; break;
		default: fprintf(stderr, "%s", recv_usage); return EXIT_USAGE;
		}
	}
	if (!*listen_at || optind != argc || split_addr(listen_at, &o.host, &o.port)) {
		fprintf(stderr, "%s", recv_usage);
		return EXIT_USAGE;
	}
	err = migsend_receive(&o, &r);
	if (err) {
		fprintf(stderr, "migsend recv: %s\n", migsend_last_error());
		return err == -ETIMEDOUT ? EXIT_TIMEOUT : EXIT_LOST;
	}
	if (json) {
		printf("{\"passes\":%" PRIu64 ",\"last_pass\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"data_pages\":%" PRIu64 ",\"zero_pages\":%" PRIu64
		       ",\"refused\":%" PRIu64 ",\"state_bytes\":%zu",
		       r.passes, r.last_pass, r.bytes, r.data_pages, r.zero_pages,
		       r.refused, r.state_len);
		if (o.hash)
			printf(",\"hash\":\"%016" PRIx64 "\"", r.hash);
		printf("}\n");
	} else {
		printf("migration complete: %" PRIu64 " passes, %.1f MiB received, %zu bytes of device state, %" PRIu64 " connections refused\n",
		       r.passes, mib(r.bytes), r.state_len, r.refused);
		if (o.hash)
			printf("destination memory hash: %016" PRIx64 "\n", r.hash);
	}
	migsend_receiver_result_free(&r);
	return EXIT_OK;
}

/* ----- stats, monitor, version ------------------------------------------- */

static const char *state_name(uint32_t state)
{
	static const char *const names[] = {
		"idle", "running", "done", "failed", "cancelled",
	};

	return state < 5 ? names[state] : "unknown";
}

static void print_session(void *ctx, const struct migsend_nl_session *s)
{
	bool json = *(bool *)ctx;

	if (json) {
		printf("%s{\"session\":%u,\"pid\":%u,\"pass\":%" PRIu64 ",\"state\":\"%s\","
		       "\"error\":%u,\"regions\":%u,\"connections\":%u,"
		       "\"last\":{\"dirty_pages\":%" PRIu64 ",\"data_pages\":%" PRIu64
		       ",\"zero_pages\":%" PRIu64 ",\"wire_bytes\":%" PRIu64 "},"
		       "\"total\":{\"wire_bytes\":%" PRIu64 ",\"errors\":%" PRIu64 "}}",
		       s->id ? "," : "", s->id, s->pid, s->pass, state_name(s->state),
		       s->error, s->nregions, s->nconns, (uint64_t)s->last.dirty_pages,
		       (uint64_t)s->last.data_pages,
		       (uint64_t)(s->last.zero_pages_hole + s->last.zero_pages_scanned),
		       (uint64_t)s->last.wire_bytes, (uint64_t)s->total.wire_bytes,
		       (uint64_t)s->total.errors);
		return;
	}
	printf("session %u pid %u: pass %" PRIu64 " %s%s%s, %u regions, %u connections, last pass %.1f MiB on the wire, total %.1f MiB, %" PRIu64 " failed passes\n",
	       s->id, s->pid, s->pass, state_name(s->state),
	       s->error ? " " : "", s->error ? strerror(s->error) : "",
	       s->nregions, s->nconns, mib(s->last.wire_bytes),
	       mib(s->total.wire_bytes), (uint64_t)s->total.errors);
}

static int cmd_stats(int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	int n;

	if (want_help(argc, argv)) {
		printf("usage: migsend stats [--json]\n\nThe live migsend sessions, read from the module's netlink family.\n\n%s",
		       exit_codes_help);
		return EXIT_OK;
	}
	if (json)
		printf("[");
	n = migsend_nl_dump(print_session, &json);
	if (json)
		printf("]\n");
	if (n < 0)
		return fail_exit(n, 0);
	if (!json && !n)
		printf("no migsend session\n");
	return EXIT_OK;
}

static const char *event_name(uint32_t e)
{
	switch (e) {
	case MIGSEND_EVENT_PASS_DONE: return "pass-done";
	case MIGSEND_EVENT_CONN_DEAD: return "connection-dead";
	case MIGSEND_EVENT_SESSION_CLOSED: return "session-closed";
	default: return "unknown";
	}
}

static int print_event(void *ctx, const struct migsend_nl_event *e)
{
	(void)ctx;
	printf("%s session %u pid %u", event_name(e->event), e->session, e->pid);
	if (e->event == MIGSEND_EVENT_PASS_DONE)
		printf(" pass %" PRIu64 " %s wire_bytes %" PRIu64, e->pass,
		       state_name(e->state), e->wire_bytes);
	if (e->event == MIGSEND_EVENT_CONN_DEAD)
		printf(" connection %d", e->conn);
	if (e->error)
		printf(" error %s", strerror(e->error));
	printf("\n");
	fflush(stdout);
	return 0;
}

static int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'T' },
		{ 0 }
	};
	unsigned int count = 0;
	int timeout_ms = -1, opt, n;

	if (want_help(argc, argv)) {
		printf("usage: migsend monitor [--count N] [--timeout S]\n\nPrint the module's events (pass-done, connection-dead, session-closed)\nas they happen; stop after N events or S seconds without one.\n\n%s",
		       exit_codes_help);
		return EXIT_OK;
	}
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': count = strtoul(optarg, NULL, 0); break;
		case 'T': timeout_ms = strtoul(optarg, NULL, 0) * 1000; break;
		default: return EXIT_USAGE;
		}
	}
	n = migsend_nl_monitor(print_event, NULL, count, timeout_ms);
	return n < 0 ? fail_exit(n, 0) : EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
	struct migsend_session *s;
	struct migsend_version v;
	int err;

	if (want_help(argc, argv)) {
		printf("usage: migsend version\n\nShow the loaded module's API and wire versions, features and limits.\n");
		return EXIT_OK;
	}
	err = migsend_session_open(&s, NULL);
	if (err)
		return fail_exit(err, 0);
	err = migsend_get_version(s, &v);
	migsend_session_close(s);
	if (err)
		return fail_exit(err, 0);
	printf("api %u, wire %u, features %#llx, max regions %u, max connections %u, page %u\n",
	       v.api_version, v.wire_version, (unsigned long long)v.features,
	       v.max_regions, v.max_conns, v.page_size);
	return EXIT_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: migsend <command> [options]\n"
		"\n"
		"commands:\n"
		"  send       migrate a (simulated) guest to a destination\n"
		"  recv       receive one migration\n"
		"  stats      show the live migsend sessions\n"
		"  monitor    print the module's events\n"
		"  version    show the module's interface version and limits\n"
		"\n"
		"Run 'migsend <command> --help' for a command's options.\n\n%s",
		exit_codes_help);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "send", cmd_send }, { "recv", cmd_recv }, { "stats", cmd_stats },
		{ "monitor", cmd_monitor }, { "version", cmd_version },
	};
	unsigned int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "migsend: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
