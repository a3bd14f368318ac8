// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Control protocol framing (docs/PROTOCOL.md): 16-byte little-endian
 * headers, bounded payloads, HELLO layouts that are checked before they
 * are believed.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "tls.h"

void ms_ctl_hdr_encode(struct migsend_ctl_hdr *h, uint16_t type, uint32_t len)
{
	h->magic = htole32(MIGSEND_CTL_MAGIC);
	h->type = htole16(type);
	h->version = htole16(MIGSEND_CTL_VERSION);
	h->len = htole32(len);
	h->reserved = 0;
}

int ms_ctl_hdr_decode(const struct migsend_ctl_hdr *h, uint16_t *type,
		      uint32_t *len)
{
	if (le32toh(h->magic) != MIGSEND_CTL_MAGIC ||
	    le16toh(h->version) != MIGSEND_CTL_VERSION || h->reserved)
		return -EPROTO;
	*type = le16toh(h->type);
	*len = le32toh(h->len);
	if (*type < MIGSEND_CTL_HELLO || *type > MIGSEND_CTL_RUNNING ||
	    *len > MIGSEND_CTL_MAX_PAYLOAD)
		return -EPROTO;
	return 0;
}

int ms_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = ms_tls_send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* -ECONNRESET for an end of stream before @len bytes. */
int ms_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		/* On a kTLS socket: what is not application data is handled there. */
		ssize_t n = ms_tls_recv(fd, p, len, MSG_WAITALL);

		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return n;
		p += n;
		len -= n;
	}
	return 0;
}

int ms_ctl_send(int fd, uint16_t type, const void *payload, uint32_t len)
{
	struct migsend_ctl_hdr h;
	int err;

	ms_ctl_hdr_encode(&h, type, len);
	err = ms_write_full(fd, &h, sizeof(h));
	if (!err && len)
		err = ms_write_full(fd, payload, len);
	return err;
}

int ms_ctl_recv(int fd, uint16_t *type, void *buf, uint32_t max, uint32_t *len)
{
	struct migsend_ctl_hdr h;
	int err;

	err = ms_read_full(fd, &h, sizeof(h));
	if (err)
		return err;
	err = ms_ctl_hdr_decode(&h, type, len);
	if (err)
		return err;
	if (*len > max)
		return -EMSGSIZE;
	return *len ? ms_read_full(fd, buf, *len) : 0;
}

int ms_ctl_send_abort(int fd, int error, const char *reason)
{
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	struct migsend_ctl_abort *a = (void *)buf;
	size_t n = strnlen(reason, MIGSEND_REASON_MAX);

	a->error = htole32(error);
	a->reserved = 0;
	memcpy(a + 1, reason, n);
	return ms_ctl_send(fd, MIGSEND_CTL_ABORT, buf, sizeof(*a) + n);
}

/*
 * WELCOME's payload: the receiver's MIGSEND_CTL_F_*.  Empty (an older
 * receiver): none.  Bytes past struct migsend_ctl_welcome are a later
 * version's; -EPROTO for a payload too short to hold it.
 */
int ms_welcome_decode(const void *buf, uint32_t len, uint64_t *features)
{
	struct migsend_ctl_welcome w = { 0 };

	if (len && len < sizeof(w))
		return -EPROTO;
	if (len)
		memcpy(&w, buf, sizeof(w));
	*features = le64toh(w.features);
	return 0;
}

int ms_ctl_abort_decode(const void *buf, uint32_t len, char *reason, size_t size)
{
	const struct migsend_ctl_abort *a = buf;
	size_t n;

	if (len < sizeof(*a) || len > sizeof(*a) + MIGSEND_REASON_MAX || !size)
		return -EPROTO;
	n = len - sizeof(*a);
	if (n >= size)
		n = size - 1;
	memcpy(reason, a + 1, n);
	reason[n] = 0;
	/* The peer's text is shown to a person: keep it printable. */
	for (size_t i = 0; i < n; i++)
		if (reason[i] < 0x20 || reason[i] > 0x7e)
			reason[i] = '?';
	return le32toh(a->error) ? (int)le32toh(a->error) : EPROTO;
}

int ms_layout_check(const struct migsend_layout_region *r, unsigned int n,
		    uint64_t *total)
{
	uint64_t sum = 0, end = 0;
	unsigned int i;

	if (!n || n > MS_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!r[i].len || (r[i].gpa | r[i].len) % MIGSEND_PAGE_SIZE ||
		    r[i].gpa + r[i].len < r[i].gpa ||
		    (i && r[i].gpa < end))
			return -EINVAL;
		end = r[i].gpa + r[i].len;
		if (sum + r[i].len < sum)
			return -EINVAL;
		sum += r[i].len;
	}
	*total = sum;
	return 0;
}

int ms_hello_encode(void *buf, size_t size, const uint8_t *token,
		    unsigned int nconns, const struct migsend_layout_region *r,
		    unsigned int nregions)
{
	struct migsend_ctl_hello *h = buf;
	struct migsend_ctl_region *cr = (void *)(h + 1);
	size_t len = sizeof(*h) + nregions * sizeof(*cr);
	uint64_t total;
	unsigned int i;

	if (len > size || ms_layout_check(r, nregions, &total))
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->wire_version = htole32(MIGSEND_WIRE_VERSION);
	h->page_size = htole32(MIGSEND_PAGE_SIZE);
	h->nconns = htole32(nconns);
	h->nregions = htole32(nregions);
	memcpy(h->token, token, MIGSEND_TOKEN_LEN);
	h->total_bytes = htole64(total);
	for (i = 0; i < nregions; i++) {
		cr[i].gpa = htole64(r[i].gpa);
		cr[i].len = htole64(r[i].len);
	}
	return (int)len;
}

/* Decoded into locals: @out is written only when everything checked out. */
int ms_hello_decode(const void *buf, uint32_t len, struct migsend_hello *out)
{
	const struct migsend_ctl_hello *h = buf;
	const struct migsend_ctl_region *cr = (const void *)(h + 1);
	struct migsend_layout_region regions[MS_MAX_REGIONS];
	uint32_t nregions, nconns;
	uint64_t total;
	unsigned int i;

	if (len < sizeof(*h))
		return -EPROTO;
	nregions = le32toh(h->nregions);
	nconns = le32toh(h->nconns);
	if (le32toh(h->wire_version) != MIGSEND_WIRE_VERSION ||
	    le32toh(h->page_size) != MIGSEND_PAGE_SIZE ||
	    !nconns || nconns > MIGSEND_MAX_CONNS ||
	    !nregions || nregions > MS_MAX_REGIONS ||
	    len != sizeof(*h) + nregions * sizeof(*cr))
		return -EPROTO;
	for (i = 0; i < nregions; i++) {
		regions[i].gpa = le64toh(cr[i].gpa);
		regions[i].len = le64toh(cr[i].len);
	}
	if (ms_layout_check(regions, nregions, &total) ||
	    total != le64toh(h->total_bytes))
		return -EPROTO;
	out->nconns = nconns;
	out->nregions = nregions;
	out->total_bytes = total;
	memcpy(out->token, h->token, MIGSEND_TOKEN_LEN);
	memcpy(out->regions, regions, nregions * sizeof(regions[0]));
	return 0;
}

/* Compare tokens in constant time: no timing hints to a guesser. */
bool ms_token_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;
	int i;

	for (i = 0; i < MIGSEND_TOKEN_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}
