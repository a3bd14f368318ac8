#!/bin/sh
# The CLI's options on the host, with the CLI built with ASan and UBSan:
# encrypted by default on every path (plaintext only with --no-tls), and
# the pre-copy options 'send' and 'send --qemu-qmp' share parsed alike
# (userspace/cli/send_opts.c).  A refused command line exits 2, says why,
# and neither listens nor connects: each case points at a port that
# something listens on and checks that nothing connected.
MS=${MS:-$(dirname "$0")/migsend-asan}
T=$(mktemp -d)
port=$((40000 + $$ % 20000))
n=0 fails=0
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(1)
open(sys.argv[2] + "/ready", "w").close()
while True:
    try:
        c, _ = s.accept(); open(sys.argv[2] + "/connected", "a").write("x\n"); c.close()
    except socket.timeout:
        pass
' $port $T &
lpid=$!
trap 'kill $lpid 2>/dev/null; rm -rf $T' EXIT
for _ in $(seq 50); do [ -e $T/ready ] && break; sleep 0.1; done

# refused NAME MESSAGE-REGEX ARGS...: exit 2, MESSAGE on stderr, no connection.
refused() {
	name=$1 msg=$2
	shift 2
	n=$((n + 1))
	timeout 20 "$MS" "$@" >$T/out 2>$T/err
	rc=$?
	if [ $rc -eq 2 ] && grep -qE -- "$msg" $T/err && [ ! -e $T/connected ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name (exit $rc)"
		sed 's/^/# /' $T/err | head -5
		fails=$((fails + 1))
	fi
}

echo "TAP version 13"
echo "1..14"
to="--to 127.0.0.1:$port"
enc="encrypted by default.*--no-tls"
refused send_is_encrypted_by_default "$enc" send $to --engine user-copy --size 4M
refused recv_is_encrypted_by_default "$enc" recv --listen 127.0.0.1:$((port + 1))
refused qemu_send_is_encrypted_by_default "$enc" send --qemu-qmp $T/none.qmp $to
refused qemu_recv_is_encrypted_by_default "$enc" \
	recv --listen 127.0.0.1:$((port + 1)) --qemu-qmp $T/none.qmp
refused tls_name_alone_is_no_plaintext "$enc" send $to --tls-name x --engine user-copy
refused no_tls_contradicts_creds "contradicts" send $to --no-tls --tls-creds $T
refused qemu_no_tls_contradicts_psk "contradicts" \
	send --qemu-qmp $T/none.qmp $to --no-tls --tls-psk $T/keys.psk
refused qemu_recv_creds_and_psk "not both" \
	recv --listen 127.0.0.1:$((port + 1)) --qemu-qmp $T/none.qmp --tls-creds $T --tls-psk $T/k
# The shared options: the same refusals on both paths.
for path in sim qemu; do
	q=""
	[ $path = qemu ] && q="--qemu-qmp $T/none.qmp"
	refused ${path}_max_conns_zero "usage" send $q $to --no-tls --max-conns 0
	refused ${path}_bad_timeout_strategy "usage" send $q $to --no-tls --timeout-strategy later
	refused ${path}_needs_to "--to HOST:PORT is required|usage" send $q --no-tls
done
exit $((fails > 0))
