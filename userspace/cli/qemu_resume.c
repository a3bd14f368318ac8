// SPDX-License-Identifier: GPL-2.0
/*
 * migsend qemu-resume --qemu-qmp SOCKET: resume a guest that an unfinished
 * handover left paused (the command the other QEMU commands print), after
 * checking that this QEMU holds a whole guest: paused or postmigrate, not
 * waiting for an incoming migration.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "qemu_cli.h"
#include "qmp.h"

static const char qres_usage[] =
	"usage: migsend qemu-resume --qemu-qmp SOCKET\n"
	"\n"
	"Resume the guest of the QEMU behind SOCKET that a cut handover left\n"
	"paused.  Run it on one side only: the side the other one's messages\n"
	"name, once the other side's QEMU is known not to run the guest.\n"
	"\n";

bool has_qemu_option(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--qemu-qmp") || !strncmp(argv[i], "--qemu-qmp=", 11))
			return true;
	return false;
}

int cmd_qemu_resume(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "qemu-qmp", required_argument, NULL, 'q' },
		{ 0 }
	};
	const char *qmp = NULL;
	struct mq_qmp *q = NULL;
	char st[32];
	int opt, err;

	if (want_help(argc, argv)) {
		printf("%s", qres_usage);
		return EXIT_OK;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'q') {
			fprintf(stderr, "%s", qres_usage);
			return EXIT_USAGE;
		}
		qmp = optarg;
	}
	if (!qmp || optind != argc) {
		fprintf(stderr, "%s", qres_usage);
		return EXIT_USAGE;
	}
	err = mq_qmp_open(qmp, 10000, &q);
	if (!err)
		err = mq_qmp_status(q, st, sizeof(st));
	if (!err && strcmp(st, "paused") && strcmp(st, "postmigrate"))
		err = mq_fail(EINVAL, "the guest is '%s', not paused by a migration: nothing done", st);
	if (!err)
		err = mq_qmp_exec(q, "cont", NULL, -1, NULL);
	if (err)
		fprintf(stderr, "migsend: %s\n", mq_error());
	else
		printf("the guest runs (it was %s)\n", st);
	mq_qmp_close(q);
	return err ? EXIT_FAIL : EXIT_OK;
}
