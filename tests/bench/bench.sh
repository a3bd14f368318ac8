#!/bin/sh
# Inside the VM: every engine and the path's ceiling, on the same veth
# path into the peer namespace, in one boot.  The ceiling is N iperf3 -Z
# processes for N connections, each its own server port and thread,
# summed: Debian 12's iperf3 (3.12) runs all -P streams in one thread, so
# a single process measures one core, not the path.
#   BENCH_MODE   quick: random and scattered, 2 connections
#                full:  every workload, 1, 2, 4 and 8 connections, and scale
#                scale: the sparse guest at 1, 4 and 16 GiB, 1-8 connections
#   BENCH_SIZE   guest MiB (1024)      BENCH_RUNS   runs per point (3)
#   BENCH_WORKLOADS, BENCH_CONNS  override the mode's lists; BENCH_ENGINES
#                (e.g. kernel,user-sendfile) limits the engines
#   full also runs random into a receiver that does not preallocate
#   (kernel and user-sendfile, 2 connections): the receiver's CPU without it
here=$(cd "$(dirname "$0")" && pwd)
IP=/usr/sbin/ip
[ -x $IP ] || IP=ip
mode=${BENCH_MODE:-quick} size=${BENCH_SIZE:-1024} runs=${BENCH_RUNS:-3}
if [ "$mode" = full ]; then
	workloads="random half-zero holes zero scattered" conns="1 2 4 8"
elif [ "$mode" = scale ]; then
	workloads="" conns="1 2 4 8"
else
	workloads="random scattered" conns="2"
fi
workloads=${BENCH_WORKLOADS-$workloads} conns=${BENCH_CONNS:-$conns}
insmod "/lib/modules/$(uname -r)/migsend.ko" || exit 1
"$here/migsend_bench" --net-only || exit 1
maxc=$(echo $conns | tr ' ' '\n' | sort -n | tail -1)
for p in $(seq 5201 $((5200 + maxc))); do
	$IP netns exec mspeer iperf3 -s -D -p "$p" >/dev/null 2>&1
done
sleep 1
# The sum of N single-stream iperf3 clients run at once, in bits/s.
ceiling() { # ceiling N
	d=$(mktemp -d)
	for p in $(seq 5201 $((5200 + $1))); do
		iperf3 -c 10.77.0.2 -p "$p" -Z -t 5 -J >"$d/$p.json" 2>/dev/null &
	done
	wait
	for f in "$d"/*.json; do
		sed -n '/"sum_received"/,/}/s/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' "$f" | head -1
	done | awk '{ s += $1 } END { printf "%.0f", s }'
	rm -rf "$d"
}
echo "BENCH-INFO guest_kernel=$(uname -r) cpus=$(nproc) mode=$mode size_mib=$size runs=$runs"
for c in $conns; do
	for i in $(seq "$runs"); do
		echo "CEILING conns=$c run=$i bits_per_second=$(ceiling "$c")"
	done
done
rc=0
# Scale: the sparse guest (512 MiB used) at 1, 4 and 16 GiB.  Only the
# kernel engine reads holes without allocating them: the user engines
# would fill a 16 GiB guest's holes in a 4 GiB VM, so they run at 1 GiB.
if [ "$mode" = scale ] || [ "$mode" = full ]; then
	for gib in 1 4 16; do
		engines=kernel
		[ $gib = 1 ] && engines=kernel,user-copy,user-zc,user-sendfile
		"$here/migsend_bench" --workload sparse --size $((gib * 1024)) --runs "$runs" \
			--conns "$(echo $conns | tr ' ' ',')" --engines $engines || rc=1
	done
fi
# Half-zero memory also with the kernel engine's records before SPARSE
# (kernel-dense): what the SPARSE record is worth, side by side.  The runs
# go round by round (every engine and connection count once, then again),
# not engine after engine: later runs in a boot are slower, and that
# drift must not favour the engine that comes first.
for w in $workloads; do
	engines=$BENCH_ENGINES
	[ -z "$engines" ] && [ "$w" = half-zero ] &&
		engines=kernel,kernel-dense,user-copy,user-zc,user-sendfile
	for i in $(seq "$runs"); do
		"$here/migsend_bench" --workload "$w" --size "$size" --runs 1 \
			--conns "$(echo $conns | tr ' ' ',')" ${engines:+--engines $engines} || rc=1
	done
done
if [ "$mode" = full ] || [ "${BENCH_NO_PREALLOC:-0}" = 1 ]; then
	"$here/migsend_bench" --workload random --size "$size" --runs "$runs" \
		--conns 2 --engines kernel,user-sendfile --no-prealloc || rc=1
fi
rmmod migsend
exit $rc
