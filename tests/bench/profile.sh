#!/bin/sh
# Inside the VM: where the time of a full pass goes.  For each engine and
# connection count, one pass over BENCH_SIZE MiB of PROFILE_WORKLOAD
# memory runs under 'perf record -a' (cpu-clock: TCG has no PMU),
# enabled for the timed pass only, and the report gives the top symbols
# by thread kind: the sender (the module's threads or the engine's), the
# receiver, and the softirq/TCP work wherever it ran; then the sender's
# own symbols, as shares of the sender's samples.
#   BENCH_SIZE  guest MiB (1024)   PROFILE_ENGINES (kernel user-sendfile)
#   PROFILE_CONNS (2 4)   PROFILE_WORKLOAD (random; half-zero, scattered...)
here=$(cd "$(dirname "$0")" && pwd)
size=${BENCH_SIZE:-1024}
engines=${PROFILE_ENGINES:-"kernel user-sendfile"}
conns=${PROFILE_CONNS:-"2 4"}
workload=${PROFILE_WORKLOAD:-random}
PERF=$here/perf
insmod "/lib/modules/$(uname -r)/migsend.ko" || exit 1
"$here/migsend_bench" --net-only || exit 1
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid
cd /tmp || exit 1
for e in $engines; do
	for c in $conns; do
		rm -f ctl ack perf.data
		mkfifo ctl ack
		"$PERF" record -q -a -g -F 499 -e cpu-clock -D -1 --control fifo:ctl,ack \
			-o perf.data >/dev/null 2>&1 &
		ppid=$!
		sleep 2
		BENCH_PERF_CTL=/tmp/ctl "$here/migsend_bench" --workload "$workload" \
			--size "$size" --runs 1 --conns "$c" --engines "$e" &
		bpid=$!
		# perf answers each command on the ack fifo: read them.
		cat ack >/dev/null &
		wait $bpid
		kill -INT $ppid
		wait $ppid
		echo "PROFILE-BEGIN workload=$workload engine=$e conns=$c"
		"$PERF" report -i perf.data --stdio --no-children --sort comm,dso,sym \
			--percent-limit 0.7 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -45
		# The sender alone: the module's threads (perf names them after
		# kthreadd) or the engine's threads in the benchmark's process.
		case $e in
		kernel*) sender=kthreadd ;;
		*) sender=migsend_bench ;;
		esac
		echo "PROFILE-SENDER $sender"
		"$PERF" report -i perf.data --stdio --no-children --sort sym \
			--comms "$sender" --percentage relative \
			--percent-limit 1 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30
		echo "PROFILE-END"
	done
done
rmmod migsend
