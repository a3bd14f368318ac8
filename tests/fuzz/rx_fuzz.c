// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the receiver's rules (userspace/lib/rx_state.c):
 * greetings, control message headers, and the pass state machine driven
 * by a program of record headers, ENDs and COMPLETEs over up to four
 * connections, with the receiver's threads modelled (a connection waits at
 * its barrier).  Besides ASan and UBSan, it checks the invariants the
 * receiver's success rests on:
 *  - success (ms_rxs_applied + ms_rxs_final_check) only when every
 *    connection ended exactly COMPLETE's pass and none is inside a later one;
 *  - a barrier completes only when every connection ended that same pass;
 *  - completed passes only increase; no record is accepted of a pass
 *    other than the one every connection is in.
 *
 * Input: byte 0 selects the target, the rest is its input.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ms_wire.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)
#define NCONNS_MAX 4

static void fuzz_greeting(const uint8_t *d, size_t n)
{
	static struct ms_greeting g;
	static struct migsend_hello hello;
	static const struct migsend_layout_region into[2] = {
		{ 0, 1 << 20 }, { 1 << 30, 2 << 20 },
	};
	struct ms_rxs_limits lim = { .max_memory = n && d[0] & 1 ? 1ULL << 30 : 0 };
	uint8_t *buf = malloc(MS_GREETING_MAX);	/* aligned as the receiver's */
	bool joined[MIGSEND_MAX_CONNS] = { false };
	char why[256];
	size_t have, len = n > MS_GREETING_MAX ? MS_GREETING_MAX : n;
	int v, i;

	if (!buf)
		return;
	memcpy(buf, d, len);
	if (n && d[0] & 2) {
		lim.into = into;
		lim.ninto = 2;
	}
	for (i = 0; i < 2; i++) {
		joined[1] = i;
		/* Fed in growing pieces, as the poll loop reads them. */
		for (have = 0;; ) {
			v = ms_rxs_greeting(buf, have, &lim, i ? &hello : NULL, joined, &g,
					    why, sizeof(why));
			CHECK(v >= -4095 && v <= MS_GREET_JOIN);
			if (v != MS_GREET_MORE)
				break;
			CHECK(g.need > have && g.need <= MS_GREETING_MAX);
			if (g.need > len)
				break;
			have = g.need;
		}
		if (v == MS_GREET_HELLO) {
			CHECK(g.hello.nconns >= 1 && g.hello.nconns <= MIGSEND_MAX_CONNS);
			CHECK(g.hello.nregions >= 1 && g.hello.nregions <= MIGSEND_MAX_REGIONS);
			CHECK(!lim.max_memory || g.hello.total_bytes <= lim.max_memory);
			hello = g.hello;
		}
		if (v == MS_GREET_JOIN)
			CHECK(i && g.index < hello.nconns && !joined[g.index]);
	}
	free(buf);
}

static void fuzz_ctl(const uint8_t *d, size_t n)
{
	struct migsend_ctl_hdr h;
	uint16_t type;
	uint32_t len;
	char why[256];

	if (n < sizeof(h))
		return;
	memcpy(&h, d, sizeof(h));
	if (!ms_rxs_ctl_hdr(&h, &type, &len, why, sizeof(why))) {
		CHECK(len <= MIGSEND_CTL_MAX_PAYLOAD);
		if (!ms_rxs_ctl_msg(type, len, why, sizeof(why)))
			CHECK(type == MIGSEND_CTL_STATE || type == MIGSEND_CTL_COMPLETE ||
			      type == MIGSEND_CTL_ABORT || type == MIGSEND_CTL_DONE);
	}
}

struct prog {
	const uint8_t *d;
	size_t n;
};

static bool take(struct prog *p, void *out, size_t len)
{
	if (p->n < len)
		return false;
	memcpy(out, p->d, len);
	p->d += len;
	p->n -= len;
	return true;
}

/* The END a conforming sender writes, or a lying one. */
static void end_payload(const struct ms_rxs_conn *c, uint8_t lie, struct migsend_wire_end *e)
{
	ms_wire_end_encode(e, c->records, c->bytes, c->data_pages, c->zero_pages);
	if (lie == 1)
		e->bytes = htole64(c->bytes + 1);
	else if (lie == 2)
		e->records = htole64(c->records - 1);
}

static void check_invariants(const struct ms_rxs *s, const struct ms_rxs_conn *c,
			     unsigned int nconns, uint64_t *last_done)
{
	unsigned int i;

	if (s->done) {
		CHECK(!*last_done || s->done_pass >= *last_done - 1);
		*last_done = s->done_pass + 1;
	}
	for (i = 0; i < nconns; i++)
		if (c[i].open && s->next_known)
			CHECK(c[i].pass == s->next_pass);
	if (ms_rxs_applied(s)) {
		char why[256];

		CHECK(!ms_rxs_final_check(s, why, sizeof(why)));
		for (i = 0; i < nconns; i++) {
			CHECK(c[i].ended && c[i].end_pass == s->final_pass);
			CHECK(!c[i].open);
		}
	}
}

/*
 * Ops: [conn:2 kind:2 arg:4] then kind's bytes.  0: a DATA/ZERO record
 * of pass base+arg%4 at gpa arg; 1: END of the connection's pass (lying
 * when arg says so); 2: COMPLETE(base + 8 bytes); 3: a raw 32-byte header
 * (a SPARSE one followed by its 8-byte mask).
 */
static void fuzz_passes(const uint8_t *d, size_t n)
{
	struct ms_rxs_conn c[NCONNS_MAX];
	struct prog p = { d, n };
	struct ms_rxs s;
	uint64_t last_done = 0, pass;
	unsigned int nconns, i;
	uint8_t op, kind, arg;
	char why[256];
	int err;

	if (!take(&p, &op, 1))
		return;
	nconns = 1 + op % NCONNS_MAX;
	ms_rxs_init(&s, nconns);
	memset(c, 0, sizeof(c));
	while (take(&p, &op, 1)) {
		struct migsend_wire_hdr h;
		struct migsend_wire_end e;
		struct migsend_wire_sparse sp;
		struct ms_rec rec;

		i = (op & 3) % nconns;
		kind = op >> 2 & 3;
		arg = op >> 4;
		if (kind == 2) {
			if (!take(&p, &pass, sizeof(pass)))
				return;
			if (ms_rxs_complete(&s, le64toh(pass) % 16, why, sizeof(why)))
				return;
			check_invariants(&s, c, nconns, &last_done);
			continue;
		}
		/* The connection's thread is blocked at its barrier. */
		if (c[i].ended && !ms_rxs_barrier_done(&s, &c[i]))
			continue;
		if (kind == 3) {
			if (!take(&p, &h, sizeof(h)))
				return;
			if (ms_wire_hdr_decode(&h, &rec))
				return;
			if (rec.type == MIGSEND_REC_SPARSE &&
			    (!take(&p, &sp, sizeof(sp)) || ms_wire_sparse_decode(&sp, &rec)))
				return;
			/* A record that passed carries exactly its data pages. */
			CHECK(ms_rec_data_pages(&rec) <= rec.npages);
			CHECK(rec.type == MIGSEND_REC_END || rec.payload_len ==
			      (rec.type == MIGSEND_REC_SPARSE ? sizeof(sp) : 0) +
			      (uint64_t)ms_rec_data_pages(&rec) * MIGSEND_PAGE_SIZE);
		} else {
			pass = 1 + (c[i].open ? c[i].pass : s.done ? s.done_pass + 1 : 0) +
			       (arg & 3) - 1;
			ms_wire_hdr_encode(&h, kind ? MIGSEND_REC_END : 1 + (arg >> 3),
					   kind ? 0 : (uint64_t)arg << 12, kind ? 0 : 1,
					   kind ? sizeof(e) : arg >> 3 ? 0 : 4096, pass);
			CHECK(!ms_wire_hdr_decode(&h, &rec));
		}
		if (!c[i].open || rec.pass != c[i].pass) {
			uint64_t before = s.next_known ? s.next_pass : 0;
			bool known = s.next_known;

			err = ms_rxs_begin(&s, &c[i], i, rec.pass, why, sizeof(why));
			if (err)
				return;
			CHECK(!known || rec.pass == before);
		}
		if (rec.type == MIGSEND_REC_END) {
			end_payload(&c[i], kind == 1 ? arg % 3 : 0, &e);
			if (ms_rxs_end_counts(&c[i], i, rec.pass, &e, why, sizeof(why)))
				return;
			if (ms_rxs_end(&s, &c[i])) {
				unsigned int j;

				for (j = 0; j < nconns; j++)
					CHECK(c[j].ended && c[j].end_pass == rec.pass);
			}
		} else {
			ms_rxs_count(&c[i], &rec);
		}
		check_invariants(&s, c, nconns, &last_done);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_greeting(data + 1, size - 1);
		break;
	case 1:
		fuzz_ctl(data + 1, size - 1);
		break;
	default:
		fuzz_passes(data + 1, size - 1);
		break;
	}
	return 0;
}
