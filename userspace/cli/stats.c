// SPDX-License-Identifier: GPL-2.0
/* migsend stats and monitor: the module's netlink family. */
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

int cmd_stats(int argc, char **argv)
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

int cmd_monitor(int argc, char **argv)
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
