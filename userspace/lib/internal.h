/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmigsend internals shared by its source files. */
#ifndef MIGSEND_INTERNAL_H
#define MIGSEND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libmigsend.h"

#define MS_MAX_REGIONS	MIGSEND_MAX_REGIONS

struct ms_engine_ops;

struct migsend_session {
	int fd;				/* /dev/migsend (kernel engine), else -1 */
	enum migsend_engine engine;
	const struct ms_engine_ops *ops;	/* engine.h */
	void *priv;			/* the engine's own state */
	unsigned int nregions;
	struct migsend_layout_region regions[MS_MAX_REGIONS];	/* by gpa */
	/* Set by the sender: wait until connection @conn acked @bytes. */
	int (*wait_acked)(void *ctx, unsigned int conn, uint64_t bytes);
	void *ack_ctx;
};

/* error.c: record the message of a failure; returns -err. */
int ms_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* proto.c: control messages, see uapi/linux/migsend.h. */
void ms_ctl_hdr_encode(struct migsend_ctl_hdr *h, uint16_t type, uint32_t len);
int ms_ctl_hdr_decode(const struct migsend_ctl_hdr *h, uint16_t *type, uint32_t *len);
int ms_write_full(int fd, const void *buf, size_t len);
int ms_read_full(int fd, void *buf, size_t len);
int ms_ctl_send(int fd, uint16_t type, const void *payload, uint32_t len);
/* Receive one message of at most @max payload bytes into @buf. */
int ms_ctl_recv(int fd, uint16_t *type, void *buf, uint32_t max, uint32_t *len);
int ms_ctl_send_abort(int fd, int error, const char *reason);
/* Decode an ABORT payload into a positive errno and a text. */
int ms_ctl_abort_decode(const void *buf, uint32_t len, char *reason, size_t size);
/* The layout in a HELLO: check it is sorted, aligned, non-overlapping. */
int ms_layout_check(const struct migsend_layout_region *r, unsigned int n,
		    uint64_t *total);
int ms_hello_encode(void *buf, size_t size, const uint8_t *token,
		    unsigned int nconns, const struct migsend_layout_region *r,
		    unsigned int nregions);
int ms_hello_decode(const void *buf, uint32_t len, struct migsend_hello *out);
bool ms_token_equal(const uint8_t *a, const uint8_t *b);

/*
 * A data connection's record stream, read through a buffer (rxbuf.c):
 * reads shorter than MS_RXBUF_DIRECT_MIN come from the buffer, longer ones
 * land in place with what follows them buffered.  Errors as ms_read_full().
 */
#define MS_RXBUF_SIZE		(64 * 1024)
#define MS_RXBUF_DIRECT_MIN	1024

struct ms_rxbuf {
	int fd;
	uint8_t *buf;
	size_t head, tail;	/* buffered bytes: buf[head, tail) */
};

int ms_rxbuf_init(struct ms_rxbuf *b, int fd);
void ms_rxbuf_free(struct ms_rxbuf *b);
int ms_rxbuf_read(struct ms_rxbuf *b, void *dst, size_t len);

/* net.c */
int ms_tcp_connect(const char *host, const char *port, int timeout_ms);
int ms_tcp_listen(const char *host, const char *port);
int ms_set_timeouts(int fd, int ms);
void ms_peer_name(int fd, char *buf, size_t size);

#endif /* MIGSEND_INTERNAL_H */
