#!/bin/sh
# The userspace engines against the receiver in every ACK timing the
# protocol allows (docs/PROTOCOL.md, "ACKs"): only after each barrier,
# right after each END, every 8 MiB, after every record; F_ACK always.
# Over loopback, with the CLI built with ASan and UBSan: the sender must
# never stall on an ACK it cannot see, and both sides must report the
# same outcome with the same memory hash.  The kernel engine runs the
# same matrix in the VM (tests/userspace_test.sh).
MS=${MS:-$(dirname "$0")/migsend-asan}
T=$(mktemp -d)
trap 'rm -rf $T' EXIT
n=0 fails=0
port=$((20000 + $$ % 20000))

echo "TAP version 13"
echo "1..12"
for mode in barrier end progress every; do
	for engine in user-copy user-zc user-sendfile; do
		port=$((port + 1))
		MIGSEND_TEST_ACKS=$mode "$MS" recv --no-tls --listen 127.0.0.1:$port --hash --timeout 30 \
			>$T/recv.out 2>$T/recv.err &
		rpid=$!
		for _ in $(seq 50); do
			ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port " && break
			sleep 0.1
		done
		timeout 120 "$MS" send --no-tls --to 127.0.0.1:$port --engine $engine --conns 3 \
			--size 48M --zero-ratio 0.3 --dirty-rate 3000 --hash \
			>$T/send.out 2>$T/send.err
		src_rc=$?
		wait $rpid
		dst_rc=$?
		src=$(sed -n 's/^source memory hash: //p' $T/send.out)
		dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
		n=$((n + 1))
		if [ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] && [ -n "$src" ] && [ "$src" = "$dst" ]; then
			echo "ok $n acks_${mode}_$engine"
		else
			echo "not ok $n acks_${mode}_$engine (sender $src_rc, receiver $dst_rc)"
			sed 's/^/# /' $T/send.err $T/recv.err | tail -10
			fails=$((fails + 1))
		fi
	done
done
[ $fails -eq 0 ]
