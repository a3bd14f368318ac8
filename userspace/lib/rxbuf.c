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
 * One recvmsg() into @dst (may be empty) and at most @room bytes of the
 * buffer's free tail.
 */
static ssize_t ms_rxbuf_recv(struct ms_rxbuf *b, void *dst, size_t len, size_t room)
{
	struct iovec iov[2] = {
		{ .iov_base = dst, .iov_len = len },
		{ .iov_base = b->buf + b->tail, .iov_len = MS_RXBUF_SIZE - b->tail },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (iov[1].iov_len > room)
		iov[1].iov_len = room;
	/* On a kTLS socket: what is not application data is handled there. */
	n = ms_tls_recvmsg(b->fd, &msg, 0);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return n;
	if ((size_t)n > len)
		b->tail += n - len;
	return n;
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

int ms_rxbuf_read(struct ms_rxbuf *b, void *dst, size_t len)
{
	uint8_t *p = dst;
	ssize_t n;

	for (;;) {
		n = ms_rxbuf_take(b, p, len);
		p += n;
		len -= n;
		if (!len)
			return 0;
		/*
		 * The buffer is empty.  Headers and other small reads fill it
		 * (many records in one call); a payload goes straight to @dst,
		 * with what follows it into the buffer.
		 */
		if (len < MS_RXBUF_DIRECT_MIN)
			n = ms_rxbuf_recv(b, p, 0, MS_RXBUF_SIZE);
		else
			n = ms_rxbuf_recv(b, p, len, len >= MS_RXBUF_BIG ?
					  sizeof(struct migsend_wire_hdr) : MS_RXBUF_SIZE);
		if (n < 0)
			return n;
		if (len >= MS_RXBUF_DIRECT_MIN) {
			if ((size_t)n >= len)
				return 0;
			p += n;
			len -= n;
		}
	}
}

int ms_rxbuf_fill(struct ms_rxbuf *b)
{
	ssize_t n = ms_rxbuf_recv(b, NULL, 0, MS_RXBUF_SIZE);

	return n < 0 ? (int)n : 0;
}
