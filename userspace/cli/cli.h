/* SPDX-License-Identifier: GPL-2.0 */
/* The migsend command-line tool: what its subcommands share. */
#ifndef MIGSEND_CLI_H
#define MIGSEND_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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

extern const char exit_codes_help[];

/* Print the library's last error and map @err (negative errno) to an exit code. */
int fail_exit(int err, int connecting);
/* Whether -h or --help is among the arguments. */
bool want_help(int argc, char **argv);
/* "1G", "512M", "4096": bytes; -1 when malformed or zero. */
int parse_size(const char *s, uint64_t *out);
/* "host:port", "[v6]:port" or ":port" / "port" (any host), in place. */
int split_addr(char *s, const char **host, const char **port);
double mib(uint64_t bytes);

/* policy.c: --conns auto|parallel|N, --max-conns. */
struct conns_choice {
	enum migsend_conns_policy policy;
	unsigned int custom;		/* CUSTOM: the number given */
	unsigned int max_conns;
	unsigned int cpus;		/* the guest's (vCPUs, or the sender's) */
	struct migsend_link link;	/* the route's interface and speed */
	struct migsend_conns_decision decision;
};

void conns_choice_init(struct conns_choice *c);
int conns_choice_parse(struct conns_choice *c, const char *arg);
/* CPUs this process may run on: the simulated guest's "vCPUs". */
unsigned int cpus_available(void);
/* Decide c->decision.nconns for @host; -errno with the library's message. */
int conns_choose(struct conns_choice *c, const char *host, unsigned int cpus);
void conns_print(const struct conns_choice *c, FILE *f);
/* "conns":{...} for a JSON object. */
void conns_json(const struct conns_choice *c, FILE *f);

/* The subcommands. */
int cmd_send(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_monitor(int argc, char **argv);

#endif /* MIGSEND_CLI_H */
