/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The options 'migsend send' and 'migsend send --qemu-qmp' share
 * (send_opts.c): the destination, the connections, the bandwidth cap, the
 * engine, the pre-copy loop's limits, --json and TLS.
 *
 * A subcommand puts SEND_OPTIONS in its getopt_long() table, hands every
 * option it does not know itself to send_opts_take(), prints its usage with
 * send_opts_print_usage(), and calls send_opts_done() after the options.
 */
#ifndef MIGSEND_CLI_SEND_OPTS_H
#define MIGSEND_CLI_SEND_OPTS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "cli.h"
#include "tls_opts.h"

enum {
	SEND_OPT_TO = 0x7200,
	SEND_OPT_CONNS,
	SEND_OPT_MAX_CONNS,
	SEND_OPT_MAX_BANDWIDTH,
	SEND_OPT_CAP_FINAL_PASS,
	SEND_OPT_ENGINE,
	SEND_OPT_DOWNTIME,
	SEND_OPT_MAX_PASSES,
	SEND_OPT_TIMEOUT,
	SEND_OPT_TIMEOUT_STRATEGY,
	SEND_OPT_NO_ZERO_SKIP,
	SEND_OPT_JSON,
};

#define SEND_OPTIONS \
	{ "to", required_argument, NULL, SEND_OPT_TO }, \
	{ "conns", required_argument, NULL, SEND_OPT_CONNS }, \
	{ "max-conns", required_argument, NULL, SEND_OPT_MAX_CONNS }, \
	{ "max-bandwidth", required_argument, NULL, SEND_OPT_MAX_BANDWIDTH }, \
	{ "cap-final-pass", no_argument, NULL, SEND_OPT_CAP_FINAL_PASS }, \
	{ "engine", required_argument, NULL, SEND_OPT_ENGINE }, \
	{ "downtime-ms", required_argument, NULL, SEND_OPT_DOWNTIME }, \
	{ "max-passes", required_argument, NULL, SEND_OPT_MAX_PASSES }, \
	{ "timeout", required_argument, NULL, SEND_OPT_TIMEOUT }, \
	{ "timeout-strategy", required_argument, NULL, SEND_OPT_TIMEOUT_STRATEGY }, \
	{ "no-zero-skip", no_argument, NULL, SEND_OPT_NO_ZERO_SKIP }, \
	{ "json", no_argument, NULL, SEND_OPT_JSON }, \
	TLS_OPTIONS

struct send_opts {
	const char *host, *port;	/* --to, in to[] */
	char to[256];
	enum migsend_engine engine;
	struct conns_choice conns;
	uint64_t max_bandwidth;		/* bytes/s, 0: none */
	struct migsend_precopy_opts pc;
	bool json;
	struct tls_opts tls;
	const struct migsend_tls_opts *tls_lib;	/* after send_opts_done(): NULL is plaintext */
};

/* @own (the subcommand's own lines), then the shared and the TLS option lines. */
void send_opts_print_usage(FILE *f, const char *own);

/* Defaults, with @engine the subcommand's default engine. */
void send_opts_init(struct send_opts *s, enum migsend_engine engine);
/* 1: @opt was one of SEND_OPTIONS and is taken; 0: not one; -1: malformed. */
int send_opts_take(struct send_opts *s, int opt, const char *arg);
/* After the options: --to given, TLS consistent; -1 with a message otherwise. */
int send_opts_done(struct send_opts *s);

#endif /* MIGSEND_CLI_SEND_OPTS_H */
