// SPDX-License-Identifier: GPL-2.0
/*
 * migsend_fuzz: randomized hostile calls of every ioctl and of the netlink
 * family, reproducible from a seed.
 *
 *   migsend_fuzz [--iterations N] [--seed S] [--threads T]
 *
 * Each thread owns a random stream seeded from (seed, thread) and makes N
 * calls on a pool of sessions it shares with the other threads: ADD_REGION,
 * ADD_SOCK, PASS_START, PASS_WAIT (non-blocking), PASS_CANCEL, GET_STATS,
 * VERSION, unknown numbers, close-and-reopen, and genetlink messages with
 * random commands, flags and attributes.  Arguments are hostile: every
 * kind of wrong fd (pipe, UDP, listening TCP, UNIX, closed, a socket held
 * by another session, the session fd itself, memfds of the wrong size),
 * zero and huge sizes, overflowing addresses, unaligned values, argument
 * and bitmap pointers into unmapped, read-only and kernel memory.
 *
 * Only the errnos uapi/linux/migsend.h documents for each ioctl may come
 * back; anything else is reported with the seed and the call.  Prints TAP:
 * one result per thread and one for netlink.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ms_testlib.h"

#define NSESSIONS	4
#define MAX_THREADS	8
#define PAGE		MIGSEND_PAGE_SIZE

enum fdkind {
	FD_MEMFD, FD_MEMFD_SMALL, FD_HUGE, FD_PIPE, FD_UDP, FD_LISTEN, FD_UNIX,
	FD_CLOSED, FD_TCP, FD_TCP_OTHER, FD_SESSION, FD_NEGATIVE, FD_DEVNULL,
	FD_KINDS
};

static int fds[FD_KINDS];
static int tcp_pool[16], tcp_peer[16];
static int sessions[NSESSIONS];
/* Calls hold it shared, a close-and-reopen exclusively: an fd number is
 * never reused under a call.
 */
static pthread_rwlock_t session_lock = PTHREAD_RWLOCK_INITIALIZER;
static void *unmapped, *readonly;
static uint64_t *bitmap;
static uint64_t seed;
static long iterations = 100000;
static atomic_long calls, bad;

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t pick(struct rng *r, uint64_t n)
{
	return rnd(r) % n;
}

/* Sizes and addresses an attacker would try. */
static uint64_t hostile_u64(struct rng *r)
{
	static const uint64_t v[] = {
		0, 1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 1 << 20, 2 << 20, 4 << 20,
		8 << 20, 1ULL << 30, 1ULL << 40, 1ULL << 52, ~0ULL, ~0ULL - PAGE + 1,
		~0ULL & ~(PAGE - 1), 0x8000000000000000ULL, 0x7fffffffffffffffULL,
	};

	if (pick(r, 4) == 0)
		return rnd(r) & ~(PAGE - 1) & ((1ULL << 44) - 1);
	return v[pick(r, sizeof(v) / sizeof(v[0]))];
}

static int hostile_fd(struct rng *r)
{
	int k = pick(r, FD_KINDS);

	if (k == FD_TCP)
		return tcp_pool[pick(r, 16)];
	if (k == FD_SESSION)
		return sessions[pick(r, NSESSIONS)];
	if (k == FD_NEGATIVE)
		return -(int)pick(r, 3) - 1;
	return fds[k];
}

/* An argument pointer: usually good, sometimes unmapped, read-only, kernel. */
static void *hostile_ptr(struct rng *r, void *good)
{
	switch (pick(r, 12)) {
	case 0: return NULL;
	case 1: return unmapped;
	case 2: return readonly;
	case 3: return (void *)0xffff888000000000ULL;
	case 4: return (void *)(uintptr_t)0x10;
	default: return good;
	}
}

/* The errnos uapi/linux/migsend.h documents, per ioctl. */
static bool documented(unsigned long cmd, int err)
{
	static const int region[] = { EBADF, EACCES, ENODEV, EINVAL, EOVERFLOW,
				      ENXIO, EEXIST, ENOSPC, EBUSY, EFAULT, 0 };
	static const int sock[] = { EBADF, ENOTSOCK, EPROTOTYPE, ENOTCONN,
				    EPROTONOSUPPORT, EEXIST, EBUSY, ENOSPC,
				    EINVAL, ENOMEM, EFAULT, 0 };
	static const int start[] = { EINVAL, EOVERFLOW, E2BIG, EFAULT, ECANCELED,
				     EINTR, ENOTCONN, ENOENT, EPIPE, EBUSY,
				     ENOMEM, 0 };
	static const int wait[] = { ENOENT, EAGAIN, EINTR, EFAULT, 0 };
	static const int stats[] = { EINVAL, EFAULT, ENOMEM, 0 };
	static const int version[] = { EFAULT, 0 };
	static const int none[] = { 0 };
	const int *ok;

	switch (cmd) {
	case MIGSEND_IOC_ADD_REGION: ok = region; break;
	case MIGSEND_IOC_ADD_SOCK: ok = sock; break;
	case MIGSEND_IOC_PASS_START: ok = start; break;
	case MIGSEND_IOC_PASS_WAIT: ok = wait; break;
	case MIGSEND_IOC_GET_STATS: ok = stats; break;
	case MIGSEND_IOC_VERSION: ok = version; break;
	case MIGSEND_IOC_PASS_CANCEL: ok = none; break;
	default: return err == ENOTTY;
	}
	for (; *ok; ok++)
		if (*ok == err)
			return true;
	return false;
}

static const char *cmd_name(unsigned long cmd)
{
	switch (cmd) {
	case MIGSEND_IOC_ADD_REGION: return "ADD_REGION";
	case MIGSEND_IOC_ADD_SOCK: return "ADD_SOCK";
	case MIGSEND_IOC_PASS_START: return "PASS_START";
	case MIGSEND_IOC_PASS_WAIT: return "PASS_WAIT";
	case MIGSEND_IOC_GET_STATS: return "GET_STATS";
	case MIGSEND_IOC_VERSION: return "VERSION";
	case MIGSEND_IOC_PASS_CANCEL: return "PASS_CANCEL";
	default: return "unknown";
	}
}

/* Close a session (its sockets and regions go with it) and open a new one. */
static void reopen(struct rng *r)
{
	int i = pick(r, NSESSIONS);

	pthread_rwlock_wrlock(&session_lock);
	close(sessions[i]);
	sessions[i] = ms_open();
	pthread_rwlock_unlock(&session_lock);
}

static void one_call(struct rng *r, uint64_t tid, long n)
{
	union {
		struct migsend_region region;
		struct migsend_sock sock;
		struct migsend_pass pass;
		struct migsend_pass_result res;
		struct migsend_stats st;
		struct migsend_version v;
		uint8_t raw[512];
	} a;
	struct migsend_conn_stats cs[4];
	unsigned long cmd;
	int dev, ret;

	memset(&a, 0, sizeof(a));
	switch (pick(r, 10)) {
	case 0:
	case 1:
		cmd = MIGSEND_IOC_ADD_REGION;
		a.region = (struct migsend_region){
			.fd = hostile_fd(r), .flags = pick(r, 8) ? 0 : rnd(r),
			.offset = hostile_u64(r), .gpa = hostile_u64(r),
			.len = hostile_u64(r),
		};
		break;
	case 2:
	case 3:
		cmd = MIGSEND_IOC_ADD_SOCK;
		a.sock = (struct migsend_sock){ .fd = hostile_fd(r),
						.flags = pick(r, 8) ? 0 :
							 pick(r, 2) ? MIGSEND_SOCK_KTLS :
							 rnd(r) };
		break;
	case 4:
		cmd = MIGSEND_IOC_PASS_START;
		a.pass = (struct migsend_pass){
			.pass = pick(r, 2) ? (uint64_t)n * MAX_THREADS + tid : rnd(r),
			.bitmap = (uintptr_t)hostile_ptr(r, bitmap),
			.gpa = hostile_u64(r), .npages = pick(r, 2) ? pick(r, 4096) : hostile_u64(r),
			.flags = pick(r, 4) ? MIGSEND_PASS_SKIP_ZERO |
					      (pick(r, 2) ? MIGSEND_PASS_SPARSE : 0) : rnd(r),
			.timeout_ms = pick(r, 2) ? 200 : 0,
		};
		break;
	case 5:
		cmd = MIGSEND_IOC_PASS_WAIT;
		break;
	case 6:
		cmd = MIGSEND_IOC_PASS_CANCEL;
		break;
	case 7:
		cmd = MIGSEND_IOC_GET_STATS;
		a.st.nconns = pick(r, 2) ? 4 : rnd(r);
		a.st.conns = (uintptr_t)hostile_ptr(r, cs);
		a.st.reserved = pick(r, 8) ? 0 : 1;
		break;
	case 8:
		cmd = pick(r, 2) ? MIGSEND_IOC_VERSION :
		      _IOC(pick(r, 4), pick(r, 2) ? MIGSEND_IOC_MAGIC : pick(r, 256),
			   pick(r, 16), pick(r, 512));
		break;
	default:
		if (pick(r, 20) == 0)
			reopen(r);
		return;
	}
	pthread_rwlock_rdlock(&session_lock);
	dev = sessions[pick(r, NSESSIONS)];
	/* Never block: PASS_WAIT answers EAGAIN while a pass runs. */
	fcntl(dev, F_SETFL, O_RDWR | O_NONBLOCK);
	ret = ioctl(dev, cmd, cmd == MIGSEND_IOC_PASS_CANCEL ? NULL : hostile_ptr(r, &a));
	pthread_rwlock_unlock(&session_lock);
	atomic_fetch_add(&calls, 1);
	if (ret < 0 && !documented(cmd, errno)) {
		atomic_fetch_add(&bad, 1);
		printf("# seed %llu thread %llu call %ld: %s (%#lx) gave undocumented %s\n",
		       (unsigned long long)seed, (unsigned long long)tid, n,
		       cmd_name(cmd), cmd, strerror(errno));
	}
}

static void *fuzz_thread(void *arg)
{
	uint64_t tid = (uintptr_t)arg;
	struct rng r = { .s = seed * 1000003 + tid };
	long n;

	for (n = 0; n < iterations; n++)
		one_call(&r, tid, n);
	return NULL;
}

/* ----- netlink: random messages to the family ------------------------- */

static int nl_family(int fd)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char buf[256];
	} req = {
		.n = { .nlmsg_type = GENL_ID_CTRL, .nlmsg_flags = NLM_F_REQUEST,
		       .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) },
		.g = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 },
	};
	struct nlattr *na = (void *)((char *)&req + req.n.nlmsg_len);
	char resp[8192];
	ssize_t len;

	na->nla_type = CTRL_ATTR_FAMILY_NAME;
	na->nla_len = NLA_HDRLEN + sizeof(MIGSEND_GENL_NAME);
	memcpy((char *)na + NLA_HDRLEN, MIGSEND_GENL_NAME, sizeof(MIGSEND_GENL_NAME));
	req.n.nlmsg_len += NLA_ALIGN(na->nla_len);
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
		return -1;
	len = recv(fd, resp, sizeof(resp), 0);
	if (len < (ssize_t)NLMSG_LENGTH(GENL_HDRLEN))
		return -1;
	na = (void *)(resp + NLMSG_LENGTH(GENL_HDRLEN));
	while ((char *)na < resp + len && na->nla_len >= NLA_HDRLEN) {
		if (na->nla_type == CTRL_ATTR_FAMILY_ID)
			return *(uint16_t *)((char *)na + NLA_HDRLEN);
		na = (void *)((char *)na + NLA_ALIGN(na->nla_len));
	}
	return -1;
}

/* Send @n random requests; drain what comes back.  0 when the kernel
 * answered each with data or an error, never hung.
 */
static int nl_fuzz(long n)
{
	struct timeval tv = { .tv_sec = 2 };
	struct rng r = { .s = seed * 7919 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	int family, i;
	char buf[16384];

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	family = nl_family(fd);
	if (family < 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct {
			struct nlmsghdr n;
			struct genlmsghdr g;
			uint8_t attrs[128];
		} m;
		size_t alen = pick(&r, sizeof(m.attrs) / 4 + 1) * 4, k;

		memset(&m, 0, sizeof(m));
		for (k = 0; k < alen; k++)
			m.attrs[k] = rnd(&r);
		/* Some attributes well formed, with random types and lengths. */
		if (alen >= 8 && pick(&r, 2)) {
			struct nlattr *na = (void *)m.attrs;

			na->nla_len = NLA_HDRLEN + pick(&r, alen - NLA_HDRLEN + 1);
			na->nla_type = pick(&r, MIGSEND_A_MAX + 3);
		}
		m.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + alen;
		m.n.nlmsg_type = family;	/* never another family's */
		m.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
				  (pick(&r, 2) ? NLM_F_DUMP : 0);
		m.n.nlmsg_seq = i;
		m.g.cmd = pick(&r, MIGSEND_CMD_MAX + 4);
		m.g.version = pick(&r, 3);
		m.g.reserved = pick(&r, 8) ? 0 : rnd(&r);
		if (send(fd, &m, m.n.nlmsg_len, 0) < 0)
			continue;
		/* Read until the ACK / error / end of dump. */
		for (;;) {
			ssize_t len = recv(fd, buf, sizeof(buf), 0);
			struct nlmsghdr *h = (void *)buf;
			bool done = false;

			if (len < 0) {
				close(fd);
				return -1;	/* no answer: hung */
			}
			for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
				if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
					done = true;
			if (done)
				break;
		}
		atomic_fetch_add(&calls, 1);
	}
	close(fd);
	return 0;
}

/* ----- setup ------------------------------------------------------------- */

static int setup(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int p[2], holder, i;

	fds[FD_MEMFD] = memfd_create("fuzz", 0);
	fds[FD_MEMFD_SMALL] = memfd_create("fuzz-small", 0);
	fds[FD_HUGE] = memfd_create("fuzz-huge", MFD_HUGETLB);
	if (fds[FD_MEMFD] < 0 || ftruncate(fds[FD_MEMFD], 8 << 20) ||
	    ftruncate(fds[FD_MEMFD_SMALL], PAGE))
		return -1;
	if (fds[FD_HUGE] >= 0 && ftruncate(fds[FD_HUGE], 4 << 20))
		fds[FD_HUGE] = fds[FD_MEMFD];
	if (pipe(p))
		return -1;
	fds[FD_PIPE] = p[0];
	fds[FD_UDP] = socket(AF_INET, SOCK_DGRAM, 0);
	fds[FD_LISTEN] = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fds[FD_LISTEN], (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fds[FD_LISTEN], 4) || socketpair(AF_UNIX, SOCK_STREAM, 0, p))
		return -1;
	fds[FD_UNIX] = p[0];
	fds[FD_CLOSED] = dup(p[1]);
	close(fds[FD_CLOSED]);
	fds[FD_DEVNULL] = open("/dev/null", O_RDONLY);
	if (ms_tcp_pairs(16, tcp_pool, tcp_peer))
		return -1;
	/* A socket held by a session nobody fuzzes. */
	holder = ms_open();
	fds[FD_TCP_OTHER] = tcp_pool[15];
	if (holder < 0 || ms_add_sock(holder, fds[FD_TCP_OTHER]) < 0)
		return -1;
	/* The peers never read: passes fill the sockets and stall. */
	for (i = 0; i < NSESSIONS; i++)
		sessions[i] = ms_open();
	unmapped = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(unmapped, PAGE);
	readonly = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bitmap = calloc(512, 8);
	memset(bitmap, 0xff, 512 * 8);
	return bitmap ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ 0 }
	};
	pthread_t t[MAX_THREADS];
	int threads = 4, opt, i, nl;

	seed = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': iterations = atol(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 't': threads = atoi(optarg); break;
		default: return 2;
		}
	}
	if (threads < 1 || threads > MAX_THREADS)
		return 2;
	printf("TAP version 13\n1..%d\n", threads + 1);
	printf("# seed %llu, %d threads x %ld calls\n", (unsigned long long)seed,
	       threads, iterations);
	if (setup()) {
		printf("Bail out! setup failed: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, fuzz_thread, (void *)(uintptr_t)i);
	nl = nl_fuzz(iterations / 10 + 100);
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		printf("%sok %d ioctl_thread_%d\n", atomic_load(&bad) ? "not " : "",
		       i + 1, i);
	}
	printf("%sok %d netlink\n", nl ? "not " : "", threads + 1);
	printf("# %ld calls, %ld undocumented errnos\n", atomic_load(&calls),
	       atomic_load(&bad));
	for (i = 0; i < NSESSIONS; i++)
		close(sessions[i]);
	return atomic_load(&bad) || nl ? 1 : 0;
}
