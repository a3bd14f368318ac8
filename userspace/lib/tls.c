// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * TLS on every migsend connection: TLS 1.3, the handshake in userspace with
 * GnuTLS, the records in the kernel (kTLS), as the kernel's own TLS users
 * (NFS, NVMe over TCP with tlshd) do it.
 *
 * Why GnuTLS: gnutls_record_get_state() hands out each direction's key, IV
 * and sequence number after the handshake, which is all kTLS needs, and
 * the session can then be dropped; QEMU and libvirt use GnuTLS too, so
 * their certificate directories and PSK files work unchanged.  (Debian's
 * OpenSSL 3.0 can switch kTLS on by itself, but has no call that gives the
 * keys out, and keeps the SSL object in charge of the socket.)
 *
 * After the handshake the socket gets the "tls" upper-layer protocol and
 * the keys of both directions (TLS_TX, TLS_RX).  The GnuTLS session is
 * freed, except for a connection that keeps sending in userspace (the
 * user-copy engine, the model of QEMU's and Cloud Hypervisor's TLS): that
 * session stays in a small registry keyed by the socket.
 *
 * What kTLS leaves to userspace: records that are not application data.
 * A plain recv() on such a record fails with EIO; ms_tls_recvmsg() asks
 * for the record type and drops session tickets (a stock peer may send
 * them; migsend's own sides never do), turns close_notify into end of
 * stream and any other alert, key update or handshake message into an
 * error with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gnutls/gnutls.h>
#include <gnutls/socket.h>
#include <gnutls/x509.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "tls.h"

#ifndef SOL_TLS
#define SOL_TLS			282
#endif

#define MS_TLS_HANDSHAKE_MS	10000
#define MS_TLS_REC_MAX		(16384 + 256)	/* a TLS 1.3 record's content */

/* TLS content types (RFC 8446, 5.1) and handshake types (4). */
enum {
	MS_TLS_CT_ALERT = 21,
	MS_TLS_CT_HANDSHAKE = 22,
	MS_TLS_CT_APPDATA = 23,
};

enum {
	MS_TLS_HS_NEW_SESSION_TICKET = 4,
	MS_TLS_HS_KEY_UPDATE = 24,
};

struct ms_tls {
	bool server;
	bool psk;
	char *peer_name;
	gnutls_priority_t prio;
	gnutls_certificate_credentials_t x509;
	gnutls_psk_client_credentials_t psk_client;
	gnutls_psk_server_credentials_t psk_server;
};

/* One connection's handshake, and afterwards its userspace sending. */
struct ms_tls_conn {
	struct ms_tls_conn *next;
	int fd;
	gnutls_session_t s;
	const struct ms_tls *t;
	unsigned int flags;	/* MS_TLS_* */
	bool nonblocking;	/* the socket is: the handshake goes in steps */
	bool need_first;	/* the destination has not seen the first byte yet */
	const char *name;	/* the name the peer's certificate must have */
	uint8_t first[4];	/* the peer's first bytes, to explain failures */
	size_t nfirst;
	char why[256];		/* why our own check refused the peer */
};

/* Why this thread's last read failed in TLS, or "". */
static _Thread_local char ms_tls_why[256];

/* A read failed in TLS: keep why for ms_tls_read_error(), then ms_fail(). */
static int ms_tls_read_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int ms_tls_read_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ms_tls_why, sizeof(ms_tls_why), fmt, ap);
	va_end(ap);
	return ms_fail(err, "%s", ms_tls_why);
}

static pthread_mutex_t ms_tls_users_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ms_tls_conn *ms_tls_users;
static int ms_tls_nusers;	/* read without the lock: a hint */

/* ----- credentials -------------------------------------------------------- */

/* A credentials problem is the caller's configuration: EINVAL, errno in the text. */
static int ms_tls_unreadable(const char *what, const char *path)
{
	ms_fail(0, "TLS %s: cannot read %s: %s", what, path, strerror(errno));
	return -EINVAL;
}

static int ms_tls_file(char *path, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(path, size, "%s/%s", dir, name) >= size)
		return ms_fail(EINVAL, "TLS credentials: %s/%s: name too long", dir, name);
	if (access(path, R_OK))
		return ms_tls_unreadable("credentials", path);
	return 0;
}

static int ms_tls_gnutls_fail(int ret, const char *what, const char *path)
{
	return ms_fail(EINVAL, "TLS credentials: %s %s: %s", what, path,
		       gnutls_strerror(ret));
}

static int ms_tls_verify_cb(gnutls_session_t s);

/*
 * QEMU's layout (tls-creds-x509 dir=): ca-cert.pem, optional ca-crl.pem,
 * server-cert.pem and server-key.pem, client-cert.pem and client-key.pem.
 */
static int ms_tls_load_x509(struct ms_tls *t, const char *dir)
{
	const char *role = t->server ? "server" : "client";
	char path[4096], key[4096], name[32];
	int ret;

	ret = gnutls_certificate_allocate_credentials(&t->x509);
	if (ret < 0)
		return ms_fail(ENOMEM, "TLS credentials: %s", gnutls_strerror(ret));
	ret = ms_tls_file(path, sizeof(path), dir, "ca-cert.pem");
	if (ret)
		return ret;
	ret = gnutls_certificate_set_x509_trust_file(t->x509, path, GNUTLS_X509_FMT_PEM);
	if (ret <= 0)
		return ms_tls_gnutls_fail(ret ? ret : GNUTLS_E_NO_CERTIFICATE_FOUND,
					  "CA certificate", path);
	snprintf(path, sizeof(path), "%s/ca-crl.pem", dir);
	if (!access(path, F_OK)) {
		ret = gnutls_certificate_set_x509_crl_file(t->x509, path, GNUTLS_X509_FMT_PEM);
		if (ret < 0)
			return ms_tls_gnutls_fail(ret, "revocation list", path);
	}
	snprintf(name, sizeof(name), "%s-cert.pem", role);
	ret = ms_tls_file(path, sizeof(path), dir, name);
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%s-key.pem", role);
	ret = ms_tls_file(key, sizeof(key), dir, name);
	if (ret)
		return ret;
	ret = gnutls_certificate_set_x509_key_file2(t->x509, path, key,
						    GNUTLS_X509_FMT_PEM, NULL, 0);
	if (ret < 0)
		return ms_tls_gnutls_fail(ret, "certificate and key", path);
	gnutls_certificate_set_verify_function(t->x509, ms_tls_verify_cb);
	return 0;
}

/* The source's identity and key: the first "identity:hexkey" line. */
static int ms_tls_load_psk_client(struct ms_tls *t, const char *file)
{
	char *line = NULL, *colon;
	size_t cap = 0;
	gnutls_datum_t key;
	ssize_t n;
	FILE *f;
	int ret;

	f = fopen(file, "re");
	if (!f)
		return ms_tls_unreadable("pre-shared key", file);
	n = getline(&line, &cap, f);
	fclose(f);
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = 0;
	colon = n > 0 ? strchr(line, ':') : NULL;
	if (!colon || colon == line || strlen(colon + 1) < 32) {
		free(line);
		return ms_fail(EINVAL, "TLS pre-shared key %s: the first line must be identity:key, the key at least 32 hex digits (128 bits)",
			       file);
	}
	*colon = 0;
	key.data = (unsigned char *)colon + 1;
	key.size = strlen(colon + 1);
	ret = gnutls_psk_allocate_client_credentials(&t->psk_client);
	if (!ret)
		ret = gnutls_psk_set_client_credentials(t->psk_client, line, &key,
							GNUTLS_PSK_KEY_HEX);
	explicit_bzero(line, cap);
	free(line);
	if (ret < 0)
		return ms_fail(EINVAL, "TLS pre-shared key %s: %s", file, gnutls_strerror(ret));
	return 0;
}

/* The destination looks each source's identity up in the file (GnuTLS). */
static int ms_tls_load_psk_server(struct ms_tls *t, const char *file)
{
	int ret;

	if (access(file, R_OK))
		return ms_tls_unreadable("pre-shared keys", file);
	ret = gnutls_psk_allocate_server_credentials(&t->psk_server);
	if (!ret)
		ret = gnutls_psk_set_server_credentials_file(t->psk_server, file);
	if (ret < 0)
		return ms_fail(EINVAL, "TLS pre-shared keys %s: %s", file, gnutls_strerror(ret));
	return 0;
}

/*
 * TLS 1.3 only, and only the ciphers kTLS has.  AES-GCM first where the CPU
 * has AES instructions, else ChaCha20-Poly1305 (much faster in software).
 * The source's order decides: GnuTLS servers follow the client's.
 */
static int ms_tls_priority(struct ms_tls *t, const char *prio)
{
	const char *ciphers = __builtin_cpu_supports("aes") ?
		"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305" :
		"+CHACHA20-POLY1305:+AES-128-GCM:+AES-256-GCM";
	const char *err_pos = NULL;
	char def[256];
	int ret;

	if (!prio) {
		snprintf(def, sizeof(def), "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:%s%s",
			 ciphers, t->psk ? ":+ECDHE-PSK:+DHE-PSK" : "");
		prio = def;
	}
	ret = gnutls_priority_init2(&t->prio, prio, &err_pos, 0);
	if (ret < 0)
		return ms_fail(EINVAL, "TLS priority \"%s\": %s at \"%s\"", prio,
			       gnutls_strerror(ret), err_pos ? err_pos : "");
	return 0;
}

int ms_tls_new(struct ms_tls **out, const struct migsend_tls_opts *o, bool server)
{
	struct ms_tls *t;
	int err;

	*out = NULL;
	if (!o->creds_dir == !o->psk_file)
		return ms_fail(EINVAL, "TLS: give either a credentials directory or a pre-shared key file");
	t = calloc(1, sizeof(*t));
	if (!t)
		return ms_fail(ENOMEM, "TLS");
	t->server = server;
	t->psk = o->psk_file != NULL;
	if (o->peer_name && !(t->peer_name = strdup(o->peer_name))) {
		free(t);
		return ms_fail(ENOMEM, "TLS");
	}
	if (o->creds_dir)
		err = ms_tls_load_x509(t, o->creds_dir);
	else if (server)
		err = ms_tls_load_psk_server(t, o->psk_file);
	else
		err = ms_tls_load_psk_client(t, o->psk_file);
	if (!err)
		err = ms_tls_priority(t, o->priority);
	if (err) {
		ms_tls_free(t);
		return err;
	}
	*out = t;
	return 0;
}

void ms_tls_free(struct ms_tls *t)
{
	if (!t)
		return;
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	if (t->x509)
		gnutls_certificate_free_credentials(t->x509);
	if (t->psk_client)
		gnutls_psk_free_client_credentials(t->psk_client);
	if (t->psk_server)
		gnutls_psk_free_server_credentials(t->psk_server);
	free(t->peer_name);
	free(t);
}

/* ----- the peer's identity --------------------------------------------------- */

/* The source's certificate against the destination's --tls-name. */
static bool ms_tls_client_cert_ok(struct ms_tls_conn *c)
{
	const char *want = c->t->peer_name;
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { 0 };
	unsigned int n = 0;
	bool ok = false;

	certs = gnutls_certificate_get_peers(c->s, &n);
	if (!n || gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
		/* A distinguished name (glob, as libvirt's tls_allowed_dn_list), or a host name. */
		if (strchr(want, '='))
			ok = !fnmatch(want, (const char *)dn.data, 0);
		else
			ok = gnutls_x509_crt_check_hostname2(crt, want, 0);
		if (!ok)
			snprintf(c->why, sizeof(c->why),
				 "the source's certificate (%s) is not for \"%s\"",
				 (const char *)dn.data, want);
	}
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return ok;
}

/*
 * Called by GnuTLS once the peer's certificate arrived: verify the chain
 * against the CA (and CRL), the dates, and the name; a refusal makes the
 * handshake fail, and the peer gets an alert.
 */
static int ms_tls_verify_cb(gnutls_session_t s)
{
	struct ms_tls_conn *c = gnutls_session_get_ptr(s);
	gnutls_datum_t text = { 0 };
	unsigned int status = 0;
	int ret;

	ret = gnutls_certificate_verify_peers3(s, c->t->server ? NULL : c->name, &status);
	if (ret < 0) {
		snprintf(c->why, sizeof(c->why), "%s", gnutls_strerror(ret));
		return -1;
	}
	if (status) {
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
		snprintf(c->why, sizeof(c->why), "the %s's certificate was refused: %s",
			 c->t->server ? "source" : "destination",
			 text.data ? (const char *)text.data : "invalid");
		gnutls_free(text.data);
		return -1;
	}
	if (c->t->server && c->t->peer_name && !ms_tls_client_cert_ok(c))
		return -1;
	return 0;
}

static bool ms_tls_psk_identity_ok(struct ms_tls_conn *c)
{
	gnutls_datum_t id = { 0 };
	bool ok;

	if (!c->t->server || !c->t->psk || !c->t->peer_name)
		return true;
	ok = gnutls_psk_server_get_username2(c->s, &id) >= 0 && id.data &&
	     !strcmp((const char *)id.data, c->t->peer_name);
	if (!ok)
		snprintf(c->why, sizeof(c->why), "the source's key identity \"%.64s\" is not \"%s\"",
			 id.data ? (const char *)id.data : "", c->t->peer_name);
	return ok;
}

/* ----- the handshake ------------------------------------------------------- */

static ssize_t ms_tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct ms_tls_conn *c = p;
	ssize_t n = recv(c->fd, buf, len, 0);
	size_t take;

	if (n > 0 && c->nfirst < sizeof(c->first)) {
		take = sizeof(c->first) - c->nfirst;
		if (take > (size_t)n)
			take = n;
		memcpy(c->first + c->nfirst, buf, take);
		c->nfirst += take;
	}
	return n;
}

static int ms_tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct ms_tls_conn *c = p;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static ssize_t ms_tls_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	struct ms_tls_conn *c = p;

	return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static bool ms_is_ip_literal(const char *name)
{
	unsigned char a[16];

	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

static int ms_tls_session(struct ms_tls_conn *c, const struct ms_tls *t, int fd,
			  const char *name)
{
	unsigned int flags = (t->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
			     GNUTLS_NO_TICKETS | GNUTLS_NO_SIGNAL;
	int ret;

	c->fd = fd;
	c->t = t;
	c->name = name;
	ret = gnutls_init(&c->s, flags);
	if (ret < 0)
		return ret;
	ret = gnutls_priority_set(c->s, t->prio);
	if (!ret && t->x509)
		ret = gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, t->x509);
	if (!ret && t->psk)
		ret = gnutls_credentials_set(c->s, GNUTLS_CRD_PSK, t->server ?
					     (void *)t->psk_server : (void *)t->psk_client);
	if (ret)
		return ret;
	if (t->server && t->x509)
		gnutls_certificate_server_set_request(c->s, GNUTLS_CERT_REQUIRE);
	if (!t->server && t->x509 && name && !ms_is_ip_literal(name)) {
		ret = gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, name, strlen(name));
		if (ret)
			return ret;
	}
	gnutls_session_set_ptr(c->s, c);
	gnutls_transport_set_ptr(c->s, c);
	gnutls_transport_set_pull_function(c->s, ms_tls_pull);
	gnutls_transport_set_pull_timeout_function(c->s, ms_tls_pull_timeout);
	gnutls_transport_set_push_function(c->s, ms_tls_push);
	/* No timeout of GnuTLS's own: it would wait inside a non-blocking step. */
	gnutls_handshake_set_timeout(c->s, 0);
	return 0;
}

static bool ms_is_plain_migsend(const uint8_t *b, size_t n)
{
	static const uint8_t magic[4] = { 0x4d, 0x53, 0x43, 0x54 };	/* "MSCT" */

	return n >= sizeof(magic) && !memcmp(b, magic, sizeof(magic));
}

bool ms_tls_looks_like_tls(const void *buf, size_t len)
{
	const uint8_t *b = buf;

	/* A handshake record of TLS 1.0-1.3 (record versions 3.1 to 3.4). */
	return len >= 3 && b[0] == MS_TLS_CT_HANDSHAKE && b[1] == 3 && b[2] >= 1 && b[2] <= 4;
}

static bool ms_tls_auth_alert(gnutls_alert_description_t a)
{
	switch (a) {
	case GNUTLS_A_BAD_CERTIFICATE:
	case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
	case GNUTLS_A_CERTIFICATE_REVOKED:
	case GNUTLS_A_CERTIFICATE_EXPIRED:
	case GNUTLS_A_CERTIFICATE_UNKNOWN:
	case GNUTLS_A_UNKNOWN_CA:
	case GNUTLS_A_ACCESS_DENIED:
	case GNUTLS_A_DECRYPT_ERROR:
	case GNUTLS_A_CERTIFICATE_REQUIRED:
	case GNUTLS_A_UNKNOWN_PSK_IDENTITY:
		return true;
	default:
		return false;
	}
}

/* A failed handshake with a pre-shared key: say so in the operator's words. */
static int ms_tls_psk_fail(struct ms_tls_conn *c, int ret)
{
	const char *peer = c->t->server ? "source" : "destination";

	switch (ret) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		return ms_fail(EACCES, "TLS: the %s refused our pre-shared key (%s): is it the same key, and is our identity in its key file?",
			       peer, gnutls_alert_get_name(gnutls_alert_get(c->s)));
	case GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER:
	case GNUTLS_E_DECRYPTION_FAILED:
	case GNUTLS_E_KEY_USAGE_VIOLATION:
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
	case GNUTLS_E_NO_CIPHER_SUITES:
		return ms_fail(EACCES, "TLS: the %s's pre-shared key does not match ours, or its identity is not in our key file (%s)",
			       peer, gnutls_strerror(ret));
	default:
		return 0;
	}
}

/* A failed handshake: say why, in the words of the side that refused. */
static int ms_tls_handshake_fail(struct ms_tls_conn *c, int ret)
{
	const char *peer = c->t->server ? "source" : "destination";
	gnutls_alert_description_t a;
	int err;

	if (c->why[0])
		return ms_fail(EACCES, "TLS: %s", c->why);
	if (!c->t->server && ms_is_plain_migsend(c->first, c->nfirst))
		return ms_fail(EPROTO, "TLS: the destination answered in plaintext migsend: it runs without TLS (--no-tls); give both sides TLS credentials, or --no-tls to both");
	if (c->nfirst && !c->t->server && !ms_tls_looks_like_tls(c->first, c->nfirst) &&
	    c->first[0] != MS_TLS_CT_ALERT)
		return ms_fail(EPROTO, "TLS: the destination does not speak TLS");
	if (c->t->psk && (err = ms_tls_psk_fail(c, ret)))
		return err;
	switch (ret) {
	case GNUTLS_E_AGAIN:
	case GNUTLS_E_TIMEDOUT:
		return ms_fail(ETIMEDOUT, "TLS: no handshake from the %s in time", peer);
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		return ms_fail(ECONNRESET, "TLS: the %s closed the connection during the handshake",
			       peer);
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		a = gnutls_alert_get(c->s);
		return ms_fail(ms_tls_auth_alert(a) ? EACCES : EPROTO,
			       "TLS: the %s refused the handshake: %s", peer,
			       gnutls_alert_get_name(a));
	default:
		return ms_fail(EPROTO, "TLS handshake with the %s failed: %s", peer,
			       gnutls_strerror(ret));
	}
}

/* Fill and install one direction's crypto_info; the keys are wiped after. */
static int ms_ktls_set(gnutls_session_t s, int fd, bool rx)
{
	union {
		struct tls12_crypto_info_aes_gcm_128 g128;
		struct tls12_crypto_info_aes_gcm_256 g256;
		struct tls12_crypto_info_chacha20_poly1305 cc;
	} ci;
	gnutls_datum_t mac, iv, key;
	unsigned char seq[8];
	socklen_t len = 0;
	int err;

	if (gnutls_record_get_state(s, rx, &mac, &iv, &key, seq) < 0 || iv.size != 12)
		return -EINVAL;
	memset(&ci, 0, sizeof(ci));
	switch (gnutls_cipher_get(s)) {
	case GNUTLS_CIPHER_AES_128_GCM:
		if (key.size != sizeof(ci.g128.key))
			return -EINVAL;
		ci.g128.info = (struct tls_crypto_info){ TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128 };
		memcpy(ci.g128.salt, iv.data, sizeof(ci.g128.salt));
		memcpy(ci.g128.iv, iv.data + sizeof(ci.g128.salt), sizeof(ci.g128.iv));
		memcpy(ci.g128.key, key.data, key.size);
		memcpy(ci.g128.rec_seq, seq, sizeof(seq));
		len = sizeof(ci.g128);
		break;
	case GNUTLS_CIPHER_AES_256_GCM:
		if (key.size != sizeof(ci.g256.key))
			return -EINVAL;
		ci.g256.info = (struct tls_crypto_info){ TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_256 };
		memcpy(ci.g256.salt, iv.data, sizeof(ci.g256.salt));
		memcpy(ci.g256.iv, iv.data + sizeof(ci.g256.salt), sizeof(ci.g256.iv));
		memcpy(ci.g256.key, key.data, key.size);
		memcpy(ci.g256.rec_seq, seq, sizeof(seq));
		len = sizeof(ci.g256);
		break;
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		if (key.size != sizeof(ci.cc.key))
			return -EINVAL;
		ci.cc.info = (struct tls_crypto_info){ TLS_1_3_VERSION,
						       TLS_CIPHER_CHACHA20_POLY1305 };
		memcpy(ci.cc.iv, iv.data, sizeof(ci.cc.iv));
		memcpy(ci.cc.key, key.data, key.size);
		memcpy(ci.cc.rec_seq, seq, sizeof(seq));
		len = sizeof(ci.cc);
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	err = setsockopt(fd, SOL_TLS, rx ? TLS_RX : TLS_TX, &ci, len) ? -errno : 0;
	explicit_bzero(&ci, sizeof(ci));
	return err;
}

static int ms_ktls_install(struct ms_tls_conn *c, bool user_tx)
{
	int one = 1, err;

	if (gnutls_protocol_get_version(c->s) != GNUTLS_TLS1_3)
		return ms_fail(EPROTO, "TLS: %s was negotiated, migsend needs TLS 1.3",
			       gnutls_protocol_get_name(gnutls_protocol_get_version(c->s)));
	/* Anything GnuTLS read past the handshake would be lost to the kernel. */
	if (gnutls_record_check_pending(c->s))
		return ms_fail(EPROTO, "TLS: the peer sent data before the handshake ended");
	/*
	 * GnuTLS's own kTLS (ktls = true in its system configuration) has
	 * installed the keys already: take them as they are.
	 */
	if (gnutls_transport_is_ktls_enabled(c->s) == GNUTLS_KTLS_DUPLEX && !user_tx)
		return 0;
	if (setsockopt(c->fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"))) {
		if (errno == ENOENT)
			return ms_fail(EOPNOTSUPP, "TLS: the kernel has no TLS (load its module: modprobe tls)");
		return ms_fail(errno, "TLS: switching the connection to kernel TLS");
	}
	err = user_tx ? 0 : ms_ktls_set(c->s, c->fd, false);
	if (!err)
		err = ms_ktls_set(c->s, c->fd, true);
	if (err == -EPROTONOSUPPORT || err == -ENOENT || err == -ENOPROTOOPT)
		return ms_fail(EOPNOTSUPP, "TLS: the kernel has no %s for TLS (a crypto module missing?)",
			       gnutls_cipher_get_name(gnutls_cipher_get(c->s)));
	if (err)
		return ms_fail(-err, "TLS: installing the keys in the kernel: %s", strerror(-err));
	/* Our peers never pad records: decrypt straight into the caller's buffer. */
	setsockopt(c->fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, sizeof(one));
	return 0;
}

static void ms_tls_conn_free(struct ms_tls_conn *c)
{
	if (!c)
		return;
	if (c->s)
		gnutls_deinit(c->s);
	free(c);
}

static void ms_tls_register(struct ms_tls_conn *c)
{
	pthread_mutex_lock(&ms_tls_users_lock);
	c->next = ms_tls_users;
	ms_tls_users = c;
	__atomic_add_fetch(&ms_tls_nusers, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ms_tls_users_lock);
}

static int ms_tls_start(struct ms_tls *t, int fd, const char *name, unsigned int flags,
			struct ms_tls_conn **out)
{
	struct ms_tls_conn *c = calloc(1, sizeof(*c));
	int ret;

	*out = NULL;
	if (!c)
		return ms_fail(ENOMEM, "TLS");
	ret = ms_tls_session(c, t, fd, name);
	if (ret < 0) {
		ms_tls_conn_free(c);
		return ms_fail(ENOMEM, "TLS: %s", gnutls_strerror(ret));
	}
	c->flags = flags;
	c->nonblocking = fcntl(fd, F_GETFL) & O_NONBLOCK;
	c->need_first = t->server;
	*out = c;
	return 0;
}

/*
 * The destination looks at the first byte before TLS does: a TLS record
 * starts with 0x16, migsend's control protocol with 'M' ("MSCT").  A
 * plaintext source is answered in its own protocol.
 */
static int ms_tls_first_byte(struct ms_tls_conn *c)
{
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return -EAGAIN;
	if (n < 0)
		return ms_fail(errno, "TLS: reading the source's greeting");
	if (n == 0)
		return ms_fail(ECONNRESET, "TLS: the source closed the connection");
	if (b == 'M') {
		ms_ctl_send_abort(c->fd, EPROTO,
				  "this destination requires TLS: give the source --tls-creds or --tls-psk");
		return ms_fail(EPROTO, "TLS: a plaintext migsend source connected; this destination requires TLS");
	}
	if (b != MS_TLS_CT_HANDSHAKE)
		return ms_fail(EPROTO, "TLS: the peer does not speak TLS");
	return 0;
}

/*
 * Go on with the handshake as far as the socket allows: -EAGAIN when a
 * non-blocking socket has nothing more (call again when it is readable),
 * else 0 with kTLS installed, or a negative errno.
 */
static int ms_tls_advance(struct ms_tls_conn *c)
{
	int ret;

	if (c->need_first) {
		ret = ms_tls_first_byte(c);
		if (ret)
			return ret;
		c->need_first = false;
	}
	do {
		ret = gnutls_handshake(c->s);
	} while (ret == GNUTLS_E_INTERRUPTED ||
		 (ret < 0 && ret != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(ret)));
	if (ret == GNUTLS_E_AGAIN && c->nonblocking)
		return -EAGAIN;
	if (!ret && !ms_tls_psk_identity_ok(c)) {
		gnutls_alert_send(c->s, GNUTLS_AL_FATAL, GNUTLS_A_ACCESS_DENIED);
		ret = GNUTLS_E_CERTIFICATE_ERROR;
	} else if (ret < 0 && ret != GNUTLS_E_FATAL_ALERT_RECEIVED &&
		   ret != GNUTLS_E_AGAIN && ret != GNUTLS_E_PREMATURE_TERMINATION &&
		   ret != GNUTLS_E_PUSH_ERROR && ret != GNUTLS_E_PULL_ERROR) {
		/* Tell the peer why, in TLS's words. */
		gnutls_alert_send_appropriate(c->s, ret);
	}
	if (ret < 0)
		return ms_tls_handshake_fail(c, ret);
	return ms_ktls_install(c, c->flags & MS_TLS_USER_TX);
}

/* The end of a handshake: keep the session only for userspace sending. */
static int ms_tls_finish(struct ms_tls_conn *c, int err)
{
	if (err || !(c->flags & MS_TLS_USER_TX))
		ms_tls_conn_free(c);
	else
		ms_tls_register(c);
	return err;
}

/* A whole handshake, waiting for the socket as needed. */
static int ms_tls_run(struct ms_tls_conn *c)
{
	struct pollfd pfd = { .fd = c->fd };
	int err;

	while ((err = ms_tls_advance(c)) == -EAGAIN) {
		pfd.events = gnutls_record_get_direction(c->s) ? POLLOUT : POLLIN;
		if (poll(&pfd, 1, MS_TLS_HANDSHAKE_MS) <= 0) {
			err = ms_fail(ETIMEDOUT, "TLS: no handshake from the %s in time",
				      c->t->server ? "source" : "destination");
			break;
		}
	}
	return ms_tls_finish(c, err);
}

int ms_tls_client(struct ms_tls *t, int fd, const char *host, unsigned int flags)
{
	struct ms_tls_conn *c;
	int err;

	if (t->server)
		return ms_fail(EINVAL, "TLS: destination credentials used to connect");
	err = ms_tls_start(t, fd, t->peer_name ? t->peer_name : host, flags, &c);
	return err ? err : ms_tls_run(c);
}

int ms_tls_server(struct ms_tls *t, int fd)
{
	struct ms_tls_conn *c;
	int err = ms_tls_server_start(t, fd, &c);

	return err ? err : ms_tls_run(c);
}

int ms_tls_server_start(struct ms_tls *t, int fd, struct ms_tls_conn **out)
{
	if (!t->server)
		return ms_fail(EINVAL, "TLS: source credentials used to accept");
	return ms_tls_start(t, fd, NULL, 0, out);
}

int ms_tls_server_step(struct ms_tls_conn *c)
{
	int err = ms_tls_advance(c);

	return err == -EAGAIN ? err : ms_tls_finish(c, err);
}

void ms_tls_server_abandon(struct ms_tls_conn *c)
{
	ms_tls_conn_free(c);
}

/* ----- records that are not application data --------------------------------- */

static int ms_tls_record_type(struct msghdr *msg)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm))
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
			return *CMSG_DATA(cm);
	return MS_TLS_CT_APPDATA;	/* a plaintext socket */
}

/* Copy the first @max bytes of what recvmsg() put into @msg. */
static size_t ms_iov_gather(const struct msghdr *msg, size_t n, uint8_t *dst, size_t max)
{
	size_t done = 0, i, take;

	if (n > max)
		n = max;
	for (i = 0; i < msg->msg_iovlen && done < n; i++) {
		take = msg->msg_iov[i].iov_len;
		if (take > n - done)
			take = n - done;
		memcpy(dst + done, msg->msg_iov[i].iov_base, take);
		done += take;
	}
	return done;
}

static int ms_tls_on_alert(const uint8_t *rec, size_t len)
{
	if (len < 2)
		return ms_tls_read_fail(EPROTO, "TLS: a malformed alert from the peer");
	if (rec[1] == GNUTLS_A_CLOSE_NOTIFY)
		return 0;
	return ms_tls_read_fail(ms_tls_auth_alert(rec[1]) ? EACCES : ECONNABORTED,
				"TLS: the peer sent the alert \"%s\"",
				gnutls_alert_get_name(rec[1]));
}

/* Session tickets are dropped; a key update, or anything else, is refused. */
static int ms_tls_on_handshake(const uint8_t *rec, size_t len)
{
	size_t off = 0, mlen;

	while (off + 4 <= len) {
		mlen = (size_t)rec[off + 1] << 16 | rec[off + 2] << 8 | rec[off + 3];
		if (rec[off] == MS_TLS_HS_KEY_UPDATE)
			return ms_tls_read_fail(EPROTO, "TLS: the peer updated its keys, which kernel TLS cannot follow");
		if (rec[off] != MS_TLS_HS_NEW_SESSION_TICKET)
			return ms_tls_read_fail(EPROTO, "TLS: unexpected handshake message %u after the handshake",
						rec[off]);
		off += 4 + mlen;
	}
	if (off != len)
		return ms_tls_read_fail(EPROTO, "TLS: a handshake message split over records after the handshake");
	return 1;	/* dropped */
}

/*
 * recvmsg() returned @n bytes of a record that is not application data;
 * read the rest of it (it ends where the kernel sets MSG_EOR) and act on
 * it: 0 end of stream, 1 dropped (read on), or a negative errno.
 */
static __attribute__((noinline)) int
ms_tls_on_control(int fd, struct msghdr *msg, size_t n, int type)
{
	uint8_t rec[MS_TLS_REC_MAX];
	size_t len = ms_iov_gather(msg, n, rec, sizeof(rec));
	char cbuf[CMSG_SPACE(1)];
	struct iovec iov;
	struct msghdr m;
	ssize_t got;

	while (!(msg->msg_flags & MSG_EOR) && len < sizeof(rec)) {
		iov = (struct iovec){ rec + len, sizeof(rec) - len };
		m = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		got = recvmsg(fd, &m, 0);
		if (got <= 0)
			return got ? -errno : 0;
		len += got;
		msg->msg_flags = m.msg_flags;
	}
	if (type == MS_TLS_CT_ALERT)
		return ms_tls_on_alert(rec, len);
	if (type == MS_TLS_CT_HANDSHAKE)
		return ms_tls_on_handshake(rec, len);
	return ms_tls_read_fail(EPROTO, "TLS: a record of unknown type %d", type);
}

const char *ms_tls_read_error(void)
{
	return ms_tls_why[0] ? ms_tls_why : NULL;
}

ssize_t ms_tls_recvmsg(int fd, struct msghdr *msg, int flags)
{
	char cbuf[CMSG_SPACE(1)];
	int type = MS_TLS_CT_APPDATA, ret;
	ssize_t n;

	ms_tls_why[0] = 0;
	for (;;) {
		msg->msg_control = cbuf;
		msg->msg_controllen = sizeof(cbuf);
		msg->msg_flags = 0;
		n = recvmsg(fd, msg, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EBADMSG)
			n = ms_tls_read_fail(EBADMSG, "TLS: a record failed authentication: the data was altered in flight");
		else if (n < 0)
			n = -errno;
		if (n <= 0)
			break;
		type = ms_tls_record_type(msg);
		if (type == MS_TLS_CT_APPDATA)
			break;
		ret = ms_tls_on_control(fd, msg, n, type);
		if (ret <= 0) {
			n = ret;
			break;
		}
	}
	msg->msg_control = NULL;
	msg->msg_controllen = 0;
	return n;
}

ssize_t ms_tls_recv(int fd, void *buf, size_t len, int flags)
{
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	return ms_tls_recvmsg(fd, &msg, flags);
}

/* ----- sending --------------------------------------------------------------- */

struct ms_tls_conn *ms_tls_user_of(int fd)
{
	struct ms_tls_conn *c;

	if (!__atomic_load_n(&ms_tls_nusers, __ATOMIC_ACQUIRE))
		return NULL;
	pthread_mutex_lock(&ms_tls_users_lock);
	for (c = ms_tls_users; c && c->fd != fd; c = c->next)
		;
	pthread_mutex_unlock(&ms_tls_users_lock);
	return c;
}

ssize_t ms_tls_user_send(struct ms_tls_conn *u, const void *buf, size_t len)
{
	ssize_t n;

	do {
		n = gnutls_record_send(u->s, buf, len);
	} while (n == GNUTLS_E_INTERRUPTED);
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN)
		return -EAGAIN;
	ms_fail(EPIPE, "TLS: sending: %s", gnutls_strerror(n));
	return -EPIPE;
}

ssize_t ms_tls_send(int fd, const void *buf, size_t len, int flags)
{
	struct ms_tls_conn *u = ms_tls_user_of(fd);
	ssize_t n;

	if (!u)
		return send(fd, buf, len, flags);
	n = ms_tls_user_send(u, buf, len);
	if (n < 0) {
		errno = -n;
		return -1;
	}
	return n;
}

bool ms_tls_ktls_tx(int fd)
{
	struct tls_crypto_info info;
	socklen_t len = sizeof(info);

	return !getsockopt(fd, SOL_TLS, TLS_TX, &info, &len) && info.cipher_type;
}

/* close_notify on a kTLS socket: a record of type alert, never blocking. */
static void ms_ktls_close_notify(int fd)
{
	uint8_t alert[2] = { GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY };
	char cbuf[CMSG_SPACE(1)] = { 0 };
	struct iovec iov = { alert, sizeof(alert) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = MS_TLS_CT_ALERT;
	sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void ms_tls_close(int fd)
{
	struct ms_tls_conn **p, *c = NULL;

	if (__atomic_load_n(&ms_tls_nusers, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&ms_tls_users_lock);
		for (p = &ms_tls_users; *p; p = &(*p)->next) {
			if ((*p)->fd == fd) {
				c = *p;
				*p = c->next;
				__atomic_sub_fetch(&ms_tls_nusers, 1, __ATOMIC_RELEASE);
				break;
			}
		}
		pthread_mutex_unlock(&ms_tls_users_lock);
	}
	if (c) {
		/* Best effort: the socket's send timeout bounds it. */
		gnutls_bye(c->s, GNUTLS_SHUT_WR);
		ms_tls_conn_free(c);
	} else if (ms_tls_ktls_tx(fd)) {
		ms_ktls_close_notify(fd);
	}
}
