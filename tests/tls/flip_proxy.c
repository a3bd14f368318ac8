// SPDX-License-Identifier: GPL-2.0
/*
 * A TCP proxy that flips one byte in flight, for the TLS tests: what an
 * attacker on the path (or a broken middlebox) does.  TCP's checksum would
 * catch a flip on the wire; this one happens where TLS alone must see it.
 *
 *   flip_proxy LISTEN_ADDR LISTEN_PORT TO_ADDR TO_PORT OFFSET [CONN[+]]
 *
 * Accepts connections for ever, forwards each to TO in both directions,
 * and in the CONN-th one accepted (from 0, default 0), or with CONN+ in
 * that one and every later one, inverts the byte at OFFSET of what the
 * client sends.  Prints "flipped byte OFFSET of connection N" each time.
 */
#include <netdb.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pair {
	int client, server;
	unsigned int index;
	uint64_t flip_at;	/* UINT64_MAX: never */
};

static int tcp(const char *host, const char *port, bool listening)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = listening ? AI_PASSIVE : 0 }, *ai;
	int fd, one = 1;

	if (getaddrinfo(host, port, &hints, &ai))
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd >= 0 && (listening ? bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64) :
			connect(fd, ai->ai_addr, ai->ai_addrlen))) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Copy what @from has to @to; the client's bytes counted in @off. */
static int forward(struct pair *p, int from, int to, uint64_t *off)
{
	uint8_t buf[65536];
	ssize_t n = recv(from, buf, sizeof(buf), 0), w;

	if (n <= 0)
		return -1;
	if (off) {
		if (p->flip_at >= *off && p->flip_at < *off + n) {
			buf[p->flip_at - *off] ^= 0xff;
			printf("flipped byte %llu of connection %u\n",
			       (unsigned long long)p->flip_at, p->index);
			fflush(stdout);
		}
		*off += n;
	}
	for (ssize_t done = 0; done < n; done += w) {
		w = send(to, buf + done, n - done, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
	}
	return 0;
}

static void *relay(void *arg)
{
	struct pair *p = arg;
	struct pollfd pfd[2] = {
		{ .fd = p->client, .events = POLLIN },
		{ .fd = p->server, .events = POLLIN },
	};
	uint64_t off = 0;

	while (poll(pfd, 2, -1) > 0) {
		if (pfd[0].revents && forward(p, p->client, p->server, &off))
			break;
		if (pfd[1].revents && forward(p, p->server, p->client, NULL))
			break;
	}
	close(p->client);
	close(p->server);
	free(p);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned int index = 0, target;
	bool and_later = false;
	uint64_t offset;
	char *end;
	pthread_t t;
	int lfd;

	if (argc < 6) {
		fprintf(stderr, "usage: flip_proxy LISTEN_ADDR LISTEN_PORT TO_ADDR TO_PORT OFFSET [CONN[+]]\n");
		return 64;
	}
	offset = strtoull(argv[5], NULL, 0);
	target = argc > 6 ? strtoul(argv[6], &end, 0) : 0;
	and_later = argc > 6 && *end == '+';
	lfd = tcp(argv[1], argv[2], true);
	if (lfd < 0) {
		perror("flip_proxy: listen");
		return 1;
	}
	for (;; index++) {
		struct pair *p = calloc(1, sizeof(*p));

		p->client = accept(lfd, NULL, NULL);
		p->server = tcp(argv[3], argv[4], false);
		p->index = index;
		p->flip_at = index == target || (and_later && index > target) ?
			     offset : UINT64_MAX;
		if (p->client < 0 || p->server < 0 ||
		    pthread_create(&t, NULL, relay, p)) {
			perror("flip_proxy: connection");
			return 1;
		}
		pthread_detach(t);
	}
}
