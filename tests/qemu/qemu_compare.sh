#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The same guest migrated in one VM boot by QEMU's own migration (plain
# pre-copy, multifd; QEMU 7.2 and, where its tree is in the payload, 10.0
# with zero-copy-send) and by migsend (kernel engine, user-sendfile),
# idle and busy (docs/BENCHMARKS.md, "A real QEMU guest").  Runs inside
# the test VM (tests/qemu/run-compare.sh boots it); needs the module.
#
# For each run: total time (the migration started -> the destination's
# RESUME event), downtime (the source's STOP -> the destination's RESUME,
# QMP event timestamps), bytes the source's veth sent, the sender's CPU
# seconds: the source QEMU's threads other than its vCPU's, plus for
# migsend its process and its kernel threads (migsend/*, sampled every
# 0.5 s), and the destination guest's verdict on every page.
#
# Settings (BENCH_QEMU_*): MEM (MiB, 512), CONNS (4), RATE (pages/s the
# busy guest rewrites, 2000), IDLE_FILL (MiB the idle guest touched, 16),
# GUESTS ("idle busy"), METHODS (below; also qemu72-multifd-lock and
# qemu10-multifd-lock: multifd with the source's RAM locked as
# zero-copy-send needs, without zero-copy; qemu10-migsend-kernel is
# migsend's kernel engine with QEMU 10.0 as the VMM), DOWNTIME_MS (300).
QDIR=$(cd "$(dirname "$0")" && pwd)
. "$QDIR/lib.sh"
MS=${MS:-$QDIR/../migsend}
Q72=/usr/bin/qemu-system-x86_64
Q10=$QDIR/../qemu10/usr/bin/qemu-system-x86_64
: "${BENCH_QEMU_MEM:=512}" "${BENCH_QEMU_CONNS:=4}" "${BENCH_QEMU_RATE:=2000}"
: "${BENCH_QEMU_IDLE_FILL:=16}" "${BENCH_QEMU_GUESTS:=idle busy}" "${BENCH_QEMU_DOWNTIME_MS:=300}"
: "${BENCH_QEMU_METHODS:=qemu72-precopy qemu72-multifd qemu10-precopy qemu10-multifd qemu10-multifd-zc migsend-kernel migsend-sendfile qemu10-migsend-kernel}"
N=$BENCH_QEMU_CONNS
PORT=7950
mkdir -p "$T"
RES=$T/compare.results
: >"$RES"

# ----- measuring ---------------------------------------------------------

# utime + stime, in clock ticks, of a whole process (exited threads too).
proc_ticks() {
	set -- $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null)
	echo $((${12:-0} + ${13:-0}))
}

# The same for the live threads of process $1 whose name matches ERE $2.
thread_ticks() {
	local t ticks=0 task
	for task in /proc/"$1"/task/*; do
		grep -qE "$2" "$task/comm" 2>/dev/null || continue
		t=$(sed 's/^.*) //' "$task/stat" | cut -d' ' -f12,13)
		ticks=$((ticks + ${t% *} + ${t#* }))
	done
	echo $ticks
}

# Ticks to seconds with 2 decimals.
secs() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }

# Sample the CPU ticks of the kernel threads named migsend/* into $T/kt.
kthreads_sampler() {
	: >"$T/kt"
	while :; do
		for c in $(grep -l '^migsend/' /proc/[0-9]*/comm 2>/dev/null); do
			p=${c%/comm}
			echo "${p#/proc/} $(proc_ticks "${p#/proc/}")" >>"$T/kt"
		done
		sleep 0.5
	done
}

# The last sample of every kernel thread, summed.
kthreads_ticks() {
	awk '{ t[$1] = $2 } END { s = 0; for (p in t) s += t[p]; print s }' "$T/kt"
}

# The source QEMU's CPU ticks other than its vCPU thread's.
qemu_ticks() {
	local p
	p=$(q_pid src)
	echo $(($(proc_ticks "$p") - $(thread_ticks "$p" '^CPU ')))
}

# Until the destination reports RESUME (at most $1 s).
wait_resume() {
	local n=$(($1 * 10))
	while [ $n -gt 0 ] && [ -z "$(q_event_us dst RESUME)" ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ $n -gt 0 ]
}

# ----- one run -------------------------------------------------------------

guest_settings() {
	Q_MEM=$BENCH_QEMU_MEM
	case $1 in
	idle) Q_FILL=$BENCH_QEMU_IDLE_FILL Q_RATE=0 Q_VERIFY=200 ;;
	busy) Q_FILL=0 Q_RATE=$BENCH_QEMU_RATE Q_VERIFY=2000 ;;
	esac
}

# QEMU's own migration; $1: multifd or precopy, $2: zc for zero-copy-send.
qemu_migration() {
	local caps=
	[ "$1" = multifd ] && caps="multifd=true"
	q_caps src events=true $caps ${2:+zero-copy-send=true} && q_caps dst $caps || return 1
	if [ "$1" = multifd ]; then
		q_params src "\"multifd-channels\":$N" && q_params dst "\"multifd-channels\":$N" || return 1
	fi
	# No bandwidth cap (7.2's default is 32 MiB/s), the same downtime
	# target as migsend's.
	q_params src "\"max-bandwidth\":100000000000,\"downtime-limit\":$BENCH_QEMU_DOWNTIME_MS" || return 1
	PORT=$((PORT + 1))
	q_qemu_migrate $PORT 600
}

# migsend recv listening on the next port, before the clock starts.
migsend_listen() {
	PORT=$((PORT + 1))
	q_ms_recv $PORT --timeout 600
}

migsend_migration() {
	# A shell that reports its child's CPU (cutime + cstime) when it ends.
	$IP netns exec mssrc sh -c '"$@" >"'"$T"'/send.out" 2>"'"$T"'/send.err"; rc=$?
		set -- $(sed "s/^.*) //" /proc/$$/stat); echo $((${14} + ${15})) >"'"$T"'/send.cpu"
		exit $rc' sh \
		"$MS" send --no-tls --qemu-qmp "$T/src-ms.qmp" --to "$MS_DST_ADDR:$PORT" --json \
		--engine "$1" --conns "$N" --downtime-ms "$BENCH_QEMU_DOWNTIME_MS"
	Q_SRC_RC=$?
	wait $Q_RPID
	[ $Q_SRC_RC -eq 0 ] || { cat "$T/send.err"; return 1; }
}

# One guest, one method: a RESULT line.
run_one() {
	local guest=$1 method=$2 qemu zc= lock= engine= t0 tx0 c0 ok=1 total dt wire qc mc kc verdict extra=
	guest_settings "$guest"
	case $method in
	qemu10-*) qemu=$Q10 ;;
	*) qemu=$Q72 ;;
	esac
	[ -x "$qemu" ] || { echo "# $method: no $qemu"; return 0; }
	QEMU=$qemu
	case $method in
	*-zc) zc=zc lock=1 ;;
	*-lock) lock=1 ;;
	*migsend-kernel) engine=kernel ;;
	*migsend-sendfile) engine=user-sendfile ;;
	esac
	rm -f "$T/send.cpu" "$T/kt"
	if [ -n "$lock" ]; then
		q_boot_src -incoming defer -overcommit mem-lock=on || return 1
	else
		q_boot_src -incoming defer || return 1
	fi
	case $method in *migsend-*) migsend_listen || return 1 ;; esac
	t0=$("$MSQMP" --now) tx0=$(q_tx_bytes) c0=$(qemu_ticks)
	case $method in
	*-precopy) qemu_migration precopy || ok=0 ;;
	*-multifd*) qemu_migration multifd $zc || ok=0 ;;
	*migsend-*)
		kthreads_sampler &
		spid=$!
		migsend_migration "$engine" || ok=0
		kill $spid
		wait $spid 2>/dev/null ;;
	esac
	[ $ok = 1 ] && wait_resume 60 || ok=0
	if [ $ok = 0 ]; then
		echo "# $guest $method: the migration failed"
		tail -5 "$T/src.err" "$T/dst.err" 2>/dev/null | sed 's/^/#   /'
		q_cleanup
		echo "RESULT $guest $method failed" >>"$RES"
		return 0
	fi
	total=$(($(q_event_us dst RESUME) - t0))
	total=$(printf '%d.%02d' $((total / 1000000)) $((total % 1000000 / 10000)))
	dt=$(q_downtime_ms)
	wire=$(($(q_tx_bytes) - tx0))
	qc=$(($(qemu_ticks) - c0))
	mc=$(cat "$T/send.cpu" 2>/dev/null || echo 0)
	kc=$([ -s "$T/kt" ] && kthreads_ticks || echo 0)
	if q_verify dst 300; then verdict=ok; else verdict=FAIL; fi
	case $method in
	*migsend*) extra="migsend: $(grep -o '"pass":' "$T/send.out" | wc -l) passes, guest downtime $(q_json "$T/send.out" guest_downtime_ms) ms" ;;
	qemu*) extra="qemu: total $(q_cmd src '{"execute":"query-migrate"}' |
		sed -n 's/.*"total-time": *\([0-9]*\).*/\1/p') ms, downtime $(q_cmd src '{"execute":"query-migrate"}' |
		sed -n 's/.*"downtime": *\([0-9]*\).*/\1/p') ms" ;;
	esac
	echo "RESULT $guest $method $($QEMU --version | sed -n 's/QEMU emulator version \([0-9.]*\).*/\1/p') $total $dt $wire $(secs $((qc + mc + kc))) $(secs $qc) $(secs $mc) $(secs $kc) $verdict" | tee -a "$RES"
	echo "# $extra"
	q_cleanup
}

# ----- all of them -----------------------------------------------------------

echo "# compare: ${BENCH_QEMU_MEM} MiB guest, $N connections, busy guest rewrites $BENCH_QEMU_RATE pages/s," \
	"idle guest touched $BENCH_QEMU_IDLE_FILL MiB; downtime target $BENCH_QEMU_DOWNTIME_MS ms"
ms_netns_setup || { echo "cannot set up the network namespaces"; exit 1; }
for guest in $BENCH_QEMU_GUESTS; do
	for method in $BENCH_QEMU_METHODS; do
		echo "# $guest guest, $method (at $(cut -d' ' -f1 /proc/uptime) s)"
		run_one "$guest" "$method"
	done
done

# The table, in the order of the runs.
echo "COMPARE-TABLE-BEGIN"
echo "| guest | method | QEMU | total s | downtime ms | MB on the wire | sender CPU s (QEMU + migsend + kthreads) | guest check |"
echo "| --- | --- | --- | ---: | ---: | ---: | --- | --- |"
awk '$4 == "failed" { printf "| %s | %s | | failed | | | | |\n", $2, $3; next }
     { printf "| %s | %s | %s | %s | %s | %.1f | %s (%s + %s + %s) | %s |\n",
	$2, $3, $4, $5, $6, $7 / 1e6, $8, $9, $10, $11, $12 }' "$RES"
echo "COMPARE-TABLE-END"
