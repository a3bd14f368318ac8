// SPDX-License-Identifier: GPL-2.0
/* The migsend CLI: exit codes, argument parsing shared by the subcommands. */
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

const char exit_codes_help[] =
	"exit status: 0 success, 1 failure, 2 usage, 3 module not loaded,\n"
	"4 destination unreachable, 5 refused by the destination (token, handshake),\n"
	"6 connection lost or migration aborted, 7 timed out (--timeout-strategy cancel)\n";

int fail_exit(int err, int connecting)
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

bool want_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* "1G", "512M", "4096": bytes. */
int parse_size(const char *s, uint64_t *out)
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
int split_addr(char *s, const char **host, const char **port)
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

double mib(uint64_t bytes)
{
	return bytes / 1048576.0;
}
