// SPDX-License-Identifier: GPL-2.0
/* migsend: the command-line tool. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "libmigsend.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILURE_GENERIC = 1,
	EXIT_USAGE = 2,
	EXIT_NO_MODULE = 3,
};

static void usage(FILE *f)
{
	fputs("usage: migsend <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  version    show the module's interface version and limits\n"
	      "\n"
	      "Run 'migsend <command> --help' for a command's options.\n", f);
}

static int cmd_version(int argc, char **argv)
{
	struct migsend_session *s;
	struct migsend_version v;
	int err;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: migsend version\n\nShow the loaded module's API and wire versions, features and limits.");
		return EXIT_OK;
	}
	err = migsend_session_open(&s, NULL);
	if (err) {
		fprintf(stderr, "migsend: %s\n", migsend_last_error());
		return err == -ENOENT ? EXIT_NO_MODULE : EXIT_FAILURE_GENERIC;
	}
	err = migsend_get_version(s, &v);
	migsend_session_close(s);
	if (err) {
		fprintf(stderr, "migsend: %s\n", migsend_last_error());
		return EXIT_FAILURE_GENERIC;
	}
	printf("api %u, wire %u, features %#llx, max regions %u, max connections %u, page %u\n",
	       v.api_version, v.wire_version, (unsigned long long)v.features,
	       v.max_regions, v.max_conns, v.page_size);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "version"))
		return cmd_version(argc - 1, argv + 1);
	fprintf(stderr, "migsend: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
