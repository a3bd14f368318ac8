/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS on migsend's connections (tls.c): the handshake in userspace with
 * GnuTLS, then the record layer handed to the kernel (kTLS), so that the
 * kernel engine, sendfile() and the receiver's recvmsg() into guest memory
 * encrypt and decrypt without a userspace copy.  See docs/SECURITY.md.
 *
 * The calls that read and write a connection (ms_tls_recv*(), ms_tls_send())
 * work on every socket, TLS or not: the control protocol's framing and the
 * receiver's buffered reader use them for all connections.
 */
#ifndef MIGSEND_TLS_H
#define MIGSEND_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "libmigsend.h"

/* One side's credentials and checks, loaded once for all its connections. */
struct ms_tls;

/*
 * Load what @o names (X.509 directory or PSK file) for the destination
 * (@server) or the source.  Errors: EINVAL for anything in the operator's
 * configuration (a file missing or unreadable, malformed, both or neither
 * of creds_dir and psk_file, a bad priority string): the message says
 * which.
 */
int ms_tls_new(struct ms_tls **out, const struct migsend_tls_opts *o, bool server);
void ms_tls_free(struct ms_tls *t);

/* Keep the sending direction in userspace (GnuTLS), for user-copy. */
#define MS_TLS_USER_TX		0x1

/*
 * The source's handshake on the connected @fd: authenticate the
 * destination (its certificate must name o->peer_name, or @host when that
 * is NULL), then install kTLS for receiving and, without MS_TLS_USER_TX,
 * for sending.  Errors (with ms_fail()'s message): EACCES the destination
 * or its certificate was refused, or it refused ours; EPROTO the
 * destination speaks plaintext migsend or no TLS at all; ETIMEDOUT;
 * ECONNRESET; EOPNOTSUPP the kernel has no TLS (module tls).
 */
int ms_tls_client(struct ms_tls *t, int fd, const char *host, unsigned int flags);

/*
 * The destination's handshake on an accepted @fd.  A plaintext migsend
 * source is told in its own protocol (an ABORT) that TLS is required.
 * Errors as ms_tls_client().
 */
int ms_tls_server(struct ms_tls *t, int fd);

/* One connection's TLS state: a handshake under way, or userspace sending. */
struct ms_tls_conn;

/*
 * The same in steps, for an accept loop that serves many connections on
 * non-blocking sockets: start, then step each time the socket is
 * readable.  A step returns -EAGAIN while the handshake goes on, else 0
 * (kTLS installed) or a negative errno, and then the state is gone.  A
 * handshake given up (a deadline) is freed with ms_tls_server_abandon().
 */
int ms_tls_server_start(struct ms_tls *t, int fd, struct ms_tls_conn **out);
int ms_tls_server_step(struct ms_tls_conn *c);
void ms_tls_server_abandon(struct ms_tls_conn *c);

/*
 * recv()/recvmsg() for any socket.  On a kTLS socket the records that are
 * not application data are handled here: a session ticket is dropped, the
 * peer's close_notify reads as end of stream (0), an alert refusing our
 * credentials is EACCES, any other ECONNABORTED, a key update or other handshake message EPROTO, a record
 * that fails authentication (altered in flight) EBADMSG; the message is
 * ms_fail()'s.  Returns the bytes read or a negative errno.  @msg's
 * msg_control is used (and cleared) here.
 */
ssize_t ms_tls_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t ms_tls_recv(int fd, void *buf, size_t len, int flags);

/*
 * Why the calling thread's last ms_tls_recv*() failed in TLS (an alert, a
 * key update, a record altered in flight), for a caller that words its own
 * message; NULL when it did not fail there.
 */
const char *ms_tls_read_error(void);

/*
 * send() for any socket: through GnuTLS for a connection whose sending
 * stays in userspace, else send() (a kTLS socket encrypts in the kernel).
 */
ssize_t ms_tls_send(int fd, const void *buf, size_t len, int flags);

/* A connection whose sending stays in userspace, or NULL. */
struct ms_tls_conn *ms_tls_user_of(int fd);
/*
 * Send up to @len bytes through GnuTLS: the bytes taken (at least 1),
 * -EAGAIN when the socket's send timeout expired (call again with the same
 * arguments), or a negative errno.
 */
ssize_t ms_tls_user_send(struct ms_tls_conn *u, const void *buf, size_t len);

/*
 * Before close(): send close_notify (without blocking) and forget the
 * userspace state of @fd.  Nothing happens for a plaintext socket.
 */
void ms_tls_close(int fd);

/* Does the socket encrypt in the kernel (kTLS for sending installed)? */
bool ms_tls_ktls_tx(int fd);

/* Do these first bytes of a stream start a TLS handshake record? */
bool ms_tls_looks_like_tls(const void *buf, size_t len);

#endif /* MIGSEND_TLS_H */
