// SPDX-License-Identifier: GPL-2.0
/*
 * migsend sessions: memory regions and data connections.
 *
 * Configuration changes and pass starts are serialised by the session's
 * mutex.  A connection's socket may belong to one session only; the list
 * of all connections, under ms_global_lock, enforces that.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bsearch.h>
#include <linux/file.h>
#include <linux/idr.h>
#include <linux/kthread.h>
#include <linux/overflow.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/tcp_states.h>
#include <net/tls.h>

#include "migsend.h"
#include "ms_range.h"
#include "trace.h"

static DEFINE_MUTEX(ms_global_lock);
static LIST_HEAD(ms_all_conns);
static LIST_HEAD(ms_all_sessions);
static u64 ms_session_serial;		/* the last one given out */
static DEFINE_IDA(ms_session_ida);
static struct kmem_cache *ms_session_cache;

struct ms_session *ms_session_create(void)
{
	struct ms_session *s;
	int id;

	s = kmem_cache_zalloc(ms_session_cache, GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	id = ida_alloc(&ms_session_ida, GFP_KERNEL);
	if (id < 0) {
		kmem_cache_free(ms_session_cache, s);
		return ERR_PTR(id);
	}
	ms_pass_init(&s->pass);
	s->id = id;
	s->pid = task_tgid_nr(current);
	mutex_init(&s->lock);
	spin_lock_init(&s->state_lock);
	init_waitqueue_head(&s->work_wq);
	init_waitqueue_head(&s->done_wq);

	mutex_lock(&ms_global_lock);
	s->serial = ++ms_session_serial;
	list_add_tail(&s->global_node, &ms_all_sessions);
	mutex_unlock(&ms_global_lock);
	trace_migsend_session_open(s->id, s->pid);
	return s;
}

static void ms_conn_destroy(struct ms_conn *c)
{
	struct sock *sk = c->sock->sk;

	kthread_stop(c->thread);
	put_task_struct(c->thread);

	mutex_lock(&ms_global_lock);
	list_del(&c->global_node);
	mutex_unlock(&ms_global_lock);

	lock_sock(sk);
	sk->sk_sndtimeo = c->saved_sndtimeo;
	release_sock(sk);
	sockfd_put(c->sock);
	ms_tx_free(&c->tx);
	kfree(c);
}

void ms_session_destroy(struct ms_session *s)
{
	unsigned int i;

	mutex_lock(&ms_global_lock);
	list_del(&s->global_node);
	mutex_unlock(&ms_global_lock);

	/* Stop a running pass; the threads see it within MS_SNDTIMEO. */
	ms_pass_cancel(s, -ECANCELED);
	for (i = 0; i < s->nconns; i++)
		ms_conn_destroy(s->conns[i]);
	trace_migsend_session_close(s->id, s->pid, s->pass.number, &s->total);
	for (i = 0; i < s->nregions; i++)
		fput(s->regions[i].file);
	kfree(s->regions);
	ms_pass_free(&s->pass);
	ms_nl_event_session_closed(s);
	ida_free(&ms_session_ida, s->id);
	mutex_destroy(&s->lock);
	kmem_cache_free(ms_session_cache, s);
}

static int ms_region_cmp(const void *key, const void *elt)
{
	const struct ms_region *r = elt;

	return ms_gpa_cmp(*(const u64 *)key, r->gpa, r->len);
}

const struct ms_region *ms_session_find_region(const struct ms_session *s,
					       u64 gpa)
{
	return bsearch(&gpa, s->regions, s->nregions, sizeof(*s->regions),
		       ms_region_cmp);
}

/* Index at which a region starting at @gpa is to be inserted. */
static unsigned int ms_region_slot(const struct ms_session *s, u64 gpa)
{
	unsigned int i = 0;

	while (i < s->nregions && s->regions[i].gpa < gpa)
		i++;
	return i;
}

static bool ms_region_overlaps(const struct ms_session *s, unsigned int slot,
			       u64 gpa, u64 len)
{
	if (slot > 0) {
		const struct ms_region *prev = &s->regions[slot - 1];

		if (prev->gpa + prev->len > gpa)
			return true;
	}
	return slot < s->nregions && s->regions[slot].gpa < gpa + len;
}

static int ms_region_check_args(const struct migsend_region *a)
{
	u64 end;

	if (a->flags || !a->len)
		return -EINVAL;
	if ((a->offset | a->gpa | a->len) & (MIGSEND_PAGE_SIZE - 1))
		return -EINVAL;
	if (check_add_overflow(a->offset, a->len, &end) ||
	    check_add_overflow(a->gpa, a->len, &end))
		return -EOVERFLOW;
	return 0;
}

static int ms_region_insert(struct ms_session *s, const struct ms_region *nr)
{
	unsigned int slot = ms_region_slot(s, nr->gpa);
	struct ms_region *regions;

	if (ms_region_overlaps(s, slot, nr->gpa, nr->len))
		return -EEXIST;
	if (s->nregions >= MIGSEND_MAX_REGIONS)
		return -ENOSPC;
	regions = krealloc_array(s->regions, s->nregions + 1, sizeof(*regions),
				 GFP_KERNEL);
	if (!regions)
		return -ENOMEM;
	s->regions = regions;
	memmove(&regions[slot + 1], &regions[slot],
		(s->nregions - slot) * sizeof(*regions));
	regions[slot] = *nr;
	s->nregions++;
	return 0;
}

int ms_session_add_region(struct ms_session *s, const struct migsend_region *a)
{
	struct ms_region nr = {};
	struct file *file;
	int err;

	err = ms_region_check_args(a);
	if (err)
		return err;
	file = fget(a->fd);
	if (!file)
		return -EBADF;
	err = ms_mem_check_region(file, a->offset, a->len, &nr);
	if (err)
		goto put_file;
	nr.file = file;
	nr.gpa = a->gpa;
	nr.len = a->len;
	nr.offset = a->offset;

	mutex_lock(&s->lock);
	if (ms_pass_running(s))
		err = -EBUSY;
	else
		err = ms_region_insert(s, &nr);
	mutex_unlock(&s->lock);
	if (!err)
		return 0;
put_file:
	fput(file);
	return err;
}

/*
 * Has the socket kernel TLS with a transmit key?  The ULP is known by its
 * name (its ops are not exported); only then is icsk_ulp_data the TLS
 * context, whose tx_conf leaves TLS_BASE once TLS_TX is set (TLS_SW, or
 * TLS_HW when a NIC encrypts).  Both are set under the socket lock, and
 * neither goes back.  The same on 6.1 and 6.12: <net/tls.h> has
 * tls_get_ctx() and struct tls_context on both.
 */
static bool ms_sock_has_ktls_tx(struct sock *sk)
{
	const struct tcp_ulp_ops *ulp;
	struct tls_context *ctx;
	bool ok = false;

	lock_sock(sk);
	ulp = inet_csk(sk)->icsk_ulp_ops;
	if (ulp && !strcmp(ulp->name, "tls")) {
		ctx = tls_get_ctx(sk);
		ok = ctx && ctx->tx_conf != TLS_BASE;
	}
	release_sock(sk);
	return ok;
}

static int ms_sock_check(struct socket *sock, u32 flags)
{
	struct sock *sk = sock->sk;

	if (!sk || sk->sk_type != SOCK_STREAM ||
	    sk->sk_protocol != IPPROTO_TCP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6))
		return -EPROTOTYPE;
	if (READ_ONCE(sk->sk_state) != TCP_ESTABLISHED)
		return -ENOTCONN;
	if ((flags & MIGSEND_SOCK_KTLS) && !ms_sock_has_ktls_tx(sk))
		return -EPROTONOSUPPORT;
	return 0;
}

/* Under ms_global_lock: who holds @sock already? */
static struct ms_session *ms_sock_owner(struct socket *sock)
{
	struct ms_conn *c;

	list_for_each_entry(c, &ms_all_conns, global_node)
		if (c->sock == sock)
			return c->s;
	return NULL;
}

static struct ms_conn *ms_conn_alloc(struct ms_session *s, struct socket *sock)
{
	struct ms_conn *c;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return NULL;
	c->s = s;
	c->sock = sock;
	c->idx = s->nconns;
	c->seen_gen = s->pass_gen;
	return c;
}

static int ms_conn_start(struct ms_conn *c)
{
	struct task_struct *t;
	struct sock *sk = c->sock->sk;

	t = kthread_create(ms_conn_thread, c, "migsend/%u:%u", c->s->id, c->idx);
	if (IS_ERR(t))
		return PTR_ERR(t);
	get_task_struct(t);
	c->thread = t;

	lock_sock(sk);
	c->saved_sndtimeo = sk->sk_sndtimeo;
	sk->sk_sndtimeo = MS_SNDTIMEO;
	release_sock(sk);

	wake_up_process(t);
	return 0;
}

/* Under s->lock and ms_global_lock. */
static int ms_session_attach_sock(struct ms_session *s, struct socket *sock,
				  bool ktls)
{
	struct ms_session *owner = ms_sock_owner(sock);
	struct ms_conn *c;
	int err;

	if (owner)
		return owner == s ? -EEXIST : -EBUSY;
	if (ms_pass_running(s))
		return -EBUSY;
	if (s->nconns >= MIGSEND_MAX_CONNS)
		return -ENOSPC;
	/* Encrypted or not is the session's choice, made once. */
	if (s->nconns && s->conns[0]->ktls != ktls)
		return -EINVAL;
	c = ms_conn_alloc(s, sock);
	if (!c)
		return -ENOMEM;
	c->ktls = ktls;
	err = ms_conn_start(c);
	if (err) {
		kfree(c);
		return err;
	}
	list_add(&c->global_node, &ms_all_conns);
	s->conns[s->nconns++] = c;
	return c->idx;
}

int ms_session_add_sock(struct ms_session *s, const struct migsend_sock *a)
{
	struct socket *sock;
	int err;

	if (a->flags & ~MIGSEND_SOCK_FLAGS_ALL)
		return -EINVAL;
	sock = sockfd_lookup(a->fd, &err);
	if (!sock)
		return err;
	err = ms_sock_check(sock, a->flags);
	if (err)
		goto put_sock;

	mutex_lock(&s->lock);
	mutex_lock(&ms_global_lock);
	err = ms_session_attach_sock(s, sock, a->flags & MIGSEND_SOCK_KTLS);
	mutex_unlock(&ms_global_lock);
	mutex_unlock(&s->lock);
	if (err >= 0)
		return err;
put_sock:
	sockfd_put(sock);
	return err;
}

void ms_global_lock_acquire(void)
{
	mutex_lock(&ms_global_lock);
}

void ms_global_lock_release(void)
{
	mutex_unlock(&ms_global_lock);
}

struct list_head *ms_session_list(void)
{
	return &ms_all_sessions;
}

int ms_session_init(void)
{
	ms_session_cache = kmem_cache_create("migsend_session",
					     sizeof(struct ms_session), 0,
					     SLAB_HWCACHE_ALIGN, NULL);
	return ms_session_cache ? 0 : -ENOMEM;
}

void ms_session_exit(void)
{
	kmem_cache_destroy(ms_session_cache);
	ida_destroy(&ms_session_ida);
}
