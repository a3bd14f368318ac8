#!/bin/sh
# The userspace engines against the receiver in every ACK timing the
# protocol allows (docs/PROTOCOL.md, "ACKs"): only after each barrier,
# right after each END, every 8 MiB, after every record; F_ACK always.
# Over loopback, with the CLI built with ASan and UBSan: the sender must
# never stall on an ACK it cannot see, and both sides must report the
# same outcome with the same memory hash.  The kernel engine runs the
# same matrix in the VM (tests/userspace_test.sh).
# Last, user-zc between two network namespaces, its zerocopy completions
# coming after the destination's ACKs (needs root, tc, veth, u32, mirred
# and tbf: fails without).
MS=${MS:-$(dirname "$0")/migsend-asan}
T=$(mktemp -d)
S=mszc-src-$$ D=mszc-dst-$$
trap 'rm -rf $T; ip netns del $S 2>/dev/null; ip netns del $D 2>/dev/null' EXIT
n=0 fails=0
port=$((20000 + $$ % 20000))

# result NAME: after a migration, ok when both sides succeeded with the
# same memory hash.
result() {
	src=$(sed -n 's/^source memory hash: //p' $T/send.out)
	dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
	n=$((n + 1))
	if [ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] && [ -n "$src" ] && [ "$src" = "$dst" ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1 (sender $src_rc, receiver $dst_rc)"
		sed 's/^/# /' $T/send.err $T/recv.err | tail -10
		fails=$((fails + 1))
	fi
}

# not_ok NAME WHY: a case that could not run fails.
not_ok() {
	n=$((n + 1))
	echo "not ok $n $1 ($2)"
	fails=$((fails + 1))
}

# migrate NAME ACKS ENGINE SIZE ADDR RECV-TIMEOUT SEND-TIMEOUT: one
# migration of 3 connections to a receiver on ADDR that ACKs as ACKS says
# (MIGSEND_TEST_ACKS), then its result.  $in_src and $in_dst put the
# sender and the receiver into network namespaces ("ip netns exec NS").
in_src= in_dst=
migrate() {
	port=$((port + 1))
	MIGSEND_TEST_ACKS=$2 $in_dst "$MS" recv --no-tls --listen $5:$port --hash --timeout $6 \
		>$T/recv.out 2>$T/recv.err &
	rpid=$!
	for _ in $(seq 50); do
		$in_dst ss -ltn 2>/dev/null | grep -q "$5:$port " && break
		sleep 0.1
	done
	timeout $7 $in_src "$MS" send --no-tls --to $5:$port --engine $3 --conns 3 \
		--size $4 --zero-ratio 0.3 --dirty-rate 3000 --hash \
		>$T/send.out 2>$T/send.err
	src_rc=$?
	wait $rpid
	dst_rc=$?
	result $1
}

echo "TAP version 13"
echo "1..13"
for mode in barrier end progress every; do
	for engine in user-copy user-zc user-sendfile; do
		migrate acks_${mode}_$engine $mode $engine 48M 127.0.0.1 30 120
	done
done

# 13: a zerocopy completion after its connection's ACK (issue 10.7).  A
# reader that block-reads an ACK on any socket poll() reports (POLLERR
# is how MSG_ZEROCOPY completions show) then waits on a connection that
# has no more to say while the others' ACKs and DONE go unread.  Over
# loopback the cases above cannot catch it: a sent buffer is released,
# and its completion raised, when TCP's ACK of it arrives, which is no
# later than the destination's ACK.  Here every packet the source sends
# is also mirrored, to a veth behind a 200 Mbit/s token bucket: a buffer
# is released only when its copy has drained from there, a good while
# after the ACK.  With the blocking reader this case failed 10 of 10
# runs; the reader that never blocks passed 10 of 10, in about 2 s.
zc_netns() {
	ip netns add $S && ip netns add $D &&
		ip link add zc0 netns $S type veth peer name zc1 netns $D &&
		ip link add zcm0 netns $S type veth peer name zcm1 netns $S &&
		ip -n $S addr add 10.78.9.1/24 dev zc0 && ip -n $D addr add 10.78.9.2/24 dev zc1 &&
		ip -n $S link set zc0 up && ip -n $S link set zcm0 up &&
		ip -n $S link set zcm1 up && ip -n $S link set lo up &&
		ip -n $D link set zc1 up && ip -n $D link set lo up &&
		tc -n $S qdisc add dev zc0 clsact &&
		tc -n $S filter add dev zc0 egress protocol all u32 match u32 0 0 \
			action mirred egress mirror dev zcm0 &&
		tc -n $S qdisc add dev zcm0 root tbf rate 200mbit burst 64k limit 256m
}
# make check runs as root on a kernel with all of it: a missing part
# fails the case, it is not skipped.
if [ "$(id -u)" -ne 0 ] || ! command -v tc >/dev/null; then
	not_ok zc_completion_after_ack "needs root and tc"
elif ! zc_netns >$T/netns.err 2>&1; then
	not_ok zc_completion_after_ack "no netns, veth, u32, mirred or tbf: $(head -1 $T/netns.err)"
else
	in_src="ip netns exec $S" in_dst="ip netns exec $D"
	migrate zc_completion_after_ack end user-zc 16M 10.78.9.2 10 60
fi
[ $fails -eq 0 ]
