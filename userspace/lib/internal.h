/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmigsend internals shared by its source files. */
#ifndef MIGSEND_INTERNAL_H
#define MIGSEND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "libmigsend.h"

#define MS_MAX_REGIONS	MIGSEND_MAX_REGIONS

struct ms_engine_ops;
struct ms_pacer;

struct migsend_session {
	int fd;				/* /dev/migsend (kernel engine), else -1 */
	bool encrypted;			/* TLS: every data socket must carry it */
	enum migsend_engine engine;
	const struct ms_engine_ops *ops;	/* engine.h */
	void *priv;			/* the engine's own state */
	unsigned int nregions;
	struct migsend_layout_region regions[MS_MAX_REGIONS];	/* by gpa */
	unsigned int nsocks;
	int socks[MIGSEND_MAX_CONNS];	/* the data sockets, for the cap */
	uint64_t max_bandwidth;		/* bytes/s over all sockets, 0: none */
	struct ms_pacer *pacer;		/* pacer.c: holds the cap */
	/* Set by the sender: wait until connection @conn acked @bytes. */
	int (*wait_acked)(void *ctx, unsigned int conn, uint64_t bytes);
	void *ack_ctx;
};

/* pacer.c: the bandwidth cap on the session's data sockets. */
int ms_pacing_set(struct migsend_session *s, uint64_t total);
void ms_pacer_stop(struct migsend_session *s);

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
int ms_welcome_decode(const void *buf, uint32_t len, uint64_t *features);
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
 * land in place with what follows them buffered: up to the whole buffer
 * after a payload shorter than MS_RXBUF_BIG (small records come many per
 * call), one record header after a longer one (the next payload then
 * lands in place too instead of being copied out of the buffer).  Errors
 * as ms_read_full().
 */
#define MS_RXBUF_SIZE		(64 * 1024)
#define MS_RXBUF_DIRECT_MIN	1024
#define MS_RXBUF_BIG		(32 * 1024)
/* After a big payload: the next record's header and a SPARSE mask. */
#define MS_RXBUF_NEXT_START	(sizeof(struct migsend_wire_hdr) + \
				 sizeof(struct migsend_wire_sparse))
/* Iovecs of one read: a SPARSE record's data pages, one each at most. */
#define MS_RXBUF_MAX_IOV	MIGSEND_MAX_DATA_PAGES

struct ms_rxbuf {
	int fd;
	uint8_t *buf;
	size_t head, tail;	/* buffered bytes: buf[head, tail) */
};

int ms_rxbuf_init(struct ms_rxbuf *b, int fd);
void ms_rxbuf_free(struct ms_rxbuf *b);
int ms_rxbuf_read(struct ms_rxbuf *b, void *dst, size_t len);
/* Into @n (at most MS_RXBUF_MAX_IOV) places in turn, as one read. */
int ms_rxbuf_readv(struct ms_rxbuf *b, const struct iovec *dst, unsigned int n);
/* One receive into the empty buffer: 0, -EAGAIN (receive timeout) or an error. */
int ms_rxbuf_fill(struct ms_rxbuf *b);

static inline size_t ms_rxbuf_buffered(const struct ms_rxbuf *b)
{
	return b->tail - b->head;
}

/*
 * rx_state.c: the receiver's rules as pure functions (no I/O, no locks),
 * driven by receiver.c and by the fuzzer in tests/fuzz/.  Each returns 0
 * (or a non-negative verdict) or a negative errno with a reason in @why.
 */
struct ms_rec;

/* The largest greeting: a HELLO with MIGSEND_MAX_REGIONS regions. */
#define MS_GREETING_MAX	(sizeof(struct migsend_ctl_hdr) + \
			 sizeof(struct migsend_ctl_hello) + \
			 MIGSEND_MAX_REGIONS * sizeof(struct migsend_ctl_region))

struct ms_rxs_limits {
	uint64_t max_memory;	/* 0: none */
	/* Receiving into the caller's memory: the layout HELLO must announce. */
	const struct migsend_layout_region *into;
	unsigned int ninto;
};

enum { MS_GREET_MORE, MS_GREET_HELLO, MS_GREET_JOIN };

struct ms_greeting {
	size_t need;		/* bytes the greeting has, once its header is in */
	unsigned int index;	/* JOIN */
	struct migsend_hello hello;	/* HELLO */
};

/*
 * Judge the first @have bytes of a new connection: MS_GREET_MORE (read up
 * to g->need bytes), MS_GREET_HELLO (before a HELLO was taken: @hello NULL),
 * MS_GREET_JOIN (g->index; @joined says which indexes are taken), or a
 * refusal.
 */
int ms_rxs_greeting(const uint8_t *buf, size_t have, const struct ms_rxs_limits *lim,
		    const struct migsend_hello *hello, const bool *joined,
		    struct ms_greeting *g, char *why, size_t size);
int ms_rxs_layout_match(const struct migsend_hello *h,
			const struct migsend_layout_region *r, unsigned int n,
			char *why, size_t size);
int ms_rxs_ctl_hdr(const struct migsend_ctl_hdr *h, uint16_t *type, uint32_t *len,
		   char *why, size_t size);
/* May the source send message @type of @len bytes on the running control connection? */
int ms_rxs_ctl_msg(uint16_t type, uint32_t len, char *why, size_t size);

/* One data connection's record stream. */
struct ms_rxs_conn {
	bool open;		/* records of pass @pass read, its END not yet */
	bool ended;		/* an END was read: @end_pass */
	uint64_t pass, end_pass;
	uint64_t records, bytes, data_pages, zero_pages;	/* since the last END */
};

/* The passes, over all connections. */
struct ms_rxs {
	unsigned int nconns;
	unsigned int ended;	/* connections that ENDed @next_pass */
	bool done;		/* a pass ended on every connection: @done_pass */
	bool next_known;	/* a record of the pass after it came: @next_pass */
	bool final;		/* COMPLETE came: @final_pass */
	uint64_t done_pass, next_pass, final_pass;
	uint64_t passes;	/* passes ended on every connection */
};

void ms_rxs_init(struct ms_rxs *s, unsigned int nconns);
/*
 * A record (END included) of @pass on a connection that is not inside that
 * pass yet: check the order, open the pass.  -EAGAIN: the connection must
 * first wait at the barrier of its last END.
 */
int ms_rxs_begin(struct ms_rxs *s, struct ms_rxs_conn *c, unsigned int index,
		 uint64_t pass, char *why, size_t size);
void ms_rxs_count(struct ms_rxs_conn *c, const struct ms_rec *rec);
int ms_rxs_end_counts(const struct ms_rxs_conn *c, unsigned int index, uint64_t pass,
		      const struct migsend_wire_end *e, char *why, size_t size);
/* The END of the open pass: 1 when every connection has ended it. */
int ms_rxs_end(struct ms_rxs *s, struct ms_rxs_conn *c);
bool ms_rxs_barrier_done(const struct ms_rxs *s, const struct ms_rxs_conn *c);
int ms_rxs_complete(struct ms_rxs *s, uint64_t last, char *why, size_t size);
/* Every pass up to COMPLETE's is ended everywhere, and none after it began. */
bool ms_rxs_applied(const struct ms_rxs *s);
int ms_rxs_final_check(const struct ms_rxs *s, char *why, size_t size);

/* net.c */
int ms_tcp_connect(const char *host, const char *port, int timeout_ms);
int ms_tcp_listen(const char *host, const char *port);
int ms_set_timeouts(int fd, int ms);
void ms_peer_name(int fd, char *buf, size_t size);

#endif /* MIGSEND_INTERNAL_H */
