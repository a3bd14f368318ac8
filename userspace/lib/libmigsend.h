/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmigsend: the C library a VMM links to migrate guest memory with the
 * migsend kernel module.
 *
 * Source side:  migsend_session_open() -> migsend_add_region() for each
 * guest-memory region -> migsend_sender_connect() to the destination ->
 * migsend_sender_pass() for each pass (or migsend_precopy_run() for the
 * whole pre-copy loop) -> migsend_sender_send_state() ->
 * migsend_sender_complete() -> migsend_sender_close() and
 * migsend_session_close().
 *
 * Destination side: migsend_receive() accepts the connections, applies
 * the passes to its own memfds and returns once the migration completed
 * or failed.
 *
 * Errors: every call returns 0 (or a non-negative value) on success and a
 * negative errno on failure; migsend_last_error() then gives a message the
 * caller can show, for the calling thread.
 */
#ifndef LIBMIGSEND_H
#define LIBMIGSEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/migsend.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The message of the calling thread's last failed call. */
const char *migsend_last_error(void);

/* ----- sessions ------------------------------------------------------ */

struct migsend_session;

struct migsend_layout_region {
	uint64_t gpa;
	uint64_t len;
};

/*
 * The send engines.  All speak the same wire protocol to the same
 * receiver; the userspace ones also serve when the module is not loaded.
 */
enum migsend_engine {
	MIGSEND_ENGINE_AUTO,		/* kernel; user-sendfile without the module */
	MIGSEND_ENGINE_KERNEL,		/* the migsend module: zero-copy in the kernel */
	MIGSEND_ENGINE_USER_COPY,	/* like Cloud Hypervisor: write() from the
					 * mapping, 64 MiB chunks, stop-and-wait ACK
					 * per chunk, no zero-page detection
					 */
	MIGSEND_ENGINE_USER_ZC,		/* like QEMU multifd: 512 KiB batches, zero
					 * check in the send threads, MSG_ZEROCOPY,
					 * completions flushed per pass
					 */
	MIGSEND_ENGINE_USER_SENDFILE,	/* zero check on the mapping, sendfile()
					 * from the memfd for non-zero runs
					 */
};

const char *migsend_engine_name(enum migsend_engine e);
/* "auto", "kernel", "user-copy", "user-zc", "user-sendfile". */
int migsend_engine_parse(const char *name, enum migsend_engine *e);

/* Open a session on /dev/migsend (or on @dev_path when not NULL). */
int migsend_session_open(struct migsend_session **out, const char *dev_path);
/*
 * Open a session with the given engine.  AUTO falls back to user-sendfile
 * when the module is not loaded; migsend_session_engine() says which.
 */
int migsend_session_open_engine(struct migsend_session **out,
				enum migsend_engine e);
enum migsend_engine migsend_session_engine(const struct migsend_session *s);
void migsend_session_close(struct migsend_session *s);
/* The /dev/migsend fd, or -1 for a userspace engine. */
int migsend_session_fd(const struct migsend_session *s);

int migsend_get_version(struct migsend_session *s, struct migsend_version *v);
/* Register guest memory; the library remembers the layout for the handshake. */
int migsend_add_region(struct migsend_session *s, int fd, uint64_t offset,
		       uint64_t gpa, uint64_t len);
/* Returns the connection's index. */
int migsend_add_socket(struct migsend_session *s, int sock_fd);
int migsend_pass_start(struct migsend_session *s, const struct migsend_pass *p);
int migsend_pass_wait(struct migsend_session *s, struct migsend_pass_result *r);
int migsend_pass_cancel(struct migsend_session *s);
int migsend_get_stats(struct migsend_session *s, struct migsend_stats *st,
		      struct migsend_conn_stats *conns, uint32_t nconns);

/*
 * Cap the session's bandwidth: SO_MAX_PACING_RATE of @bytes_per_sec split
 * evenly over its data sockets, now and for sockets added later (0: no
 * cap).  The kernel paces each socket, whatever the engine.
 */
int migsend_set_max_bandwidth(struct migsend_session *s, uint64_t bytes_per_sec);
uint64_t migsend_max_bandwidth(const struct migsend_session *s);

/* ----- operator policy: connection count (policy.c) -------------------- */

/*
 * oVirt's policies: CUSTOM, the number given; PARALLEL, one connection per
 * 10 Gbit/s of the link to the destination, capped by the guest's vCPUs,
 * at least 2, at most max_conns; AUTO, the same but a single connection
 * where that number is below 2.  A link of unknown speed gets the policy's
 * minimum (PARALLEL 2, AUTO 1).
 */
enum migsend_conns_policy {
	MIGSEND_CONNS_CUSTOM,
	MIGSEND_CONNS_PARALLEL,
	MIGSEND_CONNS_AUTO,
};

#define MIGSEND_DEFAULT_MAX_CONNS	16

struct migsend_conns_inputs {
	uint64_t link_mbps;		/* 0: unknown */
	unsigned int cpus;		/* the guest's vCPUs; 0: no cap */
	unsigned int max_conns;		/* 0: MIGSEND_DEFAULT_MAX_CONNS */
	unsigned int custom;		/* CUSTOM: the number given */
};

struct migsend_conns_decision {
	unsigned int nconns;
	char reason[160];		/* how it was reached, for the operator */
};

/* "auto", "parallel" or a number from 1 to MIGSEND_MAX_CONNS. */
int migsend_conns_policy_parse(const char *s, enum migsend_conns_policy *p,
			       unsigned int *custom);
const char *migsend_conns_policy_name(enum migsend_conns_policy p);
int migsend_conns_decide(enum migsend_conns_policy p,
			 const struct migsend_conns_inputs *in,
			 struct migsend_conns_decision *out);

struct migsend_link {
	char ifname[16];		/* IF_NAMESIZE */
	uint64_t mbps;			/* 0: the link reports no speed */
};

/* The interface the kernel routes @host through, and its speed. */
int migsend_route_link(const char *host, struct migsend_link *link);
/* "40M", "40MB/s", "320Mbit/s", "1G": bytes per second (K, M, G are 10^3..). */
int migsend_parse_rate(const char *s, uint64_t *bytes_per_sec);

/* ----- TLS ------------------------------------------------------------ */

/*
 * TLS 1.3 on the control connection and on every data connection (see
 * docs/SECURITY.md): the handshake in the library (GnuTLS), the records in
 * the kernel (kTLS), so no engine copies guest memory for it except
 * user-copy, which encrypts in userspace as QEMU and Cloud Hypervisor do.
 */
struct migsend_tls_opts {
	/*
	 * X.509 in QEMU's layout (tls-creds-x509 dir=): ca-cert.pem, optional
	 * ca-crl.pem, and server-cert.pem + server-key.pem (destination) or
	 * client-cert.pem + client-key.pem (source).  Each side authenticates
	 * the other.
	 */
	const char *creds_dir;
	/*
	 * Or a pre-shared key file of "identity:hexkey" lines (QEMU's
	 * keys.psk): the source uses the first line, the destination all.
	 */
	const char *psk_file;
	/*
	 * The peer's identity.  Source: the name the destination's
	 * certificate must carry (NULL: the host it connects to).
	 * Destination: the source's certificate DN (a glob when it holds
	 * '='), or a host name in that certificate, or the source's PSK
	 * identity (NULL: any certificate the CA signed, any identity in the
	 * key file).
	 */
	const char *peer_name;
	/*
	 * A GnuTLS priority string; NULL: TLS 1.3 with AES-128-GCM,
	 * AES-256-GCM or ChaCha20-Poly1305, ChaCha20 first on a CPU without
	 * AES instructions.  Only ciphers the kernel's TLS has can be used.
	 */
	const char *priority;
};

/* ----- the source: connections, passes, completion -------------------- */

struct migsend_sender;

struct migsend_sender_opts {
	const char *host;		/* destination */
	const char *port;
	unsigned int nconns;		/* data connections, 1..128 */
	unsigned int connect_timeout_ms;	/* 0: 5000 */
	/* The destination's answer to HELLO may wait for it to allocate
	 * guest memory: 0: 120000.
	 */
	unsigned int handshake_timeout_ms;
	unsigned int pass_timeout_ms;	/* no progress on a connection: 0: 30000 */
	/* TLS on every connection; NULL: plaintext (see migsend_tls_opts). */
	const struct migsend_tls_opts *tls;
};

/*
 * Connect the control connection, hand over the layout and a fresh random
 * token, connect and join the data connections, and only then hand the
 * data sockets to the kernel.  Errors: EHOSTUNREACH, ECONNREFUSED,
 * ETIMEDOUT (destination unreachable), EACCES (token refused), EPROTO
 * (not a migsend receiver or an incompatible one).
 */
int migsend_sender_connect(struct migsend_session *s,
			   const struct migsend_sender_opts *o,
			   struct migsend_sender **out);

struct migsend_pass_info {
	uint64_t pass;
	uint64_t dirty_pages;
	uint64_t data_pages;
	uint64_t zero_pages;		/* holes and scanned */
	uint64_t wire_bytes;
	uint64_t elapsed_ns;		/* kernel: start to last END written */
};

/*
 * Send one pass and wait until the kernel has written all of it.  Does not
 * wait for the receiver's ACKs (see migsend_sender_wait_acked()): the next
 * pass may start at once.  Errors: ECONNABORTED (the receiver aborted: see
 * the message), ECONNRESET/EPIPE (a connection was lost), ETIMEDOUT,
 * ECANCELED (migsend_sender_cancel()).
 */
int migsend_sender_pass(struct migsend_sender *snd, uint64_t pass,
			const uint64_t *bitmap, uint64_t gpa, uint64_t npages,
			uint32_t flags, struct migsend_pass_info *info);
/* Wait until every connection acknowledged the END of @pass. */
int migsend_sender_wait_acked(struct migsend_sender *snd, uint64_t pass,
			      int timeout_ms);
/* Cancel a running pass from another thread. */
void migsend_sender_cancel(struct migsend_sender *snd);
int migsend_sender_send_state(struct migsend_sender *snd, const void *blob,
			      size_t len);
/* The migration is complete after @last_pass: wait for the destination. */
int migsend_sender_complete(struct migsend_sender *snd, uint64_t last_pass,
			    int timeout_ms);
/* Tell the destination that the migration is abandoned, and why. */
void migsend_sender_abort(struct migsend_sender *snd, int error,
			  const char *reason);
void migsend_sender_close(struct migsend_sender *snd);
/* Wire bytes the receiver acknowledged so far, over all connections. */
uint64_t migsend_sender_acked_bytes(struct migsend_sender *snd);
/* The session the sender sends with (its cap, its stats). */
struct migsend_session *migsend_sender_session(struct migsend_sender *snd);

/* ----- the destination ------------------------------------------------ */

struct migsend_hello {
	uint32_t nconns;
	uint32_t nregions;
	uint64_t total_bytes;
	uint8_t token[MIGSEND_TOKEN_LEN];
	struct migsend_layout_region regions[MIGSEND_MAX_REGIONS];
};

struct migsend_receiver_opts {
	const char *host;		/* listen address, NULL: any */
	const char *port;
	int listen_fd;			/* >= 0: use this listening socket instead */
	/*
	 * 0: 60000.  Bounds every wait on the source: for the HELLO, for the
	 * JOINs, silence inside a pass on any data connection, silence on
	 * every connection between passes and at the barrier, the DONE
	 * confirmation (docs/PROTOCOL.md, "Time limits").  Each greeting has
	 * its own 5 s limit besides.
	 */
	unsigned int timeout_ms;
	/*
	 * The most destination memory a HELLO may announce, refused (EFBIG)
	 * before anything is allocated.  0: this machine's physical memory;
	 * UINT64_MAX: no limit.  Not used by migsend_receive_into().
	 */
	uint64_t max_memory;
	bool hash;			/* hash all memory at the end */
	/*
	 * Allocate all destination memory during the handshake (as a VMM
	 * that preallocates or prefaults guest RAM does), so that passes
	 * only copy.  Without it pages are allocated as records arrive and
	 * pages that only ever receive ZERO records are never allocated.
	 */
	bool prealloc;
	/* Called for every line worth logging (refused connections ...). */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	/* TLS on every connection; NULL: plaintext (see migsend_tls_opts). */
	const struct migsend_tls_opts *tls;
	/*
	 * For a VMM that takes the guest over (the QEMU path, docs/QEMU.md).
	 * ready() is called once every pass is applied, before DONE, with the
	 * device state (NULL, 0 when none came): the VMM loads it; non-zero
	 * (a negative errno, the reason in @why) refuses the migration with
	 * an ABORT, and the source keeps the guest.  confirmed() is called
	 * once the source's DONE came back, with the control connection,
	 * before it closes: the guest is the destination's now, and the VMM
	 * may say it runs it (migsend_handover_running()).
	 */
	int (*ready)(void *ctx, const void *state, size_t len, char *why, size_t why_size);
	void (*confirmed)(void *ctx, int ctl);
	void *vmm_ctx;
};

struct migsend_receiver_result {
	uint64_t last_pass;
	uint64_t passes;
	uint64_t bytes;			/* record bytes received */
	uint64_t data_pages;
	uint64_t zero_pages;
	uint64_t refused;		/* connections refused */
	uint64_t hash;			/* with opts.hash */
	uint32_t nregions;
	struct migsend_layout_region regions[MIGSEND_MAX_REGIONS];
	int memfds[MIGSEND_MAX_REGIONS];	/* the destination memory */
	void *state;			/* the device state, malloc()ed */
	size_t state_len;
};

/*
 * Run the destination side of one migration: returns 0 once the last pass
 * is fully applied and the sender's COMPLETE arrived, with the memory in
 * res->memfds (owned by the caller, as is res->state).  On failure
 * (ECONNABORTED: the sender aborted or went away; EBADMSG/ERANGE: a bad
 * record; ETIMEDOUT: the source went silent; EFBIG: it announced more
 * memory than opts->max_memory; ...) nothing in @res counts as migrated and
 * the memory is freed.  One exception, ENOTCONN: every pass was applied and
 * DONE sent, but the source never confirmed it (docs/PROTOCOL.md, "The
 * handover"): @res holds the complete memory (free it as on success), and
 * whether the source knows is unknown: run the guest only once the source
 * is known to have stopped.
 */
int migsend_receive(const struct migsend_receiver_opts *o,
		    struct migsend_receiver_result *res);

/* Destination memory the caller owns: [offset, offset + len) of @fd is guest [gpa, gpa + len). */
struct migsend_dest_region {
	int fd;				/* memfd, tmpfs or hugetlbfs file, open read-write */
	uint64_t offset;
	uint64_t gpa;
	uint64_t len;
};

/*
 * Like migsend_receive(), but into the caller's memory: the source's HELLO
 * must announce exactly these regions (any order here; gpa, offset and
 * len page aligned, whole huge pages on hugetlbfs), or it is refused with
 * EINVAL and an ABORT naming the difference.  Nothing is allocated; pages
 * that are not holes of the files count as non-zero, so ZERO records clear
 * them (punched holes on whole huge pages, memset elsewhere).
 * res->memfds[] are -1: the fds stay the caller's.
 */
int migsend_receive_into(const struct migsend_receiver_opts *o,
			 const struct migsend_dest_region *regions, unsigned int n,
			 struct migsend_receiver_result *res);
void migsend_receiver_result_free(struct migsend_receiver_result *res);

/* ----- memory hash ---------------------------------------------------- */

/*
 * XXH3-64 of the memory behind @fds, region after region, read with
 * pread() so that holes are not allocated.
 */
int migsend_hash_memory(const int *fds, const uint64_t *offsets,
			const uint64_t *lens, unsigned int n, uint64_t *hash);

/* ----- the pre-copy loop ---------------------------------------------- */

/*
 * The guest the pre-copy loop migrates: where it gets each pass's dirty
 * log and how it stops the guest before the final pass.  A VMM gives its
 * own (KVM's dirty log, its vCPU pause); the CLI gives QEMU's (soft-dirty
 * log, QMP stop) or the simulator's.
 */
struct migsend_guest_ops {
	/*
	 * Get and clear the dirty log: one bit per 4 KiB page of
	 * [gpa, gpa + npages * 4 KiB), little-endian 64-bit words, valid
	 * until the next call.  A page written after the call must be in the
	 * next log.  Returns 0 or a negative errno.
	 */
	int (*take_dirty)(void *ctx, const uint64_t **bitmap);
	/* Stop the guest's writes: the final pass follows.  0 or -errno. */
	int (*pause)(void *ctx);
	/*
	 * Optional: pass 1's bitmap, every page of guest memory, where the
	 * range has holes no region covers (RAM above 4 GiB).  Without it
	 * pass 1 sends every page of the range.
	 */
	int (*all_pages)(void *ctx, const uint64_t **bitmap);
	/*
	 * Optional: the device state, asked for once the final pass is sent
	 * (the guest is paused); it replaces migsend_precopy_opts.state and
	 * stays valid until the loop returns.  0 or -errno.
	 */
	int (*device_state)(void *ctx, const void **blob, size_t *len);
};

struct migsend_guest {
	const struct migsend_guest_ops *ops;
	void *ctx;
	uint64_t gpa;			/* the range the logs cover */
	uint64_t npages;
};

enum migsend_timeout_strategy {
	MIGSEND_TIMEOUT_CANCEL,		/* give up: ETIMEDOUT */
	MIGSEND_TIMEOUT_PROCEED,	/* run the final pass anyway */
};

struct migsend_precopy_report {
	struct migsend_pass_info info;
	uint64_t estimate_ns;		/* predicted time of the next pass */
	bool final;
	/*
	 * Start of the pass to the destination's ACK of its END on every
	 * connection (0 for the final pass: COMPLETE covers it).  Longer than
	 * info.elapsed_ns by what was still in flight when the kernel was
	 * done; the estimate is made from this time.
	 */
	uint64_t acked_ns;
};

struct migsend_precopy_opts {
	uint64_t downtime_ms;		/* 0: 300 */
	unsigned int max_passes;	/* 0: 30 */
	uint64_t timeout_ms;		/* 0: none */
	enum migsend_timeout_strategy timeout_strategy;
	uint32_t pass_flags;		/* MIGSEND_PASS_* */
	/*
	 * Keep the session's bandwidth cap (migsend_set_max_bandwidth()) for
	 * the final pass.  By default it is lifted once the guest is paused,
	 * as QEMU's switchover lifts max-bandwidth: downtime is the cost
	 * that matters then.
	 */
	bool cap_final_pass;
	/* Called before every pass with its dirty page count, and after it. */
	void (*on_pass_start)(void *ctx, uint64_t pass, uint64_t dirty_pages);
	void (*on_pass)(void *ctx, const struct migsend_precopy_report *r);
	void *ctx;
	/* Device state sent after the final pass. */
	const void *state;
	size_t state_len;
	/*
	 * Test only: leave out of the final pass this many pages the
	 * destination certainly has stale (written after the last pass sent
	 * them), highest first, so that a guest check there must fail (the
	 * negative control of the QEMU tests).  The loop then runs at least
	 * three passes: only a pass after pass 1 tells which pages those are.
	 */
	uint64_t test_drop_final_pages;
};

struct migsend_precopy_result {
	uint64_t passes;
	uint64_t downtime_ns;		/* pause to destination's DONE */
	uint64_t total_ns;
	uint64_t wire_bytes;
	bool timed_out;
	uint64_t test_dropped_pages;	/* test_drop_final_pages: how many were left out */
};

/*
 * Migrate @g over @snd: a full pass, passes of the dirty log until the
 * next is estimated to fit the downtime target, then pause, final pass,
 * device state, COMPLETE.  The guest is paused only once every earlier
 * pass succeeded.
 */
int migsend_precopy_run(struct migsend_sender *snd, const struct migsend_guest *g,
			const struct migsend_precopy_opts *o,
			struct migsend_precopy_result *res);

/* ----- netlink: stats and events (libnl-3) ----------------------------- */

struct migsend_nl_session {
	uint32_t id;
	uint32_t pid;
	uint64_t pass;
	uint32_t state;
	uint32_t error;
	uint32_t nregions;
	uint32_t nconns;
	struct migsend_counters last;
	struct migsend_counters total;
};

struct migsend_nl_event {
	uint32_t event;			/* enum migsend_event */
	uint32_t session;
	uint32_t pid;
	uint64_t pass;
	uint32_t state;
	uint32_t error;
	int32_t conn;			/* CONN_DEAD: index, else -1 */
	uint64_t wire_bytes;		/* PASS_DONE: the pass's */
};

/* Call @cb for each live session; returns the count or -errno. */
int migsend_nl_dump(void (*cb)(void *ctx, const struct migsend_nl_session *s),
		    void *ctx);
/* Call @cb for each event until it returns non-zero or @max_events seen. */
int migsend_nl_monitor(int (*cb)(void *ctx, const struct migsend_nl_event *e),
		       void *ctx, unsigned int max_events, int timeout_ms);

/* ----- the dirty log of another process: soft-dirty (dirtylog.c) ------- */

/*
 * For a VMM that does not hand migsend its own dirty log (QEMU, unchanged):
 * the pages a process wrote, from the kernel's soft-dirty bits of its page
 * tables.  Needs CONFIG_MEM_SOFT_DIRTY, and the right to read
 * /proc/PID/pagemap and write /proc/PID/clear_refs (root, or the owner).
 * Limits (docs/ARCHITECTURE.md, "Integrating migsend into a VMM"):
 * - reading and clearing are two calls: a page first written between them
 *   is in no log.  Stop the writers around migsend_dirtylog_take().
 * - hugetlbfs mappings have no soft-dirty bits: they count as clean except
 *   in a final read, where every page of them counts as dirty.
 * - only writes through the process's own page tables are seen (its
 *   threads, KVM, vhost kernel threads; not another process's mapping), and
 *   a page the kernel unmapped since (swapped out, collapsed into a huge
 *   page) loses its bit: keep guest RAM locked and shmem THP off.
 */
struct migsend_dirtylog;

/* [addr, addr + len) of the process's address space is guest [gpa, gpa + len). */
struct migsend_dirtylog_range {
	uint64_t addr;
	uint64_t gpa;
	uint64_t len;
};

enum migsend_dirtylog_method {
	MIGSEND_DIRTYLOG_AUTO,		/* PAGEMAP_SCAN where the kernel has it, else pagemap */
	MIGSEND_DIRTYLOG_PAGEMAP,	/* read /proc/PID/pagemap: 8 bytes a page, bit 55 */
	MIGSEND_DIRTYLOG_SCAN,		/* the PAGEMAP_SCAN ioctl (Linux 6.7): dirty ranges only */
};

struct migsend_dirtylog_stats {
	uint64_t read_ns;		/* the last read */
	uint64_t clear_ns;		/* the last clear */
	uint64_t dirty_pages;		/* in the last read */
};

/*
 * 0 when this kernel keeps soft-dirty bits; -EOPNOTSUPP (the message names
 * CONFIG_MEM_SOFT_DIRTY) when it does not.
 */
int migsend_dirtylog_supported(void);

/*
 * A log of process @pid's writes to the ranges @r (page aligned, mapped,
 * not overlapping), one bit per 4 KiB page of [gpa, gpa + npages * 4 KiB)
 * in the layout of the pre-copy loop's bitmaps.  It starts with whatever
 * the process's bits say: clear it to start from now.  Errors: EOPNOTSUPP
 * (no soft-dirty bits, or no PAGEMAP_SCAN when asked for it), EINVAL (a
 * range unaligned, outside the log, overlapping, or not mapped by the
 * process), ESRCH, EACCES, EPERM.
 */
int migsend_dirtylog_open(int pid, const struct migsend_dirtylog_range *r, unsigned int n,
			  uint64_t gpa, uint64_t npages, enum migsend_dirtylog_method m,
			  struct migsend_dirtylog **out);
enum migsend_dirtylog_method migsend_dirtylog_method(const struct migsend_dirtylog *d);
const char *migsend_dirtylog_method_name(enum migsend_dirtylog_method m);
/* Whether a range is hugetlbfs memory (no soft-dirty bits: see above). */
bool migsend_dirtylog_untracked(const struct migsend_dirtylog *d);
/* Start a new log: clear the soft-dirty bits of every mapping of the process. */
int migsend_dirtylog_clear(struct migsend_dirtylog *d);
/*
 * The pages written since the last clear, without clearing; @final counts
 * every hugetlbfs page as dirty.  The bitmap is valid until the next read.
 */
int migsend_dirtylog_read(struct migsend_dirtylog *d, bool final, const uint64_t **bitmap);
/*
 * Read, then clear.  Atomic with respect to the process's writes only
 * while they are stopped (for QEMU: QMP stop and cont around it).
 */
int migsend_dirtylog_take(struct migsend_dirtylog *d, const uint64_t **bitmap);
/* How long the last read and clear took, and what the read found. */
void migsend_dirtylog_last(const struct migsend_dirtylog *d, struct migsend_dirtylog_stats *st);
void migsend_dirtylog_close(struct migsend_dirtylog *d);

/* ----- who runs the guest after the handover (handover.c) --------------- */

/*
 * For a VMM that resumes the guest itself on the destination (the QEMU
 * path; docs/PROTOCOL.md, "Who runs the guest").  After the source's DONE
 * (in migsend_receiver_opts.confirmed()) the destination says, once, that
 * the guest runs there (RUNNING), with the time it resumed it by its own
 * clock (microseconds since the epoch, 0: unknown); or, if it cannot run
 * it, it sends an ABORT and never runs it.
 */
int migsend_handover_running(int ctl, uint64_t resumed_us);
/*
 * The source, after migsend_sender_complete() returned 0: wait for that
 * answer.  0 and the time; -ECONNABORTED: the destination will not run the
 * guest (its reason in migsend_last_error()); -ECONNRESET or -ETIMEDOUT:
 * no answer, so whether it runs the guest is unknown.
 */
int migsend_handover_wait_running(int ctl, int timeout_ms, uint64_t *resumed_us);
/* The control connection of a sender, for what follows DONE. */
int migsend_sender_control_fd(const struct migsend_sender *snd);

#ifdef __cplusplus
}
#endif

#endif /* LIBMIGSEND_H */
