// SPDX-License-Identifier: GPL-2.0
/* --tls-creds, --tls-psk, --tls-name, --tls-priority, --no-tls. */
#include <stdio.h>
#include <unistd.h>

#include "tls_opts.h"

static const char send_usage[] =
	"TLS (on by default; see docs/SECURITY.md):\n"
	"  --tls-creds DIR         X.509 in QEMU's layout: ca-cert.pem, client-cert.pem,\n"
	"                          client-key.pem, optional ca-crl.pem (default\n"
	"                          " TLS_DEFAULT_CREDS " when it exists)\n"
	"  --tls-psk FILE          a pre-shared key instead: the first identity:hexkey\n"
	"                          line of FILE (QEMU's keys.psk)\n"
	"  --tls-name NAME         the name the destination's certificate must carry\n"
	"                          (default: the HOST of --to)\n"
	"  --tls-priority STRING   a GnuTLS priority string (default: TLS 1.3, AES-GCM;\n"
	"                          ChaCha20-Poly1305 first without AES instructions)\n"
	"  --no-tls                plaintext: no encryption, no authentication\n"
	"\n";

static const char recv_usage[] =
	"TLS (on by default; see docs/SECURITY.md):\n"
	"  --tls-creds DIR         X.509 in QEMU's layout: ca-cert.pem, server-cert.pem,\n"
	"                          server-key.pem, optional ca-crl.pem (default\n"
	"                          " TLS_DEFAULT_CREDS " when it exists); the source\n"
	"                          must present a certificate the CA signed\n"
	"  --tls-psk FILE          pre-shared keys instead: identity:hexkey lines\n"
	"                          (QEMU's keys.psk)\n"
	"  --tls-name NAME         accept only this source: its certificate's DN (a\n"
	"                          glob such as '*CN=src.example*' when NAME holds\n"
	"                          '='), a host name in its certificate, or its PSK\n"
	"                          identity (default: any the CA or the key file allows)\n"
	"  --tls-priority STRING   a GnuTLS priority string (default: TLS 1.3 with\n"
	"                          AES-GCM or ChaCha20-Poly1305)\n"
	"  --no-tls                plaintext: refuses TLS sources, accepts anyone who\n"
	"                          has the token\n"
	"\n";

const char *tls_usage(const char *cmd)
{
	return cmd[0] == 's' ? send_usage : recv_usage;
}

bool tls_opts_take(struct tls_opts *t, int opt, const char *arg)
{
	switch (opt) {
	case TLS_OPT_CREDS: t->lib.creds_dir = arg; return true;
	case TLS_OPT_PSK: t->lib.psk_file = arg; return true;
	case TLS_OPT_NAME: t->lib.peer_name = arg; return true;
	case TLS_OPT_PRIORITY: t->lib.priority = arg; return true;
	case TLS_OPT_NO_TLS: t->no_tls = true; return true;
	default: return false;
	}
}

int tls_opts_done(struct tls_opts *t, const char *cmd,
		  const struct migsend_tls_opts **out)
{
	bool any = t->lib.creds_dir || t->lib.psk_file || t->lib.peer_name ||
		   t->lib.priority;

	*out = NULL;
	if (t->no_tls && any) {
		fprintf(stderr, "migsend %s: --no-tls contradicts the other --tls options\n", cmd);
		return -1;
	}
	if (t->lib.creds_dir && t->lib.psk_file) {
		fprintf(stderr, "migsend %s: --tls-creds or --tls-psk, not both\n", cmd);
		return -1;
	}
	if (t->no_tls)
		return 0;
	/* Encrypted by default: TLS_DEFAULT_CREDS, or an error that says what to do. */
	if (!t->lib.creds_dir && !t->lib.psk_file) {
		if (access(TLS_DEFAULT_CREDS, F_OK)) {
			fprintf(stderr, "migsend %s: migrations are encrypted by default: give --tls-creds DIR or --tls-psk FILE (or create %s), or --no-tls for plaintext\n",
				cmd, TLS_DEFAULT_CREDS);
			return -1;
		}
		t->lib.creds_dir = TLS_DEFAULT_CREDS;
	}
	*out = &t->lib;
	return 0;
}
