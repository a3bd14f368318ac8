// SPDX-License-Identifier: GPL-2.0
/* migsend recv: receive one migration. */
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

int cmd_recv(int argc, char **argv)
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
