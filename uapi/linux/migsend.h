/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * migsend: in-kernel send path for VM live migration.
 *
 * This header is the one contract between the migsend kernel module and
 * userspace: the ioctls of /dev/migsend, and the wire records the module
 * writes to the data connections.  It compiles unchanged in the kernel and
 * in userspace.  Every structure has explicit-width fields, explicit
 * padding and a size that is a multiple of 8, so its layout is the same
 * for 32- and 64-bit userspace (no compat ioctl translation is needed).
 *
 * See docs/PROTOCOL.md for the wire format and docs/ARCHITECTURE.md for
 * how the module works.
 */
#ifndef _UAPI_LINUX_MIGSEND_H
#define _UAPI_LINUX_MIGSEND_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define MIGSEND_DEVICE_NAME	"migsend"

/* Version of this ioctl interface; bumped on incompatible changes. */
#define MIGSEND_API_VERSION	1

/* Limits, also reported by MIGSEND_IOC_VERSION. */
#define MIGSEND_MAX_REGIONS	256	/* memory regions per session */
#define MIGSEND_MAX_CONNS	128	/* data connections per session */
#define MIGSEND_PAGE_SHIFT	12	/* the dirty bitmap's page: 4 KiB */
#define MIGSEND_PAGE_SIZE	_BITUL(MIGSEND_PAGE_SHIFT)
/* Largest number of pages one DATA record carries (256 KiB of payload). */
#define MIGSEND_MAX_DATA_PAGES	64
/*
 * Largest dirty bitmap of one pass, in pages (bits): 16 TiB of
 * guest-physical range, a 512 MiB bitmap.  A larger npages is E2BIG.
 */
#define MIGSEND_MAX_PASS_PAGES	_BITULL(32)

/* Feature bits reported in migsend_version.features. */
#define MIGSEND_FEAT_SHMEM	_BITULL(0)	/* memfd / tmpfs regions */
#define MIGSEND_FEAT_HUGETLB	_BITULL(1)	/* hugetlbfs regions */
#define MIGSEND_FEAT_ZERO_SKIP	_BITULL(2)	/* zero pages as ZERO records */
#define MIGSEND_FEAT_ZEROCOPY	_BITULL(3)	/* page data sent without copy */
#define MIGSEND_FEAT_KTLS	_BITULL(4)	/* MIGSEND_SOCK_KTLS is known */
#define MIGSEND_FEAT_SPARSE	_BITULL(5)	/* MIGSEND_PASS_SPARSE is known */

/*
 * MIGSEND_IOC_VERSION - describe the running module.
 *
 * Errors: none besides EFAULT (the argument cannot be written).
 */
struct migsend_version {
	__u32 api_version;	/* MIGSEND_API_VERSION */
	__u32 wire_version;	/* MIGSEND_WIRE_VERSION */
	__u64 features;		/* MIGSEND_FEAT_* */
	__u32 max_regions;	/* MIGSEND_MAX_REGIONS */
	__u32 max_conns;	/* MIGSEND_MAX_CONNS */
	__u32 max_data_pages;	/* MIGSEND_MAX_DATA_PAGES */
	__u32 page_size;	/* MIGSEND_PAGE_SIZE */
};

/*
 * MIGSEND_IOC_ADD_REGION - register guest memory.
 *
 * Maps guest-physical [gpa, gpa + len) to [offset, offset + len) of the
 * file behind fd.  The file must be a regular file on tmpfs/shmem (memfd,
 * /dev/shm) or hugetlbfs (including memfd with MFD_HUGETLB), opened for
 * reading.  The module keeps its own reference to the file until the
 * session is closed; the caller may close fd afterwards.
 *
 * Errors:
 *   EBADF      fd is not an open file descriptor
 *   EACCES     the file is not open for reading
 *   ENODEV     the file is not a shmem/tmpfs or hugetlbfs regular file
 *   EINVAL     flags or reserved fields not zero; len is zero; offset,
 *              gpa or len not a multiple of 4 KiB (for hugetlbfs: of the
 *              file's huge page size for offset and len)
 *   EOVERFLOW  offset + len or gpa + len overflows 64 bits
 *   ENXIO      offset + len is past the file's end
 *   EEXIST     [gpa, gpa + len) overlaps a region already registered
 *   ENOSPC     the session already has MIGSEND_MAX_REGIONS regions
 *   EBUSY      a pass is running
 *   EFAULT     the argument cannot be read
 */
struct migsend_region {
	__s32 fd;
	__u32 flags;		/* must be 0 */
	__u64 offset;		/* byte offset in the file */
	__u64 gpa;		/* guest-physical address */
	__u64 len;		/* bytes */
};

/*
 * MIGSEND_IOC_ADD_SOCK - hand in a connected TCP socket as a data
 * connection.
 *
 * The module resolves fd and keeps its own reference until the session is
 * closed; userspace keeps its fd and may read from it (the receiver's
 * ACKs), but must not write to it.  From now on the module is the only
 * writer.  It sets the socket's send timeout (SO_SNDTIMEO) to a short
 * value to be able to stop promptly.  Returns the connection's index
 * (0, 1, ...) on success.
 *
 * MIGSEND_SOCK_KTLS: the session is encrypted, and this socket must have
 * kernel TLS with a transmit key installed (setsockopt TCP_ULP "tls",
 * then SOL_TLS TLS_TX; kernel or NIC encryption alike).  The module then
 * writes its records through kTLS, page data still by reference: the
 * kernel encrypts, nothing is copied in userspace.  A socket without it
 * is refused with EPROTONOSUPPORT: a plain socket never slips into an
 * encrypted session.  Every connection of a session has the flag, or
 * none has.  The userspace side (handshake, TLS_RX at the receiver, what
 * kTLS leaves to userspace) is not the module's business.
 *
 * Errors:
 *   EBADF            fd is not an open file descriptor
 *   ENOTSOCK         fd is not a socket
 *   EPROTOTYPE       the socket is not a TCP stream socket (IPv4 or IPv6)
 *   ENOTCONN         the socket is not connected (TCP_ESTABLISHED)
 *   EPROTONOSUPPORT  MIGSEND_SOCK_KTLS, and the socket has no kernel TLS
 *                    ULP or no TLS_TX key
 *   EEXIST           the socket is already a connection of this session
 *   EBUSY            the socket belongs to another session, or a pass is
 *                    running
 *   ENOSPC           the session already has MIGSEND_MAX_CONNS connections
 *   EINVAL           unknown flags; MIGSEND_SOCK_KTLS set on this socket
 *                    but not on the session's first connection, or the
 *                    other way round
 *   ENOMEM           out of memory
 *   EFAULT           the argument cannot be read
 */
struct migsend_sock {
	__s32 fd;
	__u32 flags;		/* MIGSEND_SOCK_* */
};

/* migsend_sock.flags */
#define MIGSEND_SOCK_KTLS	_BITUL(0)	/* must have kTLS TX: encrypted */
#define MIGSEND_SOCK_FLAGS_ALL	(MIGSEND_SOCK_KTLS)

/* migsend_pass.flags */
/* Scan dirty pages and send zero pages (and holes) as ZERO records. */
#define MIGSEND_PASS_SKIP_ZERO	_BITUL(0)
/*
 * With MIGSEND_PASS_SKIP_ZERO: zero pages among data pages go inside
 * SPARSE records, one bit each, rather than as ZERO records of their own.
 * Set it only when the receiver announced MIGSEND_CTL_F_SPARSE.
 */
#define MIGSEND_PASS_SPARSE	_BITUL(1)
#define MIGSEND_PASS_FLAGS_ALL	(MIGSEND_PASS_SKIP_ZERO | MIGSEND_PASS_SPARSE)

/*
 * MIGSEND_IOC_PASS_START - start sending one pass.
 *
 * The dirty bitmap has one bit per 4 KiB page: bit i stands for the page
 * at gpa + i * 4096.  Bit i is bit (i % 8) of byte (i / 8), that is the
 * bitmap is an array of little-endian 64-bit words as KVM's dirty log on
 * x86 is.  The buffer must be readable for DIV_ROUND_UP(npages, 64) * 8
 * bytes.  Bits past npages are ignored.  A set bit for a page that lies in
 * no region fails the pass with ERANGE.
 *
 * The call copies the whole bitmap into the kernel, in the caller's own
 * context, before it starts the pass: the caller may change, reuse or
 * unmap the buffer as soon as the call returns, and the kernel threads
 * never touch the caller's memory.  So memory that blocks on read (a
 * userfaultfd-registered range nobody serves, a FUSE-backed mapping)
 * blocks this call alone, in an interruptible wait that a fatal signal
 * ends; it never leaves a pass, a kernel thread or a lock waiting on it.
 * The copy is kept in chunks of 32768 bits (128 MiB of guest): a chunk
 * with no bit set, or with every bit set, costs nothing but a pointer
 * (8 bytes per 128 MiB of range: 1 MiB at MIGSEND_MAX_PASS_PAGES); any
 * other chunk costs its 4 KiB.  So a pass that sends everything, or a
 * sparse later pass, costs the kernel almost nothing however large the
 * guest; the most it can cost is npages / 8 bytes (32 KiB per GiB).  It
 * is charged to the caller's memory cgroup and freed when the pass ends.
 *
 * The call returns as soon as the pass is queued; the kernel threads send
 * it.  Wait for it with MIGSEND_IOC_PASS_WAIT or poll() (POLLIN when no
 * pass is running).  Pass numbers must increase from pass to pass.
 *
 * Errors:
 *   EINVAL     flags unknown; MIGSEND_PASS_SPARSE without
 *              MIGSEND_PASS_SKIP_ZERO; gpa not 4 KiB aligned; pass not
 *              greater than the previous pass number
 *   EOVERFLOW  gpa + npages * 4096 overflows 64 bits
 *   E2BIG      npages is above MIGSEND_MAX_PASS_PAGES
 *   EFAULT     the bitmap range is not a valid user address range, or
 *              cannot be read
 *   ECANCELED  MIGSEND_IOC_PASS_CANCEL came while this call was still
 *              reading the bitmap: no pass was started
 *   EINTR      a fatal signal came while the bitmap was being read
 *   ENOTCONN   the session has no data connection
 *   ENOENT     the session has no memory region
 *   EPIPE      a data connection has failed in an earlier pass
 *   EBUSY      a pass is running
 *   ENOMEM     out of memory (or over the memory cgroup's limit) for the
 *              copy of the bitmap
 */
struct migsend_pass {
	__u64 pass;		/* pass number, > previous pass number */
	__u64 bitmap;		/* user pointer to the dirty bitmap */
	__u64 gpa;		/* guest-physical address of bit 0 */
	__u64 npages;		/* number of bits (pages) in the bitmap */
	__u32 flags;		/* MIGSEND_PASS_* */
	__u32 timeout_ms;	/* fail a connection that makes no progress
				 * for this long (ETIMEDOUT); 0: no limit
				 */
};

/* Pass states, in migsend_pass_result.state and migsend_stats.state. */
enum migsend_pass_state {
	MIGSEND_STATE_IDLE = 0,		/* no pass started yet */
	MIGSEND_STATE_RUNNING = 1,
	MIGSEND_STATE_DONE = 2,		/* every connection sent its END */
	MIGSEND_STATE_FAILED = 3,	/* error holds the errno */
	MIGSEND_STATE_CANCELLED = 4,	/* by MIGSEND_IOC_PASS_CANCEL */
};

/*
 * MIGSEND_IOC_PASS_WAIT - wait for the running (or last) pass to end.
 *
 * Fills in the result of the last pass.  Returns 0 once the pass has
 * ended, whatever its outcome (see state and error).
 *
 * Errors:
 *   ENOENT   no pass has been started in this session
 *   EAGAIN   the pass is still running and the fd is O_NONBLOCK
 *   EINTR    a signal arrived first (restarted with SA_RESTART); the pass
 *            goes on
 *   EFAULT   the argument cannot be written
 */
struct migsend_pass_result {
	__u64 pass;		/* the pass number */
	__u32 state;		/* enum migsend_pass_state */
	__s32 error;		/* positive errno when FAILED/CANCELLED, else 0:
				 * ECONNRESET, EPIPE, ETIMEDOUT ... from a
				 * connection; ERANGE for a dirty page in no
				 * region; ENXIO when a memory file shrank;
				 * ECANCELED after MIGSEND_IOC_PASS_CANCEL
				 */
	__u64 elapsed_ns;	/* from start to end of the pass */
};

/*
 * MIGSEND_IOC_PASS_CANCEL - end the running pass as soon as possible.
 *
 * Returns at once; the pass ends (state CANCELLED, error ECANCELED) within
 * about 100 ms even when a connection is blocked on a full socket.  A
 * connection interrupted in the middle of a record is shut down for
 * writing and counts as failed (later passes give EPIPE): its stream can
 * no longer be parsed.  A MIGSEND_IOC_PASS_START that is still reading
 * its bitmap fails with ECANCELED and starts nothing.  No error when no
 * pass is running.
 */

/* Counters of one pass, or summed over all passes. */
struct migsend_counters {
	__u64 dirty_pages;	/* set bits processed */
	__u64 zero_pages_hole;	/* dirty pages absent from the page cache */
	__u64 zero_pages_scanned; /* present pages found to be all zero */
	__u64 data_pages;	/* pages sent with payload */
	__u64 records;		/* records sent, END records included */
	__u64 wire_bytes;	/* bytes written to the sockets */
	__u64 elapsed_ns;	/* wall time of the pass(es) */
	__u64 errors;		/* failed passes */
};

/* Per data connection; MIGSEND_CONN_* flags. */
#define MIGSEND_CONN_FAILED	_BITUL(0)
#define MIGSEND_CONN_KTLS	_BITUL(1)	/* added with MIGSEND_SOCK_KTLS */

struct migsend_conn_stats {
	__u64 wire_bytes;	/* all passes */
	__u64 records;		/* all passes */
	__u64 busy_ns;		/* time spent sending, all passes */
	__u64 pass_wire_bytes;	/* current or last pass */
	__s32 error;		/* positive errno of the failure, or 0 */
	__u32 flags;		/* MIGSEND_CONN_* */
};

/*
 * MIGSEND_IOC_GET_STATS - read the session's counters.
 *
 * conns points to an array of nconns struct migsend_conn_stats (nconns may
 * be 0, conns is then ignored); the module fills in at most nconns entries
 * and sets nconns to the number of connections the session has.  The
 * counters are gathered first and written to the array with no lock held:
 * an array that blocks on write holds up this call only.
 *
 * Errors:
 *   EINVAL  reserved not zero
 *   EFAULT  the argument or the array cannot be read or written
 *   ENOMEM  out of memory
 */
struct migsend_stats {
	__u64 pass;		/* number of the running or last pass */
	__u32 state;		/* enum migsend_pass_state of that pass */
	__s32 error;		/* its positive errno, or 0 */
	__u32 nregions;
	__u32 nconns;		/* in: array size; out: connections */
	__u64 conns;		/* user pointer to migsend_conn_stats[] */
	__u64 reserved;		/* must be 0 */
	struct migsend_counters last;	/* the running or last pass */
	struct migsend_counters total;	/* all passes so far */
};

#define MIGSEND_IOC_MAGIC	0xE7

#define MIGSEND_IOC_VERSION	_IOR(MIGSEND_IOC_MAGIC, 0x00, struct migsend_version)
#define MIGSEND_IOC_ADD_REGION	_IOW(MIGSEND_IOC_MAGIC, 0x01, struct migsend_region)
#define MIGSEND_IOC_ADD_SOCK	_IOW(MIGSEND_IOC_MAGIC, 0x02, struct migsend_sock)
#define MIGSEND_IOC_PASS_START	_IOW(MIGSEND_IOC_MAGIC, 0x03, struct migsend_pass)
#define MIGSEND_IOC_PASS_WAIT	_IOR(MIGSEND_IOC_MAGIC, 0x04, struct migsend_pass_result)
#define MIGSEND_IOC_PASS_CANCEL	_IO(MIGSEND_IOC_MAGIC, 0x05)
#define MIGSEND_IOC_GET_STATS	_IOWR(MIGSEND_IOC_MAGIC, 0x06, struct migsend_stats)

/*
 * Opening /dev/migsend (mode 0600) also requires CAP_NET_ADMIN: EPERM
 * without it.  Any other ioctl number gives ENOTTY.
 */

/* ---------------------------------------------------------------------
 * Wire format: what the module writes to each data connection.
 *
 * A stream of records, each a 32-byte header followed by payload_len
 * bytes of payload.  All fields are little-endian.  See docs/PROTOCOL.md.
 */
#define MIGSEND_WIRE_MAGIC	0x4d53524eU	/* "NRSM" on the wire: 4e 52 53 4d */
#define MIGSEND_WIRE_VERSION	1

enum migsend_rec_type {
	/* npages pages at gpa; payload: npages * 4096 bytes of page data */
	MIGSEND_REC_DATA = 1,
	/* npages pages at gpa are all zero; no payload.  The receiver must
	 * make them zero: a page may have held data in an earlier pass.
	 */
	MIGSEND_REC_ZERO = 2,
	/* end of this connection's share of the pass; payload:
	 * struct migsend_wire_end.  gpa and npages are 0.
	 */
	MIGSEND_REC_END = 3,
	/* npages pages at gpa, some of them zero; payload: struct
	 * migsend_wire_sparse, then 4096 bytes for each page whose bit is
	 * clear, in page order.  Sent only to a receiver that announced
	 * MIGSEND_CTL_F_SPARSE.
	 */
	MIGSEND_REC_SPARSE = 4,
};

/*
 * migsend_wire_hdr.flags.  The kernel never sets one; userspace senders
 * that wait for the receiver (stop-and-wait) ask for an ACK this way.
 */
#define MIGSEND_REC_F_ACK	0x0001	/* ACK once this record is applied */
#define MIGSEND_REC_F_ALL	MIGSEND_REC_F_ACK

struct migsend_wire_hdr {
	__le32 magic;		/* MIGSEND_WIRE_MAGIC */
	__u8 version;		/* MIGSEND_WIRE_VERSION */
	__u8 type;		/* enum migsend_rec_type */
	__le16 flags;		/* MIGSEND_REC_F_* */
	__le32 payload_len;	/* bytes that follow this header */
	__le32 npages;		/* pages covered (DATA, ZERO, SPARSE), else 0 */
	__le64 gpa;		/* guest-physical address of the first, else 0 */
	__le64 pass;		/* pass number the record belongs to */
};

/* Start of the payload of MIGSEND_REC_SPARSE. */
struct migsend_wire_sparse {
	/*
	 * Bit i set: page i (at gpa + i * 4096) is zero and has no data in
	 * the payload.  Bits at and above npages are clear.
	 */
	__le64 zero_mask;
};

/* Payload of MIGSEND_REC_END: this connection's share of the pass. */
struct migsend_wire_end {
	__le64 records;		/* DATA, ZERO, SPARSE records before this END */
	__le64 bytes;		/* their bytes, headers included */
	__le64 data_pages;	/* pages sent with data (DATA, SPARSE) */
	__le64 zero_pages;	/* pages sent as zero (ZERO, SPARSE's bits) */
};

/* ---------------------------------------------------------------------
 * Control protocol: spoken by userspace on the control connection and, for
 * the greeting and the ACKs, on the data connections.  Every message is a
 * 16-byte header and len bytes of payload; little-endian.  See
 * docs/PROTOCOL.md.
 */
#define MIGSEND_CTL_MAGIC	0x5443534dU	/* "MSCT" on the wire */
#define MIGSEND_CTL_VERSION	1
#define MIGSEND_TOKEN_LEN	32
#define MIGSEND_CTL_MAX_PAYLOAD	(64U << 20)	/* largest message: 64 MiB */
#define MIGSEND_REASON_MAX	256		/* bytes of an error text */

enum migsend_ctl_type {
	/* control connection, sender -> receiver */
	MIGSEND_CTL_HELLO = 1,		/* migsend_ctl_hello + regions */
	MIGSEND_CTL_STATE = 2,		/* the VMM's opaque device state */
	MIGSEND_CTL_COMPLETE = 3,	/* migsend_ctl_complete */
	/* control connection, receiver -> sender */
	MIGSEND_CTL_WELCOME = 4,	/* handshake accepted; migsend_ctl_welcome */
	MIGSEND_CTL_DONE = 5,		/* last pass applied, state taken */
	/* control connection, either way */
	MIGSEND_CTL_ABORT = 6,		/* migsend_ctl_abort + reason */
	/* data connection, sender -> receiver, before any record */
	MIGSEND_CTL_JOIN = 7,		/* migsend_ctl_join */
	/* data connection, receiver -> sender */
	MIGSEND_CTL_JOINED = 8,		/* no payload */
	MIGSEND_CTL_ACK = 9,		/* migsend_ctl_ack */
	/* control connection, receiver -> sender, after the sender's DONE */
	MIGSEND_CTL_RUNNING = 10,	/* migsend_ctl_running */
};

struct migsend_ctl_hdr {
	__le32 magic;		/* MIGSEND_CTL_MAGIC */
	__le16 type;		/* enum migsend_ctl_type */
	__le16 version;		/* MIGSEND_CTL_VERSION */
	__le32 len;		/* payload bytes, <= MIGSEND_CTL_MAX_PAYLOAD */
	__le32 reserved;	/* 0 */
};

/* One region of the guest-physical layout, in HELLO. */
struct migsend_ctl_region {
	__le64 gpa;
	__le64 len;
};

struct migsend_ctl_hello {
	__le32 wire_version;	/* MIGSEND_WIRE_VERSION of the records */
	__le32 page_size;	/* MIGSEND_PAGE_SIZE */
	__le32 nconns;		/* data connections that will JOIN */
	__le32 nregions;	/* migsend_ctl_region entries that follow */
	__u8 token[MIGSEND_TOKEN_LEN];	/* random, per migration */
	__le64 total_bytes;	/* sum of the regions' lengths */
};

/*
 * What the receiver can take, in WELCOME.  A WELCOME with no payload (an
 * older receiver) means no feature; a sender ignores bytes past this
 * structure and feature bits it does not know.
 */
#define MIGSEND_CTL_F_SPARSE	_BITULL(0)	/* MIGSEND_REC_SPARSE records */
#define MIGSEND_CTL_F_ALL	MIGSEND_CTL_F_SPARSE

struct migsend_ctl_welcome {
	__le64 features;	/* MIGSEND_CTL_F_* */
};

struct migsend_ctl_join {
	__u8 token[MIGSEND_TOKEN_LEN];
	__le32 index;		/* 0 .. nconns - 1 */
	__le32 reserved;	/* 0 */
};

/* Cumulative, sent by the receiver on each data connection. */
struct migsend_ctl_ack {
	__le64 end_pass;	/* passes whose END this connection applied,
				 * as last pass number + 1; 0: none yet
				 */
	__le64 bytes;		/* record bytes applied on this connection */
	__le64 records;		/* records applied on this connection */
};

struct migsend_ctl_complete {
	__le64 last_pass;	/* the final pass number */
};

/*
 * The destination's VMM runs the guest now: sent once, after the
 * sender's DONE, by a destination that resumes the guest itself (the
 * QEMU path; docs/PROTOCOL.md, "Who runs the guest").
 */
struct migsend_ctl_running {
	__le64 resumed_us;	/* when, in microseconds since the epoch by the
				 * destination's clock; 0: unknown
				 */
};

struct migsend_ctl_abort {
	__le32 error;		/* positive errno */
	__le32 reserved;	/* 0 */
	/* followed by up to MIGSEND_REASON_MAX bytes of text, not terminated */
};

/* ---------------------------------------------------------------------
 * Generic netlink family MIGSEND_GENL_NAME (admin only: CAP_NET_ADMIN).
 *
 * MIGSEND_CMD_GET_SESSION, dump: every live session, in the order they
 * were opened, each with its attributes and one MIGSEND_A_CONN nest per
 * connection, in index order.  A session whose connections do not fit in
 * one message goes on in the next ones: each of those carries the
 * session's MIGSEND_A_SESSION_ID and MIGSEND_A_PID, the flag
 * MIGSEND_A_CONTINUED, and further MIGSEND_A_CONN nests only.  A client
 * merges them by session id (or skips them when it wants no connection
 * detail).  The dump goes on across as many messages as it needs; a
 * session closed meanwhile is left out, one opened meanwhile may be.
 *
 * Multicast group MIGSEND_GENL_MCGRP_EVENTS: MIGSEND_CMD_EVENT messages
 * with MIGSEND_A_EVENT and the session's identity.
 */
#define MIGSEND_GENL_NAME		"migsend"
#define MIGSEND_GENL_VERSION		1
#define MIGSEND_GENL_MCGRP_EVENTS	"events"

enum migsend_genl_cmd {
	MIGSEND_CMD_UNSPEC,
	MIGSEND_CMD_GET_SESSION,	/* dump */
	MIGSEND_CMD_EVENT,		/* multicast only */
	__MIGSEND_CMD_MAX,
};

#define MIGSEND_CMD_MAX (__MIGSEND_CMD_MAX - 1)

enum migsend_event {
	MIGSEND_EVENT_PASS_DONE = 1,	/* a pass ended: state, error, counters */
	MIGSEND_EVENT_CONN_DEAD = 2,	/* a connection failed: CONN nest */
	MIGSEND_EVENT_SESSION_CLOSED = 3,
};

enum migsend_attr {
	MIGSEND_A_UNSPEC,
	MIGSEND_A_PAD,
	MIGSEND_A_SESSION_ID,		/* u32 */
	MIGSEND_A_PID,			/* u32: tgid of the process that opened it */
	MIGSEND_A_PASS,			/* u64 */
	MIGSEND_A_STATE,		/* u32: enum migsend_pass_state */
	MIGSEND_A_ERROR,		/* u32: positive errno */
	MIGSEND_A_NREGIONS,		/* u32 */
	MIGSEND_A_NCONNS,		/* u32 */
	MIGSEND_A_LAST,			/* nest: MIGSEND_C_*, the last pass */
	MIGSEND_A_TOTAL,		/* nest: MIGSEND_C_*, all passes */
	MIGSEND_A_CONN,			/* nest: MIGSEND_CONN_A_*, repeated */
	MIGSEND_A_EVENT,		/* u32: enum migsend_event */
	MIGSEND_A_CONTINUED,		/* flag: more connections of the
					 * session of the previous message
					 */
	__MIGSEND_A_MAX,
};

#define MIGSEND_A_MAX (__MIGSEND_A_MAX - 1)

/* In MIGSEND_A_LAST and MIGSEND_A_TOTAL: struct migsend_counters' fields. */
enum migsend_counter_attr {
	MIGSEND_C_UNSPEC,
	MIGSEND_C_PAD,
	MIGSEND_C_DIRTY_PAGES,		/* u64 each */
	MIGSEND_C_ZERO_PAGES_HOLE,
	MIGSEND_C_ZERO_PAGES_SCANNED,
	MIGSEND_C_DATA_PAGES,
	MIGSEND_C_RECORDS,
	MIGSEND_C_WIRE_BYTES,
	MIGSEND_C_ELAPSED_NS,
	MIGSEND_C_ERRORS,
	__MIGSEND_C_MAX,
};

#define MIGSEND_C_MAX (__MIGSEND_C_MAX - 1)

enum migsend_conn_attr {
	MIGSEND_CONN_A_UNSPEC,
	MIGSEND_CONN_A_PAD,
	MIGSEND_CONN_A_INDEX,		/* u32 */
	MIGSEND_CONN_A_WIRE_BYTES,	/* u64 */
	MIGSEND_CONN_A_RECORDS,		/* u64 */
	MIGSEND_CONN_A_BUSY_NS,		/* u64 */
	MIGSEND_CONN_A_ERROR,		/* u32: positive errno, 0 when healthy */
	MIGSEND_CONN_A_FAILED,		/* flag */
	__MIGSEND_CONN_A_MAX,
};

#define MIGSEND_CONN_A_MAX (__MIGSEND_CONN_A_MAX - 1)

#endif /* _UAPI_LINUX_MIGSEND_H */
