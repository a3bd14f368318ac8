/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmigsend: the C library a VMM links to drive /dev/migsend.
 *
 * Every call returns 0 (or a non-negative value) on success and a negative
 * errno on failure; migsend_last_error() then gives a message the caller
 * can show, for the calling thread.
 */
#ifndef LIBMIGSEND_H
#define LIBMIGSEND_H

#include <stdint.h>
#include <linux/migsend.h>

#ifdef __cplusplus
extern "C" {
#endif

struct migsend_session;

/* Open a session on /dev/migsend (or on @dev_path when not NULL). */
int migsend_session_open(struct migsend_session **out, const char *dev_path);
void migsend_session_close(struct migsend_session *s);
int migsend_session_fd(const struct migsend_session *s);

int migsend_get_version(struct migsend_session *s, struct migsend_version *v);
int migsend_add_region(struct migsend_session *s, int fd, uint64_t offset,
		       uint64_t gpa, uint64_t len);
/* Returns the connection's index. */
int migsend_add_socket(struct migsend_session *s, int sock_fd);
int migsend_pass_start(struct migsend_session *s, const struct migsend_pass *p);
int migsend_pass_wait(struct migsend_session *s, struct migsend_pass_result *r);
int migsend_pass_cancel(struct migsend_session *s);
int migsend_get_stats(struct migsend_session *s, struct migsend_stats *st,
		      struct migsend_conn_stats *conns, uint32_t nconns);

/* The message of the calling thread's last failed call. */
const char *migsend_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBMIGSEND_H */
