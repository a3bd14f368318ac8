// SPDX-License-Identifier: GPL-2.0
/* The options of 'migsend send' with and without --qemu-qmp (send_opts.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "send_opts.h"

static const char send_opts_usage[] =
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
	"  --downtime-ms MS        downtime target (default 300)\n"
	"  --max-passes N          passes before the final one is forced (default 30)\n"
	"  --timeout S             give up converging after S seconds (default none)\n"
	"  --timeout-strategy cancel|proceed\n"
	"                          on timeout: cancel the migration, or run the\n"
	"                          final pass anyway (default cancel)\n"
	"  --no-zero-skip          send zero pages as data\n"
	"  --json                  one JSON object on stdout instead of text\n";

void send_opts_print_usage(FILE *f, const char *own)
{
	fprintf(f, "%s%s\n%s", own, send_opts_usage, tls_usage("send"));
}

void send_opts_init(struct send_opts *s, enum migsend_engine engine)
{
	conns_choice_init(&s->conns);
	s->engine = engine;
	s->pc.pass_flags = MIGSEND_PASS_SKIP_ZERO;
}

static int parse_strategy(const char *arg, enum migsend_timeout_strategy *out)
{
	if (!strcmp(arg, "cancel"))
		*out = MIGSEND_TIMEOUT_CANCEL;
	else if (!strcmp(arg, "proceed"))
		*out = MIGSEND_TIMEOUT_PROCEED;
	else
		return -1;
	return 0;
}

static int parse_max_conns(const char *arg, unsigned int *out)
{
	*out = strtoul(arg, NULL, 0);
	return *out && *out <= MIGSEND_MAX_CONNS ? 0 : -1;
}

int send_opts_take(struct send_opts *s, int opt, const char *arg)
{
	int err = 0;

	switch (opt) {
	case SEND_OPT_TO:
		snprintf(s->to, sizeof(s->to), "%s", arg);
		err = split_addr(s->to, &s->host, &s->port) || !s->host ? -1 : 0;
		break;
	case SEND_OPT_CONNS: err = conns_choice_parse(&s->conns, arg); break;
	case SEND_OPT_MAX_CONNS: err = parse_max_conns(arg, &s->conns.max_conns); break;
	case SEND_OPT_MAX_BANDWIDTH: err = migsend_parse_rate(arg, &s->max_bandwidth); break;
	case SEND_OPT_CAP_FINAL_PASS: s->pc.cap_final_pass = true; break;
	case SEND_OPT_ENGINE: err = migsend_engine_parse(arg, &s->engine); break;
	case SEND_OPT_DOWNTIME: s->pc.downtime_ms = strtoull(arg, NULL, 0); break;
	case SEND_OPT_MAX_PASSES: s->pc.max_passes = strtoul(arg, NULL, 0); break;
	case SEND_OPT_TIMEOUT: s->pc.timeout_ms = strtoull(arg, NULL, 0) * 1000; break;
	case SEND_OPT_TIMEOUT_STRATEGY: err = parse_strategy(arg, &s->pc.timeout_strategy); break;
	case SEND_OPT_NO_ZERO_SKIP: s->pc.pass_flags &= ~MIGSEND_PASS_SKIP_ZERO; break;
	case SEND_OPT_JSON: s->json = true; break;
	default: return tls_opts_take(&s->tls, opt, arg) ? 1 : 0;
	}
	return err ? -1 : 1;
}

int send_opts_done(struct send_opts *s)
{
	if (!s->host || !s->port) {
		fprintf(stderr, "migsend send: --to HOST:PORT is required\n");
		return -1;
	}
	return tls_opts_done(&s->tls, "send", &s->tls_lib);
}
