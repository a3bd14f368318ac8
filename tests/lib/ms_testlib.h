/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the migsend kselftests: the device, capabilities,
 * real TCP connections into a peer network namespace, guest memory in
 * memfds, and a reference receiver that applies the wire records.
 */
#ifndef MS_TESTLIB_H
#define MS_TESTLIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/migsend.h>

#define MS_DEV		"/dev/migsend"
#define MS_PEER_NETNS	"mspeer"
#define MS_PEER_ADDR	"10.77.0.2"	/* inside the test VM's own netns */
#define MS_LOCAL_ADDR	"10.77.0.1"

/* Live objects in a slab cache after flushing its per-CPU slabs, or -1. */
long ms_slab_objects(const char *cache);
/* Drop one capability from the effective set of the calling thread. */
int ms_drop_cap(int cap);

/* Path of iproute2's ip. */
const char *ms_ip(void);
/* Create the peer netns and a veth pair to it, once per process. */
int ms_net_setup(void);
/* @n connected TCP pairs: send_fds[i] here, recv_fds[i] in the peer netns. */
int ms_tcp_pairs(int n, int *send_fds, int *recv_fds);
void ms_close_fds(int *fds, int n);

/* A memfd of @len bytes (MFD_HUGETLB when @huge), mapped shared. */
struct ms_mem {
	int fd;
	uint8_t *p;
	size_t len;
};
int ms_mem_create(struct ms_mem *m, size_t len, bool huge);
void ms_mem_destroy(struct ms_mem *m);
/* Fill pages [first, first + n) with pseudo-random bytes from @seed. */
void ms_mem_fill_random(struct ms_mem *m, size_t first, size_t n, uint64_t seed);

/* A dirty bitmap over @npages pages, in the documented layout. */
struct ms_bitmap {
	uint64_t *words;
	uint64_t npages;
};
int ms_bitmap_alloc(struct ms_bitmap *b, uint64_t npages);
void ms_bitmap_free(struct ms_bitmap *b);
void ms_bitmap_set(struct ms_bitmap *b, uint64_t first, uint64_t n);
void ms_bitmap_clear_all(struct ms_bitmap *b);
uint64_t ms_bitmap_count(const struct ms_bitmap *b);
/* A listening TCP socket on @addr:@port (in the caller's netns). */
int ms_tcp_listen_fd(const char *addr, const char *port);

/*
 * Reference receiver: one thread per connection applies records to a
 * destination buffer standing for guest-physical [gpa_base, gpa_base+len).
 * Records of pass N+1 are applied only after every connection delivered
 * its END of pass N, as docs/PROTOCOL.md requires.
 */
struct ms_rx_conn {
	struct ms_rx *rx;
	int fd;
	pthread_t thread;
	uint64_t end_pass;	/* last END seen, +1 (0: none) */
	uint64_t records, bytes, data_pages, zero_pages;	/* since END */
	uint64_t total_bytes;
	uint64_t sparse_records;	/* all passes */
};

struct ms_rx {
	uint8_t *mem;
	uint64_t gpa_base;
	uint64_t len;
	int nconns;
	struct ms_rx_conn *conns;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t done_pass;	/* every connection's END seen for pass done_pass - 1 */
	int error;		/* first error: negative errno */
	char errmsg[160];
};

int ms_rx_start(struct ms_rx *rx, uint8_t *mem, uint64_t gpa_base,
		uint64_t len, const int *fds, int nconns);
/* Wait until pass @pass is complete at the receiver; 0, or -error. */
int ms_rx_wait_pass(struct ms_rx *rx, uint64_t pass, int timeout_ms);
/* Close the receiving sockets and join the threads. */
void ms_rx_stop(struct ms_rx *rx);

/* Session helpers. */
int ms_open(void);
int ms_add_region(int dev, int fd, uint64_t offset, uint64_t gpa, uint64_t len);
int ms_add_sock(int dev, int fd);
int ms_pass_start(int dev, uint64_t pass, const struct ms_bitmap *b,
		  uint64_t gpa, uint32_t flags);
int ms_pass_wait(int dev, struct migsend_pass_result *res);
/* -1 with errno set, like the ioctl itself. */

uint64_t ms_hash(const void *p, size_t len);

#endif /* MS_TESTLIB_H */
