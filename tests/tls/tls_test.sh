#!/bin/sh
# TLS on migsend's connections (issue 12), between the two network
# namespaces of netns.sh over real TCP: the handshake with GnuTLS, kTLS
# installed both ways, data checked byte by byte each way; every refusal
# an operator can meet, each with its own clear message; a byte flipped in
# flight; a stock OpenSSL peer on each side.  Needs the kernel's tls module
# and its ciphers (tests/vm/kmodules) and openssl (tests/vm/tools); the
# credentials are made here, at test time.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
P=$here/tls_peer
PROXY=$here/flip_proxy
OPENSSL=/usr/bin/openssl
T=/tmp/tlst
C=$T/creds
mkdir -p $T
n=0 fails=0 port=7400
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() {
	n=$((n + 1)); echo "not ok $n $1"; fails=$((fails + 1))
	for f in $T/*.out; do sed "s|^|# $(basename $f): |" "$f"; done
}
# The messages each side printed, as comments: what an operator reads.
said() { for f in $T/c.out $T/s.out; do [ -e $f ] && grep -E '^(error|ktls)' $f | sed "s|^|# $(basename $f .out): |"; done; }
# check NAME 'CONDITION': the whole condition, && and all, decides.
check() { said; if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
has() { grep -q -- "$2" "$T/$1.out"; }

# pair "SERVE-OPTIONS" "CONNECT-OPTIONS": the destination (serve) in msdst,
# the source (connect) in mssrc; outputs in s.out and c.out, exit codes in
# src and crc.
pair() {
	port=$((port + 1))
	rm -f $T/*.out
	set -f	# the options are split unquoted, never globbed (--name *CN=x*)
	# shellcheck disable=SC2086
	$IP netns exec msdst $P serve $MS_DST_ADDR $port $1 >$T/s.out 2>&1 &
	spid=$!
	ms_wait_listening $port $spid
	# shellcheck disable=SC2086
	ms_src $P connect $MS_DST_ADDR $port $2 >$T/c.out 2>&1
	crc=$?
	set +f
	wait $spid
	src=$?
}
# Until serve has printed its result: s_client's input ends only then.
server_done() {
	for _ in $(seq 300); do
		grep -qE '^(ok|error)' $T/s.out && return 0
		sleep 0.1
	done
}
both_ok() { [ $src -eq 0 ] && [ $crc -eq 0 ]; }
both_refuse() { [ $src -eq 1 ] && [ $crc -eq 1 ]; }

echo "TAP version 13"
echo "1..20"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }
grep -qw aes /proc/cpuinfo && echo "# the CPU has AES instructions"
sh "$here/gencerts.sh" $C || { echo "Bail out! cannot make test credentials"; exit 1; }
G="--creds $C/good"

# 1-5: handshakes that must work, and kTLS carries 4 MiB each way.
pair "$G" "$G"
check x509_aes128gcm_ktls_both_ways 'both_ok && has c "ktls: tx aes-128-gcm rx aes-128-gcm" &&
	has s "ktls: tx aes-128-gcm rx aes-128-gcm" && has s "ok: 4194304 bytes each way"'
pair "$G" "$G --priority NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM"
check x509_aes256gcm 'both_ok && has s "ktls: tx aes-256-gcm rx aes-256-gcm"'
pair "$G" "$G --priority NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"
check x509_chacha20poly1305 'both_ok && has s "ktls: tx chacha20-poly1305 rx chacha20-poly1305"'
pair "$G" "$G --user-tx"
check userspace_sending_kernel_receiving 'both_ok && has c "ktls: tx user rx aes-128-gcm"'
pair "--psk $C/keys.psk --name migsend" "--psk $C/keys.psk"
check psk 'both_ok && has s "ok: 4194304 bytes"'

# 6-9: certificates that must be refused, each with its reason.
pair "$G" "--creds $C/otherca"
check wrong_ca_refused 'both_refuse && has c "issuer is unknown" && has s "refused the handshake"'
pair "--creds $C/expired" "$G"
check expired_destination_refused 'both_refuse && has c "expired"'
pair "$G" "--creds $C/expired"
# The source's handshake ends before the destination checked its
# certificate (TLS 1.3): it learns of the refusal from an alert, when the
# alert arrives before the connection's reset.
check expired_source_refused '[ $src -eq 1 ] && has s "certificate was refused.*expired" &&
	[ $crc -eq 1 ]'
pair "$G" "$G --name other.migsend.test"
check wrong_destination_name_refused 'both_refuse && has c "name in the certificate does not match"'

# 10-12: the destination names its source: a DN glob, a host name, a PSK identity.
pair "$G --name *CN=src.migsend.test*" "$G"
check source_dn_accepted 'both_ok'
pair "$G --name *CN=intruder*" "$G"
check wrong_source_dn_refused 'both_refuse && has s "is not for .\*CN=intruder\*"'
pair "--psk $C/keys.psk --name someone-else" "--psk $C/keys.psk"
check wrong_psk_identity_refused 'both_refuse && has s "identity .migsend. is not .someone-else"'

# 13: a wrong pre-shared key.
pair "--psk $C/keys.psk" "--psk $C/wrong.psk"
check wrong_psk_refused 'both_refuse && has c "pre-shared key" && has s "pre-shared key"'

# 14-15: plaintext against TLS, both ways: refused, never a silent fallback.
pair "$G" "--plain"
check plaintext_source_refused 'both_refuse && has c "refused by the peer: this destination requires TLS" &&
	has s "plaintext migsend source"'
pair "--plain" "$G"
check tls_source_refuses_plaintext_destination 'both_refuse &&
	has c "the destination answered in plaintext migsend"'

# 16-17: one byte flipped in flight ends with an error, never wrong data:
# encrypted by the kernel, and by GnuTLS in userspace.
flip() {
	port=$((port + 1))
	$IP netns exec msdst $PROXY $MS_DST_ADDR $((port + 1000)) $MS_DST_ADDR $port $1 \
		>$T/proxy.out 2>&1 &
	ppid=$!
	ms_wait_listening $((port + 1000)) $ppid
	rm -f $T/s.out $T/c.out $T/ossl.out
	# shellcheck disable=SC2086
	$IP netns exec msdst $P serve $MS_DST_ADDR $port $G >$T/s.out 2>&1 &
	spid=$!
	ms_wait_listening $port $spid
	# shellcheck disable=SC2086
	ms_src $P connect $MS_DST_ADDR $((port + 1000)) $G $2 >$T/c.out 2>&1
	crc=$?
	wait $spid
	src=$?
	kill $ppid
	wait $ppid 2>/dev/null
}
flip 1000000 ""
check flipped_byte_kernel_tls_detected '[ $src -eq 1 ] && has s "altered in flight" &&
	has proxy "flipped byte 1000000" && ! grep -q "WRONG DATA" $T/s.out $T/c.out'
flip 2000000 --user-tx
check flipped_byte_userspace_tls_detected '[ $src -eq 1 ] && has s "altered in flight" &&
	! grep -q "WRONG DATA" $T/s.out $T/c.out'

# 18-19: interoperability: OpenSSL's s_client against our destination, our
# source against OpenSSL's s_server (which sends two session tickets after
# the handshake: kTLS hands them up, they must be dropped).
port=$((port + 1))
rm -f $T/*.out
$IP netns exec msdst $P serve $MS_DST_ADDR $port $G --line >$T/s.out 2>&1 &
spid=$!
ms_wait_listening $port $spid
(echo hello; server_done) | ms_src $OPENSSL s_client -connect $MS_DST_ADDR:$port -tls1_3 \
	-CAfile $C/good/ca-cert.pem -cert $C/good/client-cert.pem -key $C/good/client-key.pem \
	-verify_return_error -verify_hostname dest.migsend.test -no_ign_eof >$T/ossl.out 2>&1
orc=$?
wait $spid
src=$?
check openssl_s_client_to_our_destination '[ $src -eq 0 ] && [ $orc -eq 0 ] &&
	has ossl "migsend:hello" && has s "ok: line hello"'

port=$((port + 1))
rm -f $T/*.out
$IP netns exec msdst $OPENSSL s_server -accept $MS_DST_ADDR:$port -tls1_3 -naccept 1 -rev \
	-CAfile $C/good/ca-cert.pem -cert $C/good/server-cert.pem -key $C/good/server-key.pem \
	-Verify 1 -verify_return_error >$T/ossl.out 2>&1 &
opid=$!
ms_wait_listening $port $opid
ms_src $P connect $MS_DST_ADDR $port $G --line >$T/c.out 2>&1
crc=$?
kill $opid 2>/dev/null
wait $opid 2>/dev/null
check our_source_to_openssl_s_server_tickets_dropped '[ $crc -eq 0 ] && has c "ok: line dnesgim olleh"'

# 20: a key update (OpenSSL s_client's "k" command) is refused clearly:
# kernel TLS cannot follow new keys on these kernels.
port=$((port + 1))
rm -f $T/*.out
$IP netns exec msdst $P serve $MS_DST_ADDR $port $G --line >$T/s.out 2>&1 &
spid=$!
ms_wait_listening $port $spid
(echo k; server_done) | ms_src $OPENSSL s_client -connect $MS_DST_ADDR:$port -tls1_3 \
	-CAfile $C/good/ca-cert.pem -cert $C/good/client-cert.pem -key $C/good/client-key.pem \
	-no_ign_eof >$T/ossl.out 2>&1
wait $spid
src=$?
check key_update_refused '[ $src -eq 1 ] && has s "updated its keys"'

[ $fails -eq 0 ]
