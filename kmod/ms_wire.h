/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Wire record framing (see uapi/linux/migsend.h and docs/PROTOCOL.md).
 * Pure code, shared by the module (encode) and by userspace receivers and
 * the host tests (decode).
 */
#ifndef MS_WIRE_H
#define MS_WIRE_H

#include "ms_portable.h"
#include "../uapi/linux/migsend.h"

/* A decoded record header, in CPU byte order. */
struct ms_rec {
	u8 type;
	u16 flags;
	u32 payload_len;
	u32 npages;
	u64 gpa;
	u64 pass;
	u64 zero_mask;		/* SPARSE, once its payload's start is read */
};

/* Fill every byte of @h: no uninitialised memory may reach the wire. */
static inline void ms_wire_hdr_encode(struct migsend_wire_hdr *h, u8 type,
				      u64 gpa, u32 npages, u32 payload_len,
				      u64 pass)
{
	h->magic = cpu_to_le32(MIGSEND_WIRE_MAGIC);
	h->version = MIGSEND_WIRE_VERSION;
	h->type = type;
	h->flags = cpu_to_le16(0);
	h->payload_len = cpu_to_le32(payload_len);
	h->npages = cpu_to_le32(npages);
	h->gpa = cpu_to_le64(gpa);
	h->pass = cpu_to_le64(pass);
}

static inline void ms_wire_sparse_encode(struct migsend_wire_sparse *sp,
					 u64 zero_mask)
{
	sp->zero_mask = cpu_to_le64(zero_mask);
}

/* Payload bytes of a SPARSE record of @npages pages, @nzero of them zero. */
static inline u32 ms_wire_sparse_len(u32 npages, u32 nzero)
{
	return sizeof(struct migsend_wire_sparse) +
	       (npages - nzero) * MIGSEND_PAGE_SIZE;
}

static inline void ms_wire_end_encode(struct migsend_wire_end *e, u64 records,
				      u64 bytes, u64 data_pages,
				      u64 zero_pages)
{
	e->records = cpu_to_le64(records);
	e->bytes = cpu_to_le64(bytes);
	e->data_pages = cpu_to_le64(data_pages);
	e->zero_pages = cpu_to_le64(zero_pages);
}

/*
 * Decode and check a header.  Returns 0, or -EBADMSG when the header is
 * not a well-formed record of this wire version: bad magic, version,
 * type or unknown flags, a length that does not match the type, a gpa that is not
 * page aligned or a range that wraps around.
 */
static inline int ms_wire_hdr_decode(const struct migsend_wire_hdr *h,
				     struct ms_rec *r)
{
	u64 span;

	if (le32_to_cpu(h->magic) != MIGSEND_WIRE_MAGIC ||
	    h->version != MIGSEND_WIRE_VERSION ||
	    (le16_to_cpu(h->flags) & ~MIGSEND_REC_F_ALL))
		return -EBADMSG;
	r->type = h->type;
	r->flags = le16_to_cpu(h->flags);
	r->payload_len = le32_to_cpu(h->payload_len);
	r->npages = le32_to_cpu(h->npages);
	r->gpa = le64_to_cpu(h->gpa);
	r->pass = le64_to_cpu(h->pass);
	r->zero_mask = 0;

	switch (r->type) {
	case MIGSEND_REC_DATA:
		if (!r->npages || r->npages > MIGSEND_MAX_DATA_PAGES ||
		    r->payload_len != r->npages * MIGSEND_PAGE_SIZE)
			return -EBADMSG;
		break;
	case MIGSEND_REC_ZERO:
		if (!r->npages || r->payload_len)
			return -EBADMSG;
		break;
	case MIGSEND_REC_SPARSE:
		/* Room for the mask and at most npages pages: the mask tells. */
		if (!r->npages || r->npages > MIGSEND_MAX_DATA_PAGES ||
		    r->payload_len < sizeof(struct migsend_wire_sparse) ||
		    r->payload_len > ms_wire_sparse_len(r->npages, 0) ||
		    (r->payload_len - sizeof(struct migsend_wire_sparse)) %
		    MIGSEND_PAGE_SIZE)
			return -EBADMSG;
		break;
	case MIGSEND_REC_END:
		if (r->npages || r->gpa ||
		    r->payload_len != sizeof(struct migsend_wire_end))
			return -EBADMSG;
		return 0;
	default:
		return -EBADMSG;
	}
	if (r->gpa % MIGSEND_PAGE_SIZE)
		return -EBADMSG;
	span = (u64)r->npages << MIGSEND_PAGE_SHIFT;
	if (r->gpa + span < r->gpa)
		return -EBADMSG;
	return 0;
}

/*
 * Decode and check the start of a SPARSE record's payload against its
 * header (decoded by ms_wire_hdr_decode()).  Returns 0, or -EBADMSG when
 * the mask has a bit at or above npages or does not leave exactly as
 * many data pages as payload_len carries.
 */
static inline int ms_wire_sparse_decode(const struct migsend_wire_sparse *sp,
					struct ms_rec *r)
{
	u64 mask = le64_to_cpu(sp->zero_mask);

	if (r->npages < 64 && mask >> r->npages)
		return -EBADMSG;
	if (r->payload_len != ms_wire_sparse_len(r->npages,
						 ms_popcount64(mask)))
		return -EBADMSG;
	r->zero_mask = mask;
	return 0;
}

/*
 * The run of pages of a decoded SPARSE record that starts at page @i: its
 * length, and in *@zero whether they are zero pages or data pages.
 */
static inline u32 ms_sparse_run(const struct ms_rec *r, u32 i, bool *zero)
{
	u64 rest = r->zero_mask >> i;
	u64 other;
	u32 left = r->npages - i;

	*zero = rest & 1;
	other = *zero ? ~rest : rest;
	if (!other || ms_ctz64(other) > left)
		return left;
	return ms_ctz64(other);
}

/* Pages of a decoded DATA, ZERO or SPARSE record sent with data. */
static inline u32 ms_rec_data_pages(const struct ms_rec *r)
{
	if (r->type == MIGSEND_REC_DATA)
		return r->npages;
	if (r->type == MIGSEND_REC_SPARSE)
		return r->npages - ms_popcount64(r->zero_mask);
	return 0;
}

#endif /* MS_WIRE_H */
