// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The receiver's rules as pure functions (docs/PROTOCOL.md, "Conformance"):
 * greetings, control message headers, and the pass state machine of the
 * record streams.  No I/O, no locks, no allocation: receiver.c calls them
 * (under its lock where state is shared) and tests/fuzz/ drives them with
 * arbitrary input.  Every refusal returns a negative errno and writes what
 * was wrong into @why.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "ms_wire.h"

static int ms_why(char *why, size_t size, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int ms_why(char *why, size_t size, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && size) {
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return -err;
}

/* ----- control message headers --------------------------------------- */

int ms_rxs_ctl_hdr(const struct migsend_ctl_hdr *h, uint16_t *type, uint32_t *len,
		   char *why, size_t size)
{
	uint16_t t = le16toh(h->type);
	uint32_t n = le32toh(h->len);

	if (le32toh(h->magic) != MIGSEND_CTL_MAGIC)
		return ms_why(why, size, EPROTO, "not a migsend control message (bad magic)");
	if (le16toh(h->version) != MIGSEND_CTL_VERSION)
		return ms_why(why, size, EPROTO, "control protocol version %u, this receiver speaks %u",
			      le16toh(h->version), MIGSEND_CTL_VERSION);
	if (h->reserved)
		return ms_why(why, size, EPROTO, "control message with a non-zero reserved field");
	if (t < MIGSEND_CTL_HELLO || t > MIGSEND_CTL_ACK)
		return ms_why(why, size, EPROTO, "unknown control message type %u", t);
	if (n > MIGSEND_CTL_MAX_PAYLOAD)
		return ms_why(why, size, EMSGSIZE, "control message %u of %u bytes: at most %u",
			      t, n, MIGSEND_CTL_MAX_PAYLOAD);
	*type = t;
	*len = n;
	return 0;
}

/* What the source may send on the control connection once joined. */
int ms_rxs_ctl_msg(uint16_t type, uint32_t len, char *why, size_t size)
{
	switch (type) {
	case MIGSEND_CTL_STATE:
		return 0;
	case MIGSEND_CTL_COMPLETE:
		if (len == sizeof(struct migsend_ctl_complete))
			return 0;
		return ms_why(why, size, EPROTO, "COMPLETE of %u bytes, not %zu", len,
			      sizeof(struct migsend_ctl_complete));
	case MIGSEND_CTL_ABORT:
		if (len >= sizeof(struct migsend_ctl_abort) &&
		    len <= sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX)
			return 0;
		return ms_why(why, size, EPROTO, "ABORT of %u bytes", len);
	case MIGSEND_CTL_DONE:
		if (!len)
			return 0;
		return ms_why(why, size, EPROTO, "DONE with a payload");
	default:
		return ms_why(why, size, EPROTO, "control message %u is not allowed here", type);
	}
}

/* ----- greetings -------------------------------------------------------- */

/* Check an announced layout against the limits; 0 or -errno and @why. */
static int ms_rxs_hello_limits(const struct migsend_hello *h,
			       const struct ms_rxs_limits *lim, char *why, size_t size)
{
	if (lim->max_memory && h->total_bytes > lim->max_memory)
		return ms_why(why, size, EFBIG,
			      "the source announces %llu bytes of memory, this destination takes at most %llu",
			      (unsigned long long)h->total_bytes,
			      (unsigned long long)lim->max_memory);
	return lim->into ? ms_rxs_layout_match(h, lim->into, lim->ninto, why, size) : 0;
}

int ms_rxs_layout_match(const struct migsend_hello *h,
			const struct migsend_layout_region *r, unsigned int n,
			char *why, size_t size)
{
	unsigned int i;

	if (h->nregions != n)
		return ms_why(why, size, EINVAL,
			      "the source announces %u memory regions, the destination has %u",
			      h->nregions, n);
	for (i = 0; i < n; i++)
		if (h->regions[i].gpa != r[i].gpa || h->regions[i].len != r[i].len)
			return ms_why(why, size, EINVAL,
				      "region %u: the source announces %#llx+%#llx, the destination has %#llx+%#llx",
				      i, (unsigned long long)h->regions[i].gpa,
				      (unsigned long long)h->regions[i].len,
				      (unsigned long long)r[i].gpa,
				      (unsigned long long)r[i].len);
	return 0;
}

static int ms_rxs_join(const uint8_t *p, uint32_t len, const struct migsend_hello *hello,
		       const bool *joined, struct ms_greeting *g, char *why, size_t size)
{
	struct migsend_ctl_join j;
	uint32_t index;

	if (len != sizeof(j))
		return ms_why(why, size, EPROTO, "JOIN of %u bytes, not %zu", len, sizeof(j));
	memcpy(&j, p, sizeof(j));
	if (!hello)
		return ms_why(why, size, EACCES, "no migration has been started by a HELLO");
	if (!ms_token_equal(j.token, hello->token))
		return ms_why(why, size, EACCES, "wrong migration token");
	index = le32toh(j.index);
	if (index >= hello->nconns || j.reserved)
		return ms_why(why, size, EACCES, "connection index %u out of range (0..%u)",
			      index, hello->nconns - 1);
	if (joined && joined[index])
		return ms_why(why, size, EACCES, "connection index %u already joined", index);
	g->index = index;
	return MS_GREET_JOIN;
}

int ms_rxs_greeting(const uint8_t *buf, size_t have, const struct ms_rxs_limits *lim,
		    const struct migsend_hello *hello, const bool *joined,
		    struct ms_greeting *g, char *why, size_t size)
{
	struct migsend_ctl_hdr h;
	uint16_t type;
	uint32_t len;
	int err;

	g->need = sizeof(h);
	if (have < sizeof(h))
		return MS_GREET_MORE;
	memcpy(&h, buf, sizeof(h));
	err = ms_rxs_ctl_hdr(&h, &type, &len, why, size);
	if (err)
		return err;
	if (type != MIGSEND_CTL_HELLO && type != MIGSEND_CTL_JOIN)
		return ms_why(why, size, EPROTO, "control message %u is not a greeting", type);
	if (len > MS_GREETING_MAX - sizeof(h))
		return ms_why(why, size, EMSGSIZE, "greeting of %u bytes: at most %zu", len,
			      MS_GREETING_MAX - sizeof(h));
	g->need = sizeof(h) + len;
	if (have < g->need)
		return MS_GREET_MORE;
	if (type == MIGSEND_CTL_JOIN)
		return ms_rxs_join(buf + sizeof(h), len, hello, joined, g, why, size);
	if (hello)
		return ms_why(why, size, EACCES, "a migration is already being set up");
	err = ms_hello_decode(buf + sizeof(h), len, &g->hello);
	if (err)
		return ms_why(why, size, EPROTO,
			      "unsupported or malformed HELLO (version, page size, 1..%u connections, 1..%u sorted page-aligned regions, total)",
			      MIGSEND_MAX_CONNS, MIGSEND_MAX_REGIONS);
	err = ms_rxs_hello_limits(&g->hello, lim, why, size);
	return err ? err : MS_GREET_HELLO;
}

/* ----- the pass state machine ------------------------------------------ */

void ms_rxs_init(struct ms_rxs *s, unsigned int nconns)
{
	memset(s, 0, sizeof(*s));
	s->nconns = nconns;
}

/* A record of @pass on connection @c that is not in its open pass. */
int ms_rxs_begin(struct ms_rxs *s, struct ms_rxs_conn *c, unsigned int index,
		 uint64_t pass, char *why, size_t size)
{
	if (pass == UINT64_MAX)
		return ms_why(why, size, EBADMSG, "connection %u: pass number %llu is reserved",
			      index, (unsigned long long)pass);
	if (c->ended && !ms_rxs_barrier_done(s, c))
		return -EAGAIN;		/* the caller waits at the barrier first */
	if (c->open && pass < c->pass)
		return ms_why(why, size, EBADMSG, "connection %u: record of pass %llu inside pass %llu",
			      index, (unsigned long long)pass, (unsigned long long)c->pass);
	if (c->open)
		return ms_why(why, size, EBADMSG,
			      "connection %u: record of pass %llu before the END of pass %llu",
			      index, (unsigned long long)pass, (unsigned long long)c->pass);
	if (c->ended && pass <= c->end_pass)
		return ms_why(why, size, EBADMSG, "connection %u: record of pass %llu after its END",
			      index, (unsigned long long)pass);
	if (s->final && pass > s->final_pass)
		return ms_why(why, size, EBADMSG,
			      "connection %u: record of pass %llu after COMPLETE said pass %llu was the last",
			      index, (unsigned long long)pass, (unsigned long long)s->final_pass);
	if (s->next_known && pass != s->next_pass)
		return ms_why(why, size, EBADMSG,
			      "connection %u: record of pass %llu while the other connections send pass %llu",
			      index, (unsigned long long)pass, (unsigned long long)s->next_pass);
	s->next_known = true;
	s->next_pass = pass;
	c->open = true;
	c->pass = pass;
	return 0;
}

void ms_rxs_count(struct ms_rxs_conn *c, const struct ms_rec *rec)
{
	c->records++;
	c->bytes += sizeof(struct migsend_wire_hdr) + rec->payload_len;
	c->data_pages += ms_rec_data_pages(rec);
	c->zero_pages += rec->npages - ms_rec_data_pages(rec);
}

int ms_rxs_end_counts(const struct ms_rxs_conn *c, unsigned int index, uint64_t pass,
		      const struct migsend_wire_end *e, char *why, size_t size)
{
	static const char *const names[] = { "records", "bytes", "data pages", "zero pages" };
	const uint64_t said[] = {
		le64toh(e->records), le64toh(e->bytes), le64toh(e->data_pages),
		le64toh(e->zero_pages),
	};
	const uint64_t got[] = { c->records, c->bytes, c->data_pages, c->zero_pages };
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (said[i] != got[i])
			return ms_why(why, size, EBADMSG,
				      "connection %u: END of pass %llu counts %llu %s, %llu were received",
				      index, (unsigned long long)pass,
				      (unsigned long long)said[i], names[i],
				      (unsigned long long)got[i]);
	return 0;
}

/* END of the open pass on @c (ms_rxs_begin() called); 1 when the barrier completes. */
int ms_rxs_end(struct ms_rxs *s, struct ms_rxs_conn *c)
{
	c->ended = true;
	c->end_pass = c->pass;
	c->open = false;
	c->records = c->bytes = c->data_pages = c->zero_pages = 0;
	if (++s->ended < s->nconns)
		return 0;
	s->done = true;
	s->done_pass = s->next_pass;
	s->next_known = false;
	s->ended = 0;
	s->passes++;
	return 1;
}

bool ms_rxs_barrier_done(const struct ms_rxs *s, const struct ms_rxs_conn *c)
{
	return s->done && s->done_pass >= c->end_pass;
}

int ms_rxs_complete(struct ms_rxs *s, uint64_t last, char *why, size_t size)
{
	if (s->final)
		return ms_why(why, size, EPROTO, "a second COMPLETE");
	if (s->done && s->done_pass > last)
		return ms_why(why, size, EPROTO, "COMPLETE says pass %llu was the last, pass %llu is complete",
			      (unsigned long long)last, (unsigned long long)s->done_pass);
	if (s->next_known && s->next_pass > last)
		return ms_why(why, size, EBADMSG, "COMPLETE says pass %llu was the last, a record of pass %llu came",
			      (unsigned long long)last, (unsigned long long)s->next_pass);
	s->final = true;
	s->final_pass = last;
	return 0;
}

bool ms_rxs_applied(const struct ms_rxs *s)
{
	return s->final && s->done && s->done_pass == s->final_pass && !s->next_known;
}

int ms_rxs_final_check(const struct ms_rxs *s, char *why, size_t size)
{
	if (!s->final)
		return ms_why(why, size, EPROTO, "no COMPLETE");
	if (s->next_known)
		return ms_why(why, size, EBADMSG, "a record of pass %llu came after COMPLETE of pass %llu",
			      (unsigned long long)s->next_pass,
			      (unsigned long long)s->final_pass);
	if (!s->done || s->done_pass != s->final_pass)
		return ms_why(why, size, EPROTO, "pass %llu was not ended on every connection",
			      (unsigned long long)s->final_pass);
	return 0;
}
