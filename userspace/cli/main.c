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

#include "cli.h"
#include "qemu_cli.h"

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
		"  qemu-resume  resume a QEMU guest a cut handover left paused\n"
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
		{ "qemu-resume", cmd_qemu_resume },
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
