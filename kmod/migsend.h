/* SPDX-License-Identifier: GPL-2.0 */
/*
 * migsend internals, shared by the module's files:
 *   main.c     module, misc device, file operations, ioctl dispatch
 *   session.c  session lifetime, memory regions, data connections
 *   pass.c     pass control and work sharing (the bitmap cursor)
 *   mem.c      guest-memory page lookup: holes, swap, THP, hugetlbfs
 *   tx.c       per-connection sender thread, records, zero-copy send
 *   netlink.c  generic netlink family: session dump and events
 */
#ifndef MIGSEND_H
#define MIGSEND_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/bvec.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/pagevec.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "../uapi/linux/migsend.h"
#include "ms_walk.h"

/* One unit of shared work: at most this many dirty pages ... */
#define MS_SPAN_MAX_DIRTY	256
/* ... within at most this many bitmap bits. */
#define MS_SPAN_MAX_BITS	16384
/*
 * The pass's copy of the dirty bitmap is kept in chunks of this many bits
 * (4 KiB of bitmap, 128 MiB of guest): a chunk with no bit set is not
 * kept, one with every bit set shares one read-only chunk.
 */
#define MS_CHUNK_BITS		32768
#define MS_CHUNK_WORDS		(MS_CHUNK_BITS / MS_BITS_PER_WORD)
/* Page fragments one send call carries at most. */
#define MS_TX_MAX_VECS		128
/* Send timeout the module sets on its sockets, so it can stop promptly. */
#define MS_SNDTIMEO		(HZ / 10)

struct ms_region {
	struct file *file;
	u64 gpa;
	u64 len;
	u64 offset;
	/* Size of the file's pages: PAGE_SHIFT, or the huge page's shift. */
	unsigned int page_shift;
	/* Unit of the file's page-cache indices (huge pages on old kernels). */
	unsigned int index_shift;
	bool hugetlb;
};

/* The copy of a pass's dirty bitmap, in CPU byte order. */
struct ms_dirty {
	const u64 **chunks;	/* NULL: clean; ms_full_chunk; or a copy */
	u64 nchunks;
};

/* Counters of a running pass, summed by all connections. */
struct ms_pass_counters {
	atomic64_t dirty_pages;
	atomic64_t zero_pages_hole;
	atomic64_t zero_pages_scanned;
	atomic64_t data_pages;
	atomic64_t records;
	atomic64_t wire_bytes;
};

struct ms_pass {
	u64 number;
	u64 gpa;
	u64 npages;
	u32 flags;
	u32 timeout_ms;
	/*
	 * The dirty bitmap, copied from the caller at PASS_START; read-only
	 * while the pass runs, freed when it ends.
	 */
	struct ms_dirty dirty;

	/* The shared cursor: the next bit to hand out. */
	struct mutex cursor_lock;
	u64 cursor;

	atomic_t running_conns;
	atomic_t error;		/* first negative errno, or 0 */
	bool abort;		/* READ_ONCE: stop at the next record */
	u64 start_ns;
	u64 elapsed_ns;
	u32 state;		/* enum migsend_pass_state, under state_lock */
	struct ms_pass_counters cnt;
};

/*
 * A run of pages about to become one record.  In a MIGSEND_PASS_SPARSE
 * pass a DATA record takes the zero pages after a data page, up to its 64
 * pages, as bits of zero_mask (it goes out as SPARSE then).
 */
struct ms_pending {
	u8 type;		/* MIGSEND_REC_DATA/ZERO, 0 when empty */
	u64 gpa;
	u32 npages;
	u64 zero_mask;		/* DATA: bit i set: page i is zero */
	struct migsend_wire_hdr *hdr;	/* DATA: written when it closes */
	unsigned int hdr_vec;	/* DATA: the fragment that ends with hdr */
};

struct ms_tx {
	struct bio_vec vec[MS_TX_MAX_VECS];
	unsigned int nvec;
	size_t bytes;
	unsigned int records;	/* complete records in vec[] */
	/* Headers are written here and sent by reference, like page data. */
	struct page *hdr_page;
	unsigned int hdr_off;
};

/* Counted by a connection thread, pushed to the pass after each span. */
struct ms_conn_counts {
	u64 dirty_pages;
	u64 holes;
	u64 scanned_zero;
	u64 data_pages;
	u64 zero_pages;
	u64 records;
	u64 bytes;
};

struct ms_session;

struct ms_conn {
	struct ms_session *s;
	unsigned int idx;
	struct socket *sock;
	long saved_sndtimeo;
	struct task_struct *thread;
	struct list_head global_node;	/* ms_all_conns, under ms_global_lock */

	/* Owned by the thread while a pass runs. */
	u64 seen_gen;
	struct ms_tx tx;
	struct ms_pending pending;
	const struct ms_region *last_region;
	struct folio *folio;		/* cached page-cache folio */
	const struct ms_region *folio_region;
	u64 folio_off;			/* its file offset */
	u64 folio_len;
	/*
	 * The folios after it, from one page-cache walk (shmem only): those
	 * from ahead_next on are still held here.
	 */
	struct folio_batch ahead;
	unsigned int ahead_next;
	const struct ms_region *ahead_region;
	/* This connection's share of the pass (for its END record) ... */
	struct ms_conn_counts cur;
	/* ... and how much of it is already added to the pass counters. */
	struct ms_conn_counts pushed;

	/* Read by GET_STATS at any time. */
	u64 wire_bytes;
	u64 records;
	u64 busy_ns;
	u64 last_pass_bytes;
	int error;			/* negative errno of the failure */
	bool failed;
	bool ktls;			/* added with MIGSEND_SOCK_KTLS */
};

struct ms_session {
	struct mutex lock;		/* regions, conns, pass start/cancel */
	unsigned int id;
	u64 serial;			/* order of opening, from 1 */
	u32 pid;			/* tgid of the opener */
	struct list_head global_node;	/* ms_all_sessions, ms_global_lock */

	struct ms_region *regions;	/* sorted by gpa */
	unsigned int nregions;
	struct ms_conn *conns[MIGSEND_MAX_CONNS];
	unsigned int nconns;

	wait_queue_head_t work_wq;	/* threads wait here for a pass */
	wait_queue_head_t done_wq;	/* PASS_WAIT and poll() */
	spinlock_t state_lock;		/* pass.state and totals */
	u64 pass_gen;			/* bumped for each pass started */
	u32 cancel_seq;			/* bumped by each cancel, state_lock */
	bool pass_started;
	struct ms_pass pass;
	struct migsend_counters total;
};

/* session.c */
struct ms_session *ms_session_create(void);
void ms_session_destroy(struct ms_session *s);
int ms_session_add_region(struct ms_session *s, const struct migsend_region *r);
int ms_session_add_sock(struct ms_session *s, const struct migsend_sock *a);
const struct ms_region *ms_session_find_region(const struct ms_session *s, u64 gpa);
void ms_session_snapshot(struct ms_session *s, struct migsend_stats *st);
int ms_session_init(void);
void ms_session_exit(void);
/*
 * The list of live sessions, in the order of their serial numbers, under
 * ms_global_lock (netlink dumps).
 */
void ms_global_lock_acquire(void);
void ms_global_lock_release(void);
struct list_head *ms_session_list(void);

/* pass.c */
int ms_pass_start(struct ms_session *s, const struct migsend_pass *a);
int ms_pass_wait(struct ms_session *s, bool nonblock, struct migsend_pass_result *res);
void ms_pass_cancel(struct ms_session *s, int error);
bool ms_pass_running(struct ms_session *s);
int ms_pass_get_stats(struct ms_session *s, struct migsend_stats *st);
void ms_conn_stats_read(struct ms_conn *c, struct migsend_conn_stats *cs);
int ms_pass_take_span(struct ms_pass *p, const u64 **words, u64 *base,
		      struct ms_span *span);
void ms_pass_fail(struct ms_pass *p, int error);
void ms_pass_conn_done(struct ms_session *s);
void ms_pass_init(struct ms_pass *p);
void ms_pass_free(struct ms_pass *p);

/* mem.c */
enum ms_page_kind {
	MS_PAGE_HOLE,		/* not in the page cache: zero */
	MS_PAGE_PRESENT,	/* *page holds a reference */
};

int ms_mem_lookup(struct ms_conn *c, const struct ms_region *r, u64 off,
		  u64 max_pages, struct page **page, u64 *hole_pages);
void ms_mem_release(struct ms_conn *c);
int ms_mem_check_region(struct file *file, u64 offset, u64 len,
			struct ms_region *r);

/* netlink.c */
int ms_nl_init(void);
void ms_nl_exit(void);
void ms_nl_event_pass_done(struct ms_session *s);
void ms_nl_event_conn_dead(struct ms_conn *c);
void ms_nl_event_session_closed(struct ms_session *s);

/* tx.c */
int ms_conn_thread(void *arg);
void ms_tx_free(struct ms_tx *tx);

#endif /* MIGSEND_H */
