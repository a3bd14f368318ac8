#!/bin/sh
# Inside the VM, one boot: every engine encrypted (TLS 1.3, AES-128-GCM)
# against plaintext, on random and scattered memory, with migsend_bench
# (BENCH lines with tls=0|1), then, when perf is in the payload, where an
# encrypted full pass spends its time for the kernel engine and user-copy.
#   BENCH_SIZE  guest MiB (256)   BENCH_RUNS  runs per point (2)
#   BENCH_CONNS connections (2)   TLS_BENCH_PROFILE  0 to skip the profile
#   TLS_BENCH_CHACHA  0 to skip ChaCha20-Poly1305 (reported as tls=2)
here=$(cd "$(dirname "$0")" && pwd)
size=${BENCH_SIZE:-256} runs=${BENCH_RUNS:-2} conns=${BENCH_CONNS:-2}
creds=/tmp/benchcreds
insmod "/lib/modules/$(uname -r)/migsend.ko" || exit 1
"$here/migsend_bench" --net-only || exit 1
sh "$here/gencerts.sh" $creds || exit 1
aes=no
grep -qw aes /proc/cpuinfo && aes=yes
echo "BENCH-INFO guest_kernel=$(uname -r) cpus=$(nproc) size_mib=$size runs=$runs conns=$conns cpu_aes=$aes"
rc=0
for w in random scattered; do
	for tls in 0 1; do
		if [ $tls = 1 ]; then
			BENCH_TLS=$creds/good "$here/migsend_bench" --workload $w --size "$size" \
				--runs "$runs" --conns "$conns" || rc=1
		else
			"$here/migsend_bench" --workload $w --size "$size" --runs "$runs" \
				--conns "$conns" || rc=1
		fi
	done
done

# ChaCha20-Poly1305, what a CPU without AES instructions negotiates:
# the kernel engine and user-copy on random memory.
if [ "${TLS_BENCH_CHACHA:-1}" != 0 ]; then
	BENCH_TLS=$creds/good BENCH_TLS_PRIORITY=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305 \
		"$here/migsend_bench" --workload random --size "$size" --runs "$runs" \
		--conns "$conns" --engines kernel,user-copy | sed 's/ tls=1$/ tls=2/' || rc=1
fi

# Where the time goes: perf over the timed pass only (migsend_bench opens
# perf's control fifo around it), cpu-clock (TCG has no PMU).
PERF=$here/perf
if [ -x "$PERF" ] && [ "${TLS_BENCH_PROFILE:-1}" != 0 ]; then
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	cd /tmp || exit 1
	for e in kernel user-copy; do
		rm -f ctl ack perf.data
		mkfifo ctl ack
		"$PERF" record -q -a -g -F 499 -e cpu-clock -D -1 --control fifo:ctl,ack \
			-o perf.data >/dev/null 2>&1 &
		ppid=$!
		sleep 2
		BENCH_TLS=$creds/good BENCH_PERF_CTL=/tmp/ctl "$here/migsend_bench" \
			--workload random --size "$size" --runs 1 --conns "$conns" --engines $e &
		bpid=$!
		cat ack >/dev/null &
		wait $bpid
		kill -INT $ppid
		wait $ppid
		echo "PROFILE-BEGIN engine=$e tls=1 conns=$conns"
		"$PERF" report -i perf.data --stdio --no-children --sort comm,dso,sym \
			--percent-limit 0.7 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -45
		echo "PROFILE-END"
	done
fi
rmmod migsend
exit $rc
