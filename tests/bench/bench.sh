#!/bin/sh
# Inside the VM: every engine and the iperf3 -Z ceiling, on the same veth
# path into the peer namespace, in one boot.
#   BENCH_MODE   quick: random and scattered, 2 connections
#                full:  every workload, 1, 2, 4 and 8 connections
#   BENCH_SIZE   guest MiB (1024)      BENCH_RUNS   runs per point (3)
here=$(cd "$(dirname "$0")" && pwd)
IP=/usr/sbin/ip
[ -x $IP ] || IP=ip
mode=${BENCH_MODE:-quick} size=${BENCH_SIZE:-1024} runs=${BENCH_RUNS:-3}
if [ "$mode" = full ]; then
	workloads="random half-zero holes zero scattered" conns="1 2 4 8"
else
	workloads="random scattered" conns="2"
fi
insmod "/lib/modules/$(uname -r)/migsend.ko" || exit 1
"$here/migsend_bench" --net-only || exit 1
$IP netns exec mspeer iperf3 -s -D >/dev/null 2>&1
sleep 1
echo "BENCH-INFO guest_kernel=$(uname -r) cpus=$(nproc) mode=$mode size_mib=$size runs=$runs"
for c in $conns; do
	for i in $(seq "$runs"); do
		bps=$(iperf3 -c 10.77.0.2 -Z -P "$c" -t 5 -J 2>/dev/null |
			sed -n '/"sum_received"/,/}/s/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' | head -1)
		echo "CEILING conns=$c run=$i bits_per_second=${bps:-0}"
	done
done
rc=0
for w in $workloads; do
	"$here/migsend_bench" --workload "$w" --size "$size" --runs "$runs" \
		--conns "$(echo $conns | tr ' ' ',')" || rc=1
done
rmmod migsend
exit $rc
