/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The send engines behind a session, as vhost's core calls its backends:
 * session.c checks what is common and calls the session's engine through
 * this table; the kernel engine (engine_kernel.c: the ioctls of
 * /dev/migsend) and the userspace engines (engine_user.c) implement it.
 * Every call returns 0 or a negative errno with ms_fail()'s message.
 */
#ifndef MIGSEND_ENGINE_H
#define MIGSEND_ENGINE_H

#include <stdint.h>

#include "libmigsend.h"

struct ms_engine_ops {
	/* Set up s->priv (and s->fd for the kernel engine). */
	int (*open)(struct migsend_session *s, const char *dev_path);
	/* End any pass and release everything open() and the calls took. */
	void (*close)(struct migsend_session *s);
	int (*version)(struct migsend_session *s, struct migsend_version *v);
	/* Called with the region not yet in s->regions. */
	int (*add_region)(struct migsend_session *s, int fd, uint64_t offset,
			  uint64_t gpa, uint64_t len);
	/* Returns the connection's index. */
	int (*add_socket)(struct migsend_session *s, int fd);
	int (*pass_start)(struct migsend_session *s, const struct migsend_pass *p);
	int (*pass_wait)(struct migsend_session *s, struct migsend_pass_result *r);
	int (*pass_cancel)(struct migsend_session *s);
	/* @st is zeroed by the caller. */
	int (*get_stats)(struct migsend_session *s, struct migsend_stats *st,
			 struct migsend_conn_stats *conns, uint32_t nconns);
};

extern const struct ms_engine_ops ms_engine_kernel_ops;
/* user-copy, user-zc and user-sendfile: one table, s->engine tells which. */
extern const struct ms_engine_ops ms_engine_user_ops;

#endif /* MIGSEND_ENGINE_H */
