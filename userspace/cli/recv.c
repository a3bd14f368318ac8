// SPDX-License-Identifier: GPL-2.0
/* migsend recv: receive one migration. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tls_opts.h"
#include "qemu_cli.h"

/* ----- recv --------------------------------------------------------------- */

static const char recv_usage[] =
	"usage: migsend recv --listen [HOST:]PORT [options]\n"
	"\n"
	"Receive one migration into memfds of this process (or into files with\n"
	"--into), and report it.  Connections that do not carry the migration's\n"
	"token are refused and logged.\n"
	"\n"
	"  --listen [HOST:]PORT    where to listen (required)\n"
	"  --timeout S             give up when the source is silent for S seconds,\n"
	"                          at any phase (default 60)\n"
	"  --max-memory SIZE       refuse a source announcing more memory (default:\n"
	"                          this machine's RAM)\n"
	"  --into FILE@GPA[:OFFSET[:LEN]]\n"
	"                          receive guest-physical GPA.. into FILE (tmpfs or\n"
	"                          hugetlbfs) from byte OFFSET (default 0), LEN bytes\n"
	"                          (default: the rest of the file); repeat for each\n"
	"                          region: the source's layout must match exactly\n"
	"  --hash                  print the hash of all received memory\n"
	"  --prealloc              allocate all memory at the handshake\n"
	"  --json                  one JSON object on stdout instead of text\n"
	"\n";

/* A number, with an optional K, M, G or T suffix; 0 is allowed. */
static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	char *e;

	errno = 0;
	*out = strtoull(s, &e, 0);
	if (e == s || errno)
		return -1;
	switch (*e) {
	case 'T': *out <<= 10; /* fall through */
	case 'G': *out <<= 10; /* fall through */
	case 'M': *out <<= 10; /* fall through */
	case 'K': *out <<= 10; e++; break;
	}
	*end = e;
	return 0;
}

static void close_into(struct migsend_dest_region *d, unsigned int n)
{
	while (n--)
		close(d[n].fd);
}

/* FILE@GPA[:OFFSET[:LEN]] */
static int parse_into(const char *arg, struct migsend_dest_region *d)
{
	const char *at = strrchr(arg, '@'), *p;
	char path[4096];
	struct stat st;

	memset(d, 0, sizeof(*d));
	if (!at || at == arg || (size_t)(at - arg) >= sizeof(path) ||
	    parse_u64(at + 1, &d->gpa, &p) ||
	    (*p == ':' && parse_u64(p + 1, &d->offset, &p)) ||
	    (*p == ':' && parse_u64(p + 1, &d->len, &p)) || *p) {
		fprintf(stderr, "migsend recv: --into %s: expected FILE@GPA[:OFFSET[:LEN]]\n", arg);
		return -1;
	}
	snprintf(path, sizeof(path), "%.*s", (int)(at - arg), arg);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0 || fstat(d->fd, &st)) {
		fprintf(stderr, "migsend recv: --into %s: %s\n", path, strerror(errno));
		if (d->fd >= 0)
			close(d->fd);
		return -1;
	}
	if (!d->len && (uint64_t)st.st_size > d->offset)
		d->len = st.st_size - d->offset;
	return 0;
}

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
		{ "max-memory", required_argument, NULL, 'M' },
		{ "into", required_argument, NULL, 'i' },
		TLS_OPTIONS,
		{ 0 }
	};
	struct migsend_receiver_opts o = { .listen_fd = -1, .log = log_stderr };
	struct tls_opts tls = { 0 };
	struct migsend_receiver_result r;
	struct migsend_dest_region into[MIGSEND_MAX_REGIONS];
	unsigned int ninto = 0;
	char listen_at[256] = "";
	bool json = false;
	int opt, err;

	if (has_qemu_option(argc, argv))	/* into a QEMU: docs/QEMU.md */
		return cmd_recv_qemu(argc, argv);
	if (want_help(argc, argv)) {
		printf("%s%s%s", recv_usage, tls_usage("recv"), exit_codes_help);
		return EXIT_OK;
	}
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': snprintf(listen_at, sizeof(listen_at), "%s", optarg); break;
		case 'T': o.timeout_ms = strtoul(optarg, NULL, 0) * 1000; break;
		case 'H': o.hash = true; break;
		case 'P': o.prealloc = true; break;
		case 'j': json = true; break;
		case 'M':
			if (parse_size(optarg, &o.max_memory)) {
				fprintf(stderr, "migsend recv: bad --max-memory %s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			if (ninto == MIGSEND_MAX_REGIONS ||
			    parse_into(optarg, &into[ninto])) {
				close_into(into, ninto);
				return EXIT_USAGE;
			}
			ninto++;
			break;
		default:
			if (tls_opts_take(&tls, opt, optarg))
				break;
			fprintf(stderr, "%s", recv_usage);
			return EXIT_USAGE;
		}
	}
	if (tls_opts_done(&tls, "recv", &o.tls)) {
		close_into(into, ninto);
		return EXIT_USAGE;
	}
	if (!*listen_at || optind != argc || split_addr(listen_at, &o.host, &o.port)) {
		fprintf(stderr, "%s", recv_usage);
		return EXIT_USAGE;
	}
	err = ninto ? migsend_receive_into(&o, into, ninto, &r) : migsend_receive(&o, &r);
	close_into(into, ninto);
	if (err == -ENOTCONN) {
		/* Everything arrived, the handover is unconfirmed: say so, keep nothing running. */
		fprintf(stderr, "migsend recv: %s\n", migsend_last_error());
		migsend_receiver_result_free(&r);
		return EXIT_LOST;
	}
	if (err) {
		fprintf(stderr, "migsend recv: %s\n", migsend_last_error());
		return err == -ETIMEDOUT ? EXIT_TIMEOUT : err == -EFBIG || err == -EINVAL ?
		       EXIT_REFUSED : EXIT_LOST;
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
