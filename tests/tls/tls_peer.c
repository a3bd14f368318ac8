// SPDX-License-Identifier: GPL-2.0
/*
 * One end of a TLS connection made with libmigsend's TLS code (tls.c), for
 * tls_test.sh: the handshake, kTLS in both directions, then bytes each way
 * whose contents both ends check, then close_notify.  Or, with --plain,
 * the plaintext migsend peer that a TLS side must refuse; or, with --line,
 * one text line for a stock peer (openssl s_client / s_server -rev).
 *
 *   tls_peer serve ADDR PORT [options]     accept one connection
 *   tls_peer connect ADDR PORT [options]
 *     --creds DIR | --psk FILE | --plain   credentials (QEMU's layout) or none
 *     --name NAME         the peer's identity (--tls-name)
 *     --priority STRING   a GnuTLS priority string
 *     --user-tx           connect: send through GnuTLS (user-copy's way)
 *     --bytes N           bytes each way (default 4 MiB)
 *     --line              one line: serve replies "migsend:LINE", connect
 *                         expects the line reversed back (s_server -rev)
 *     --hold-ms N         serve: after the data, wait N ms before reading
 *     --join              connect: after the handshake send a JOIN whose
 *                         token is all zero, print the answer (the
 *                         destination's refusal, inside TLS)
 *
 * Prints "ok: ..." and exits 0, or "error: <the library's message>" and
 * exits 1 (2 for a wrong byte: a TLS failure must never be wrong data).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/tls.h>

#include "internal.h"
#include "tls.h"

struct peer {
	bool serve;
	const char *addr, *port;
	struct migsend_tls_opts tls;
	bool plain, user_tx, line, join;
	uint64_t bytes;
	int hold_ms;
};

static int fail(const char *what)
{
	printf("error: %s: %s\n", what, migsend_last_error());
	return 1;
}

/* The byte at @off of the stream one side sends (xorshift, seeded). */
static uint8_t pattern(uint64_t seed, uint64_t off)
{
	uint64_t x = (off / 8 + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x >> (off % 8 * 8);
}

/* Through GnuTLS for a --user-tx connection, else send() (kTLS encrypts). */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	ssize_t n;

	while (len) {
		n = ms_tls_send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= n;
	}
	return 0;
}

static int send_pattern(int fd, uint64_t seed, uint64_t n)
{
	uint8_t buf[65536];
	uint64_t off = 0;
	size_t len, i;
	int err;

	while (off < n) {
		len = n - off < sizeof(buf) ? n - off : sizeof(buf);
		for (i = 0; i < len; i++)
			buf[i] = pattern(seed, off + i);
		err = write_all(fd, buf, len);
		if (err)
			return ms_fail(-err, "sending at byte %llu", (unsigned long long)off);
		off += len;
	}
	return 0;
}

/* 0, -errno, or 1 for a wrong byte. */
static int recv_pattern(int fd, uint64_t seed, uint64_t n)
{
	uint8_t buf[70000];	/* not a multiple of a record: reads cut records */
	uint64_t off = 0;
	ssize_t got;

	while (off < n) {
		size_t want = n - off < sizeof(buf) ? n - off : sizeof(buf);

		got = ms_tls_recv(fd, buf, want, 0);
		if (got == 0)
			return ms_fail(ECONNRESET, "end of stream at byte %llu",
				       (unsigned long long)off);
		if (got < 0)
			return (int)got;
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] != pattern(seed, off + i)) {
				printf("error: WRONG DATA at byte %llu\n",
				       (unsigned long long)(off + i));
				return 1;
			}
		}
		off += got;
	}
	return 0;
}

/* After the data: the peer's close_notify (or FIN) must read as end of stream. */
static int expect_eof(int fd)
{
	uint8_t b;
	ssize_t n = ms_tls_recv(fd, &b, 1, 0);

	if (n == 0)
		return 0;
	return n < 0 ? (int)n : ms_fail(EPROTO, "data after the end");
}

static int read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size) {
		n = ms_tls_recv(fd, buf + len, 1, 0);
		if (n <= 0)
			return n ? (int)n : ms_fail(ECONNRESET, "end of stream inside a line");
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = 0;
	return 0;
}

/* Send a greeting (plaintext or inside TLS), print what the other side says. */
static int greet(int fd, uint16_t what, const void *payload, uint32_t size)
{
	char reason[MIGSEND_REASON_MAX + 1];
	uint8_t buf[512];
	uint16_t type;
	uint32_t len;

	if (ms_ctl_send(fd, what, payload, size))
		return fail("sending a greeting");
	if (ms_ctl_recv(fd, &type, buf, sizeof(buf), &len))
		return fail("reading the answer");
	if (type == MIGSEND_CTL_ABORT) {
		ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
		printf("error: refused by the peer: %s\n", reason);
		return 1;
	}
	printf("ok: answer %u\n", type);
	return 0;
}

/* The plaintext migsend peer: a greeting, then what the other side says. */
static int plain_peer(struct peer *p, int fd)
{
	uint8_t buf[512];
	uint16_t type;
	uint32_t len;
	int err;

	if (!p->serve)
		return greet(fd, MIGSEND_CTL_HELLO, NULL, 0);
	err = ms_ctl_recv(fd, &type, buf, sizeof(buf), &len);
	if (p->serve) {
		/* What the plaintext receiver does with a stranger. */
		if (err) {
			ms_ctl_send_abort(fd, EPROTO, "no valid greeting");
			printf("error: refused a peer that sent no valid greeting\n");
			return 1;
		}
		printf("ok: plaintext greeting %u\n", type);
	}
	return 0;
}

/* Which cipher the kernel encrypts and decrypts with (or "user"). */
static const char *ktls_cipher(int fd, int dir)
{
	struct tls_crypto_info info = { 0 };
	socklen_t len = sizeof(info);

	if (getsockopt(fd, SOL_TLS, dir, &info, &len))
		return "user";
	switch (info.cipher_type) {
	case TLS_CIPHER_AES_GCM_128: return "aes-128-gcm";
	case TLS_CIPHER_AES_GCM_256: return "aes-256-gcm";
	case TLS_CIPHER_CHACHA20_POLY1305: return "chacha20-poly1305";
	default: return "?";
	}
}

static int tls_exchange(struct peer *p, int fd)
{
	char line[256], want[256];
	size_t n, i;
	int err;

	printf("ktls: tx %s rx %s\n", ktls_cipher(fd, TLS_TX), ktls_cipher(fd, TLS_RX));
	if (p->join) {
		/* A JOIN with a token that is not the migration's, inside TLS. */
		struct migsend_ctl_join j = { .index = 0 };

		return greet(fd, MIGSEND_CTL_JOIN, &j, sizeof(j));
	}
	if (p->line && p->serve) {
		if (read_line(fd, line, sizeof(line)))
			return fail("reading a line");
		n = strlen(line);
		if (write_all(fd, "migsend:", 8) || write_all(fd, line, n))
			return fail("answering");
		printf("ok: line %s", line);
		return 0;
	}
	if (p->line) {
		if (write_all(fd, "hello migsend\n", 14) || read_line(fd, line, sizeof(line)))
			return fail("line exchange");
		n = strlen("hello migsend");
		for (i = 0; i < n; i++)
			want[i] = "hello migsend"[n - 1 - i];
		want[n] = '\n';
		want[n + 1] = 0;
		if (strcmp(line, want)) {
			printf("error: WRONG DATA: got \"%s\"\n", line);
			return 2;
		}
		printf("ok: line %s", line);
		return 0;
	}
	/* The client sends first, then the server; each checks every byte. */
	if (!p->serve && send_pattern(fd, 1, p->bytes)) {
		/* The peer may have said why (an alert) before it closed. */
		uint8_t b;
		ssize_t r = ms_tls_recv(fd, &b, 1, MSG_DONTWAIT);

		if (r < 0 && r != -EAGAIN)
			printf("error: the peer's reason: %s\n", migsend_last_error());
		return fail("send");
	}
	err = recv_pattern(fd, p->serve ? 1 : 2, p->bytes);
	if (err == 1)
		return 2;
	if (err)
		return fail("receive");
	if (p->serve && send_pattern(fd, 2, p->bytes))
		return fail("send");
	if (p->serve && p->hold_ms)
		usleep(p->hold_ms * 1000);
	ms_tls_close(fd);
	shutdown(fd, SHUT_WR);
	if (expect_eof(fd))
		return fail("end of stream");
	printf("ok: %llu bytes each way\n", (unsigned long long)p->bytes);
	return 0;
}

/* The destination's handshake as the receiver's accept loop runs it: in steps. */
static int serve_handshake(struct ms_tls *t, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct ms_tls_conn *c;
	int err;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	err = ms_tls_server_start(t, fd, &c);
	if (!err)
		err = ms_tls_server_step(c);
	while (err == -EAGAIN) {
		if (poll(&pfd, 1, 10000) != 1) {
			ms_tls_server_abandon(c);
			err = ms_fail(ETIMEDOUT, "no handshake");
			break;
		}
		err = ms_tls_server_step(c);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return err;
}

static int run(struct peer *p)
{
	struct ms_tls *t = NULL;
	int lfd = -1, fd, err, rc;

	if (!p->plain && ms_tls_new(&t, &p->tls, p->serve))
		return fail("loading the credentials");
	if (p->serve) {
		lfd = ms_tcp_listen(p->addr, p->port);
		if (lfd < 0)
			return fail("listen");
		printf("listening\n");
		fflush(stdout);
		fd = accept(lfd, NULL, NULL);
	} else {
		fd = ms_tcp_connect(p->addr, p->port, 5000);
	}
	if (fd < 0)
		return fail("connecting");
	ms_set_timeouts(fd, 20000);
	if (p->plain) {
		rc = plain_peer(p, fd);
	} else {
		err = p->serve ? serve_handshake(t, fd) :
		      ms_tls_client(t, fd, p->addr, p->user_tx ? MS_TLS_USER_TX : 0);
		rc = err ? fail("TLS handshake") : tls_exchange(p, fd);
	}
	ms_tls_close(fd);
	close(fd);
	if (lfd >= 0)
		close(lfd);
	ms_tls_free(t);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "creds", required_argument, NULL, 'c' },
		{ "psk", required_argument, NULL, 'k' },
		{ "plain", no_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "priority", required_argument, NULL, 'P' },
		{ "user-tx", no_argument, NULL, 'u' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "line", no_argument, NULL, 'l' },
		{ "hold-ms", required_argument, NULL, 'h' },
		{ "join", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct peer p = { .bytes = 4 << 20 };
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': p.tls.creds_dir = optarg; break;
		case 'k': p.tls.psk_file = optarg; break;
		case 'p': p.plain = true; break;
		case 'n': p.tls.peer_name = optarg; break;
		case 'P': p.tls.priority = optarg; break;
		case 'u': p.user_tx = true; break;
		case 'b': p.bytes = strtoull(optarg, NULL, 0); break;
		case 'l': p.line = true; break;
		case 'h': p.hold_ms = atoi(optarg); break;
		case 'j': p.join = true; break;
		default: return 64;
		}
	}
	if (argc - optind != 3 || (strcmp(argv[optind], "serve") &&
				   strcmp(argv[optind], "connect"))) {
		fprintf(stderr, "usage: tls_peer serve|connect ADDR PORT [options]\n");
		return 64;
	}
	p.serve = !strcmp(argv[optind], "serve");
	p.addr = argv[optind + 1];
	p.port = argv[optind + 2];
	return run(&p);
}
