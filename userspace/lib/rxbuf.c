// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A buffered reader for a data connection's record stream.
 *
 * Where zero and data pages alternate, most records are a 32-byte header
 * with at most a page behind it; reading each header and each payload
 * with its own recv() made the receiver, not the sender, the limit.
 * Here headers come out of a buffer filled by whatever the socket holds,
 * and a payload is read with one recvmsg() into two iovecs: the rest of
 * the payload straight into guest memory, and the buffer for the records
 * behind it.  Payload bytes are never copied twice except for the part
 * that was already buffered.  After a big payload (full pages of random
 * memory come 64 pages a record) only the next record's header is
 * buffered: filling the whole buffer there took the start of the next
 * payload too, and copying it out of the buffer was an eighth of the
 * receiver's time in a profile of a random pass (libc's memmove beside
 * the socket's own copy).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "internal.h"
#include "tls.h"

int ms_rxbuf_init(struct ms_rxbuf *b, int fd)
{
	b->fd = fd;
	b->head = b->tail = 0;
	b->buf = malloc(MS_RXBUF_SIZE);
	return b->buf ? 0 : -ENOMEM;
}

void ms_rxbuf_free(struct ms_rxbuf *b)
{
	free(b->buf);
	b->buf = NULL;
}

/*
 * One recvmsg() into the @n iovecs of @dst (@len bytes; may be none) and
 * at most @room bytes of the buffer's free tail, which takes what comes
 * after them.
 */
static ssize_t ms_rxbuf_recv(struct ms_rxbuf *b, const struct iovec *dst, unsigned int n,
			     size_t len, size_t room)
{
	struct iovec iov[MS_RXBUF_MAX_IOV + 1];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n + 1 };
	ssize_t got;

	if (n)
		memcpy(iov, dst, n * sizeof(*iov));
	iov[n].iov_base = b->buf + b->tail;
	iov[n].iov_len = MS_RXBUF_SIZE - b->tail;
	if (iov[n].iov_len > room)
		iov[n].iov_len = room;
	/* On a kTLS socket: what is not application data is handled there. */
	got = ms_tls_recvmsg(b->fd, &msg, 0);
	if (got == 0)
		return -ECONNRESET;
	if (got < 0)
		return got;
	if ((size_t)got > len)
		b->tail += got - len;
	return got;
}

/* Take up to @len buffered bytes; how many were taken. */
static size_t ms_rxbuf_take(struct ms_rxbuf *b, uint8_t *dst, size_t len)
{
	size_t have = b->tail - b->head;

	if (have > len)
		have = len;
	memcpy(dst, b->buf + b->head, have);
	b->head += have;
	if (b->head == b->tail)
		b->head = b->tail = 0;
	return have;
}

/* Step over the first @done bytes of the iovecs @*v. */
static void ms_iov_advance(struct iovec **v, unsigned int *n, size_t done)
{
	while (*n && done >= (*v)->iov_len) {
		done -= (*v)->iov_len;
		(*v)++;
		(*n)--;
	}
	if (*n) {
		(*v)->iov_base = (uint8_t *)(*v)->iov_base + done;
		(*v)->iov_len -= done;
	}
}

int ms_rxbuf_readv(struct ms_rxbuf *b, const struct iovec *dst, unsigned int n)
{
	struct iovec iov[MS_RXBUF_MAX_IOV], *v = iov;
	size_t len = 0, room;
	unsigned int i;
	ssize_t got;

	if (n > MS_RXBUF_MAX_IOV)
		return -EINVAL;
	memcpy(iov, dst, n * sizeof(*iov));
	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	while (len) {
		if (ms_rxbuf_buffered(b)) {
			got = ms_rxbuf_take(b, v->iov_base, v->iov_len);
		} else if (len < MS_RXBUF_DIRECT_MIN) {
			/* Headers and other small reads fill the buffer: many records a call. */
			got = ms_rxbuf_recv(b, NULL, 0, 0, MS_RXBUF_SIZE);
			if (got < 0)
				return got;
			continue;
		} else {
			/*
			 * A payload lands in place, with what follows it into
			 * the buffer: after a big one only the next record's
			 * start, so that its payload lands in place too.
			 */
			room = len >= MS_RXBUF_BIG ? MS_RXBUF_NEXT_START : MS_RXBUF_SIZE;
			got = ms_rxbuf_recv(b, v, n, len, room);
			if (got < 0)
				return got;
			if ((size_t)got > len)
				got = len;
		}
		len -= got;
		ms_iov_advance(&v, &n, got);
	}
	return 0;
}

int ms_rxbuf_read(struct ms_rxbuf *b, void *dst, size_t len)
{
	const struct iovec iov = { .iov_base = dst, .iov_len = len };

	return ms_rxbuf_readv(b, &iov, 1);
}

int ms_rxbuf_fill(struct ms_rxbuf *b)
{
	ssize_t n = ms_rxbuf_recv(b, NULL, 0, 0, MS_RXBUF_SIZE);

	return n < 0 ? (int)n : 0;
}
