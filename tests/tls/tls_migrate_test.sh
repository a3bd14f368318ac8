#!/bin/sh
# Encrypted migrations with the migsend CLI (issue 12), between the two
# network namespaces of netns.sh: every engine migrates over TLS and the
# hashes match, with the kernel's TLS counters showing that kTLS carried
# it; every refusal an operator can meet ends the migration with a clear
# error and nothing kept; a byte flipped in flight on a data connection
# ends it with an error, never with wrong memory.  Needs the module loaded
# (module_load_test.sh), the tls module, openssl.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
MS="$here/migsend"
PROXY=$here/flip_proxy
T=/tmp/tlsm
C=$T/creds
mkdir -p $T
n=0 fails=0 port=7600
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() {
	n=$((n + 1)); echo "not ok $n $1"; fails=$((fails + 1))
	for f in $T/*.out $T/*.err; do [ -s "$f" ] && sed "s|^|# $(basename $f): |" "$f" | tail -15; done
}
# check NAME 'CONDITION': the whole condition, && and all, decides.
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
said() { for f in send recv; do [ -s $T/$f.err ] && sed "s|^|# $f: |" $T/$f.err | tail -3; done; }
# kTLS counters of a namespace: "TlsTxSw TlsRxSw" (sockets ever switched).
tls_stat() {
	$IP netns exec "$1" cat /proc/net/tls_stat |
		awk '$1 == "TlsTxSw" { tx = $2 } $1 == "TlsRxSw" { rx = $2 } END { print tx + 0, rx + 0 }'
}

# migrate "RECV-OPTIONS" "SEND-OPTIONS": one migration; exit codes in rrc
# and src, outputs in recv.out/.err and send.out/.err.
migrate() {
	port=$((port + 1))
	rm -f $T/*.out $T/*.err
	set -f	# options are split unquoted, never globbed
	# shellcheck disable=SC2086
	$IP netns exec msdst "$MS" recv --listen $MS_DST_ADDR:$port --timeout 20 --hash $1 \
		>$T/recv.out 2>$T/recv.err &
	rpid=$!
	ms_wait_listening $port $rpid
	# shellcheck disable=SC2086
	ms_src "$MS" send --to $MS_DST_ADDR:${to_port:-$port} --size 32M --zero-ratio 0.3 \
		--dirty-rate 500 --max-passes 5 --hash $2 >$T/send.out 2>$T/send.err
	src=$?
	set +f
	wait $rpid
	rrc=$?
}
hashes_match() {
	s=$(sed -n 's/^source memory hash: //p' $T/send.out)
	d=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
	[ -n "$s" ] && [ "$s" = "$d" ]
}
nothing_kept() { ! grep -q 'migration complete' $T/recv.out; }

echo "TAP version 13"
echo "1..16"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }
sh "$here/gencerts.sh" $C || { echo "Bail out! cannot make test credentials"; exit 1; }
G="--tls-creds $C/good"

# 1-4: every engine over TLS; kTLS on every connection at both ends.
for e in kernel user-copy user-zc user-sendfile; do
	b=$(tls_stat mssrc) bd=$(tls_stat msdst)
	migrate "$G --tls-name *CN=src.migsend.test*" "$G --engine $e --conns 3"
	a=$(tls_stat mssrc) ad=$(tls_stat msdst)
	stx=$((${a% *} - ${b% *})) srx=$((${a#* } - ${b#* }))
	dtx=$((${ad% *} - ${bd% *})) drx=$((${ad#* } - ${bd#* }))
	# Source: 4 sockets receive in the kernel; all but user-copy's 3 data
	# connections send in the kernel too.  Destination: 4 each way.
	want_tx=4
	[ $e = user-copy ] && want_tx=1
	echo "# $e: kTLS sockets source tx $stx rx $srx, destination tx $dtx rx $drx"
	said
	check "tls_migration_$e" '[ $src -eq 0 ] && [ $rrc -eq 0 ] && hashes_match &&
		[ $stx -eq $want_tx ] && [ $srx -eq 4 ] && [ $dtx -eq 4 ] && [ $drx -eq 4 ]'
done

# 5: a pre-shared key.
migrate "--tls-psk $C/keys.psk" "--tls-psk $C/keys.psk --conns 2"
said
check tls_psk_migration '[ $src -eq 0 ] && [ $rrc -eq 0 ] && hashes_match'

# 6: plaintext, by explicit choice on both sides, still works.
migrate "--no-tls" "--no-tls --conns 2"
check plaintext_by_choice '[ $src -eq 0 ] && [ $rrc -eq 0 ] && hashes_match'

# 7: a TLS option without credentials is a usage error that says what to
# do, never a plaintext migration.
ms_src "$MS" send --to $MS_DST_ADDR:7999 --size 4M --tls-name dest.migsend.test \
	>$T/send.out 2>$T/send.err
rc=$?
said
check tls_option_without_credentials_is_no_plaintext '[ $rc -eq 2 ] && grep -q "encrypted by default" $T/send.err'

# 8-9: plaintext against TLS, both ways: refused with a clear error.
migrate "$G" "--no-tls --conns 2"
said
check plaintext_source_refused '[ $src -eq 5 ] && grep -q "this destination requires TLS" $T/send.err &&
	grep -q "plaintext migsend source" $T/recv.err && nothing_kept'
migrate "--no-tls" "$G --conns 2"
said
check tls_source_refuses_plaintext_destination '[ $src -eq 5 ] &&
	grep -q "answered in plaintext" $T/send.err && grep -q "speaks TLS" $T/recv.err && nothing_kept'

# 10-12: authentication: another CA, the wrong name, the wrong key.
migrate "$G" "--tls-creds $C/otherca --conns 2"
said
check wrong_ca_refused '[ $src -eq 5 ] && grep -q "issuer is unknown" $T/send.err && nothing_kept'
migrate "$G" "$G --tls-name other.migsend.test --conns 2"
said
check wrong_name_refused '[ $src -eq 5 ] && grep -q "does not match" $T/send.err && nothing_kept'
migrate "--tls-psk $C/keys.psk" "--tls-psk $C/wrong.psk --conns 2"
said
check wrong_psk_refused '[ $src -eq 5 ] && grep -q "pre-shared key" $T/send.err &&
	grep -q "pre-shared key" $T/recv.err && nothing_kept'

# 13-14: a byte flipped in flight on every data connection (the proxy's
# second connection and later ones), 64 KiB into it, past the handshake:
# the migration fails on both sides, the destination keeps nothing;
# kernel engine and user-copy.  (Flipping only the first data connection
# at 1 MiB once went unnoticed with user-copy on 6.1: a connection can
# carry less than that when the other one took the pass's spans.)
for e in kernel user-copy; do
	port=$((port + 1))
	$IP netns exec msdst $PROXY $MS_DST_ADDR $((port + 1000)) $MS_DST_ADDR $((port + 1)) \
		65536 1+ >$T/proxy.log 2>&1 &
	ppid=$!
	ms_wait_listening $((port + 1000)) $ppid
	to_port=$((port + 1000))
	migrate "$G" "$G --engine $e --conns 2"
	to_port=
	kill $ppid
	wait $ppid 2>/dev/null
	said
	sed 's/^/# proxy: /' $T/proxy.log
	check "flipped_byte_fails_$e" '[ $src -ne 0 ] && [ $rrc -ne 0 ] && nothing_kept &&
		grep -q "flipped byte 65536 of connection [12]" $T/proxy.log &&
		grep -q "altered in flight" $T/recv.err'
done
# 15: TLS says who the peer is, the token which migration: an
# authenticated connection without the token is refused, inside TLS.
port=$((port + 1))
rm -f $T/*.out $T/*.err
$IP netns exec msdst "$MS" recv --listen $MS_DST_ADDR:$port --timeout 10 $G \
	>$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening $port $rpid
ms_src "$here/tls_peer" connect $MS_DST_ADDR $port --creds $C/good --join >$T/peer.out 2>&1
kill $rpid
wait $rpid 2>/dev/null
sed 's/^/# peer: /' $T/peer.out
said
check authenticated_but_no_token_refused_inside_tls 'grep -q "ktls: tx aes-128-gcm rx aes-128-gcm" $T/peer.out &&
	grep -q "error: refused by the peer: " $T/peer.out && grep -q "refused connection" $T/recv.err'

# 16: a stock TLS client (OpenSSL's s_client) completes the handshake with
# the receiver itself; its line of text is then read inside TLS and
# refused as no migsend greeting, with the refusal sent back inside TLS.
port=$((port + 1))
rm -f $T/*.out $T/*.err
$IP netns exec msdst "$MS" recv --listen $MS_DST_ADDR:$port --timeout 10 $G \
	>$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening $port $rpid
(echo "hello from openssl, not migsend"; sleep 3) | ms_src /usr/bin/openssl s_client \
	-connect $MS_DST_ADDR:$port -tls1_3 -CAfile $C/good/ca-cert.pem \
	-cert $C/good/client-cert.pem -key $C/good/client-key.pem \
	-verify_return_error -verify_hostname dest.migsend.test -no_ign_eof >$T/ossl.out 2>&1
kill $rpid
wait $rpid 2>/dev/null
said
grep -aE "^(Verification|New,)" $T/ossl.out | sed 's/^/# openssl: /'
check openssl_s_client_handshakes_with_the_receiver 'grep -q "^Verification: OK" $T/ossl.out &&
	grep -q "^New, TLSv1.3" $T/ossl.out && grep -q "refused connection.*not a migsend control message" $T/recv.err &&
	grep -aq "MSCT" $T/ossl.out'
[ $fails -eq 0 ]
