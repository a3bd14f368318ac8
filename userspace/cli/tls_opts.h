/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The TLS options of 'migsend send' and 'migsend recv' (tls_opts.c):
 * encrypted and mutually authenticated by default, plaintext only by
 * explicit choice.
 *
 * A subcommand adds TLS_OPTIONS to its getopt_long() table, hands every
 * option it does not know to tls_opts_take(), appends tls_usage to its
 * usage text, and after the options asks tls_opts_done() for the library's
 * struct migsend_tls_opts (NULL: plaintext).
 */
#ifndef MIGSEND_CLI_TLS_OPTS_H
#define MIGSEND_CLI_TLS_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "libmigsend.h"

/* Credentials used when no TLS option is given (QEMU's is /etc/pki/qemu). */
#define TLS_DEFAULT_CREDS	"/etc/pki/migsend"

enum {
	TLS_OPT_CREDS = 0x7100,
	TLS_OPT_PSK,
	TLS_OPT_NAME,
	TLS_OPT_PRIORITY,
	TLS_OPT_NO_TLS,
};

#define TLS_OPTIONS \
	{ "tls-creds", required_argument, NULL, TLS_OPT_CREDS }, \
	{ "tls-psk", required_argument, NULL, TLS_OPT_PSK }, \
	{ "tls-name", required_argument, NULL, TLS_OPT_NAME }, \
	{ "tls-priority", required_argument, NULL, TLS_OPT_PRIORITY }, \
	{ "no-tls", no_argument, NULL, TLS_OPT_NO_TLS }

struct tls_opts {
	struct migsend_tls_opts lib;
	bool no_tls;
};

/* The option lines of the subcommand @cmd ("send" or "recv"). */
const char *tls_usage(const char *cmd);

/* Take option @opt (a getopt_long() return): true if it is a TLS option. */
bool tls_opts_take(struct tls_opts *t, int opt, const char *arg);

/*
 * After the options: the library's TLS options in *out (NULL for
 * --no-tls).  Without any TLS option, TLS_DEFAULT_CREDS is used when it
 * exists; otherwise, or for a contradiction, a message on stderr and -1.
 */
int tls_opts_done(struct tls_opts *t, const char *cmd,
		  const struct migsend_tls_opts **out);

#endif /* MIGSEND_CLI_TLS_OPTS_H */
