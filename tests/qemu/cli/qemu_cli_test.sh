#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# migsend's QEMU path (docs/QEMU.md), branch by branch: who runs the guest
# after each way a migration can end.  Uses the nested-QEMU harness of
# tests/qemu (lib.sh: the test guest, the two QEMUs in the network
# namespaces mssrc and msdst, QMP, the guest's own verdict).  Needs the
# module loaded (module_load_test.sh).
#
#   running_guest_handed_over_encrypted
#                               kernel engine over TLS (kTLS on every
#                               connection at both ends): the destination
#                               runs it, the guest verifies every page there
#   paused_guest_stays_paused   a paused guest: 2 passes, paused there too
#   handover_done_lost_both_paused
#                               the source's DONE lost on the way: both stay
#                               paused, each says so; qemu-resume on the
#                               destination, the guest verifies there
#   handover_cut_after_done     the connection cut right after the source's
#                               DONE: the destination runs the guest, the
#                               source cannot know and stays paused
#   destination_refuses_state   the destination QEMU cannot load the devices:
#                               ABORT before DONE, the source resumes it
#   destination_killed_after_stop
#                               the destination dies during the final pass:
#                               the source resumes the guest
#   layout_mismatch_refused     another RAM size there: refused at HELLO,
#                               the source guest never stopped
#   sigterm_keeps_guest_running SIGTERM during pre-copy: guest runs on
#   memfd_refused               RAM that x-ignore-shared would not leave to
#                               migsend: refused before anything changes
#
# Not run unless named (the harness of tests/qemu has them as well):
#   two_backends_handed_over, hugetlbfs_handed_over,
#   negative_control_detected (--test-drop-final-pages)
#   pause_cost (prints what the dirty log's vCPU pauses cost, Q_MEM MiB)
#
# QEMU_CLI_TESTS="name ..." runs only those.
MYDIR=$(cd "$(dirname "$0")" && pwd)
QDIR=$(cd "$MYDIR/../qemu" && pwd)
. "$QDIR/lib.sh"
MS=${MS:-$MYDIR/../migsend}
PORT=7810
n=0 fails=0

all_cases="running_guest_handed_over_encrypted paused_guest_stays_paused handover_done_lost_both_paused
handover_cut_after_done destination_refuses_state destination_killed_after_stop layout_mismatch_refused sigterm_keeps_guest_running memfd_refused"
cases=${QEMU_CLI_TESTS:-$all_cases}

# Source and destination QEMUs, the source guest ready; $1: extra
# arguments of the source, $2 of the destination.
boot_pair() {
	q_start src $1 || return 1
	q_start dst -incoming defer $2 || return 1
	q_wait_line src '^MSGUEST READY' 180
}

# Both sides' TLS options: QC_TLS (default --no-tls).
# kTLS sockets a namespace ever switched on: "TX RX" (/proc/net/tls_stat).
tls_stat() {
	$IP netns exec "$1" cat /proc/net/tls_stat |
		awk '$1 == "TlsTxSw" { tx = $2 } $1 == "TlsRxSw" { rx = $2 } END { print tx + 0, rx + 0 }'
}

# migsend recv in msdst, in the background: its output in $T/recv.out.
start_recv() {
	PORT=$((PORT + 1))
	$IP netns exec msdst "$MS" recv ${QC_TLS:---no-tls} --listen "$MS_DST_ADDR:$PORT" --qemu-qmp "$T/dst-ms.qmp" \
		--timeout 120 --json "$@" >"$T/recv.out" 2>"$T/recv.err" &
	rpid=$!
	ms_wait_listening $PORT $rpid
}

# migsend send in mssrc; its JSON in $T/send.out, its exit status in src_rc.
run_send() {
	$IP netns exec mssrc "$MS" send ${QC_TLS:---no-tls} --qemu-qmp "$T/src-ms.qmp" --to "$MS_DST_ADDR:$PORT" \
		--json "$@" >"$T/send.out" 2>"$T/send.err"
	src_rc=$?
}

wait_recv() {
	wait $rpid
	dst_rc=$?
}

# The value of key $2 in the JSON line of file $1 (strings and numbers).
json_field() {
	sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$1" | head -1
}

show() {
	echo "# send rc=$src_rc: $(cat "$T/send.out")"
	sed 's/^/# send: /' "$T/send.err"
	echo "# recv rc=$dst_rc: $(cat "$T/recv.out")"
	sed 's/^/# recv: /' "$T/recv.err"
}

# x-ignore-shared is off again on SIDE: a migration by QEMU alone would
# otherwise leave the RAM behind.
ignore_shared_off() {
	q_cmd "$1" '{"execute":"query-migrate-capabilities"}' |
		grep -qE '"state": *false, *"capability": *"x-ignore-shared"' && return 0
	echo "# x-ignore-shared still on at $1"
	return 1
}

expect_state() {
	s=$(q_run_state "$1")
	[ "$s" = "$2" ] && return 0
	echo "# $1 QEMU is '$s', expected '$2'"
	return 1
}

case_running_guest_handed_over_encrypted() {
	sh "$MYDIR/../gencerts.sh" "$T/creds" >/dev/null || { echo "# gencerts.sh failed"; return 1; }
	boot_pair || return 1
	before_src=$(tls_stat mssrc) before_dst=$(tls_stat msdst)
	QC_TLS="--tls-creds $T/creds/good"
	start_recv || return 1
	run_send --conns 2
	wait_recv
	QC_TLS=""
	show
	set -- $before_src $before_dst $(tls_stat mssrc) $(tls_stat msdst)
	echo "# kTLS sockets switched on: source TX $(($5 - $1)), destination RX $(($8 - $4))"
	[ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] || return 1
	# The control connection and both data connections.
	[ $(($5 - $1)) -ge 3 ] && [ $(($8 - $4)) -ge 3 ] || return 1
	[ "$(json_field "$T/send.out" outcome)" = destination ] || return 1
	[ "$(json_field "$T/recv.out" outcome)" = running ] || return 1
	dt=$(json_field "$T/send.out" guest_downtime_ms)
	echo "# downtime as the guest saw it: $dt ms (harness: $(q_downtime_ms) ms)"
	[ -n "$dt" ] && [ "$dt" != null ] || return 1
	expect_state dst running && expect_state src postmigrate || return 1
	q_verify dst
}

case_paused_guest_stays_paused() {
	boot_pair || return 1
	q_cmd src '{"execute":"stop"}' >/dev/null || return 1
	start_recv || return 1
	run_send --conns 1
	wait_recv
	show
	[ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] || return 1
	[ "$(grep -o '"pass":' "$T/send.out" | wc -l)" -eq 2 ] || { echo "# not 2 passes"; return 1; }
	[ "$(json_field "$T/recv.out" outcome)" = paused ] || return 1
	expect_state dst paused || return 1
	"$MS" qemu-resume --qemu-qmp "$T/dst-ms.qmp" || return 1
	q_verify dst
}

case_handover_done_lost_both_paused() {
	boot_pair || return 1
	start_recv --timeout 10 || return 1
	run_send --conns 2 --test-cut-handover done-lost
	wait_recv
	show
	[ $src_rc -eq 6 ] && [ $dst_rc -eq 6 ] || return 1
	[ "$(json_field "$T/send.out" outcome)" = unknown ] || return 1
	[ "$(json_field "$T/recv.out" outcome)" = unknown ] || return 1
	grep -q 'whether it does is unknown' "$T/send.err" || return 1
	grep -q "holds the complete state" "$T/recv.err" || return 1
	grep -q "migsend qemu-resume --qemu-qmp $T/dst-ms.qmp" "$T/recv.err" || return 1
	expect_state src postmigrate && expect_state dst paused || return 1
	# The side named: the destination, the source being paused for good.
	"$MS" qemu-resume --qemu-qmp "$T/dst-ms.qmp" || return 1
	expect_state dst running || return 1
	q_verify dst
}

case_handover_cut_after_done() {
	boot_pair || return 1
	start_recv --timeout 10 || return 1
	run_send --conns 2 --test-cut-handover after-done
	wait_recv
	show
	[ $src_rc -eq 6 ] && [ $dst_rc -eq 0 ] || return 1
	[ "$(json_field "$T/send.out" outcome)" = unknown ] || return 1
	[ "$(json_field "$T/recv.out" outcome)" = running ] || return 1
	expect_state src postmigrate && expect_state dst running || return 1
	q_verify dst
}

case_destination_refuses_state() {
	# A device the destination lacks: its QEMU cannot load the state.
	boot_pair "-device virtio-rng-pci" "" || return 1
	start_recv || return 1
	run_send --conns 2
	wait_recv
	show
	[ $src_rc -eq 6 ] && [ $dst_rc -ne 0 ] || return 1
	[ "$(json_field "$T/send.out" outcome)" = source ] || return 1
	grep -q 'runs on the source again' "$T/send.err" || return 1
	expect_state src running || return 1
	q_verify src
}

case_destination_killed_after_stop() {
	boot_pair || return 1
	start_recv || return 1
	# Capped, the final pass lasts long enough to kill the destination in it.
	$IP netns exec mssrc "$MS" send ${QC_TLS:---no-tls} --qemu-qmp "$T/src-ms.qmp" --to "$MS_DST_ADDR:$PORT" \
		--json --conns 2 --downtime-ms 60000 --max-bandwidth 4M --cap-final-pass \
		>"$T/send.out" 2>"$T/send.err" &
	spid=$!
	tries=600
	while [ $tries -gt 0 ] && ! grep -q '"event": *"STOP"' "$T/src.events"; do
		sleep 0.1
		tries=$((tries - 1))
	done
	kill -9 $rpid
	wait $spid
	src_rc=$?
	wait_recv
	show
	[ $tries -gt 0 ] || { echo "# the source never stopped the guest"; return 1; }
	[ $src_rc -eq 6 ] || return 1
	[ "$(json_field "$T/send.out" outcome)" = source ] || return 1
	grep -q 'runs on the source again' "$T/send.err" || return 1
	expect_state src running && q_verify src
}

case_layout_mismatch_refused() {
	q_start src || return 1
	Q_MEM=$((Q_MEM * 2))
	q_start dst -incoming defer || return 1
	Q_MEM=$mem0
	q_wait_line src '^MSGUEST READY' 180 || return 1
	start_recv || return 1
	run_send --conns 1
	wait_recv
	show
	[ $src_rc -ne 0 ] && [ $dst_rc -ne 0 ] || return 1
	[ "$(json_field "$T/send.out" outcome)" = source ] || return 1
	grep -q 'keeps running on the source' "$T/send.err" || return 1
	# The source guest was never stopped.
	! grep -q '"event": *"STOP"' "$T/src.events" || { echo "# the source was stopped"; return 1; }
	ignore_shared_off src && expect_state src running && q_verify src
}

case_sigterm_keeps_guest_running() {
	boot_pair || return 1
	start_recv || return 1
	# Capped below the guest's dirtying rate: pass 1 still runs at the signal.
	$IP netns exec mssrc "$MS" send ${QC_TLS:---no-tls} --qemu-qmp "$T/src-ms.qmp" --to "$MS_DST_ADDR:$PORT" \
		--json --conns 2 --max-bandwidth 2M >"$T/send.out" 2>"$T/send.err" &
	spid=$!
	sleep 8
	kill -TERM $spid
	wait $spid
	src_rc=$?
	wait_recv
	show
	[ $src_rc -ne 0 ] || return 1
	grep -q 'cancelling' "$T/send.err" && grep -q 'keeps running on the source' "$T/send.err" ||
		return 1
	ignore_shared_off src && expect_state src running && q_verify src
}

case_memfd_refused() {
	Q_LAYOUT=memfd
	q_start src || return 1
	q_wait_line src '^MSGUEST READY' 180 || return 1
	run_send --conns 1 --to "$MS_DST_ADDR:9"
	show
	[ $src_rc -ne 0 ] || return 1
	grep -q 'memory-backend-memfd.*memory-backend-file' "$T/send.err" || return 1
	grep -q 'nothing was changed' "$T/send.err" || return 1
	expect_state src running
}

# A plain migration of the layout $1, with send options $2...: the guest
# verifies on the destination.
migrate_layout() {
	Q_LAYOUT=$1
	shift
	boot_pair || return 1
	start_recv || return 1
	run_send --conns 2 "$@"
	wait_recv
	show
	[ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] || return 1
	expect_state dst running
}

case_two_backends_handed_over() {
	migrate_layout two && q_verify dst
}

case_hugetlbfs_handed_over() {
	migrate_layout huge || return 1
	q_verify dst
}

case_negative_control_detected() {
	migrate_layout file --test-drop-final-pages 8 || return 1
	[ "$(json_field "$T/send.out" test_dropped_pages)" -eq 8 ] || return 1
	q_verify dst && return 1
	echo "$Q_VERDICT" | grep -q '^VERIFY FAIL [1-9][0-9]* of'
}

case_pause_cost() {
	boot_pair || return 1
	start_recv || return 1
	# A target no pass meets: six passes, five takes with the vCPUs stopped.
	run_send --conns 2 --downtime-ms 1 --max-passes 6
	wait_recv
	show
	[ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] || return 1
	echo "# $Q_MEM MiB guest: $(sed -n 's/.*"dirty_log":\({[^}]*}\).*/\1/p' "$T/send.out")"
	q_verify dst
}

run_case() {
	name=$1
	t0=$(q_now_ms)
	src_rc= dst_rc= rpid=
	rm -f "$T"/send.* "$T"/recv.*
	if "case_$name"; then
		r=ok
	else
		r="not ok"
		fails=$((fails + 1))
		for f in src.con dst.con src.err dst.err; do
			[ -s "$T/$f" ] && tail -4 "$T/$f" | sed "s/^/# $f: /"
		done
	fi
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	q_cleanup
	Q_MEM=$mem0 Q_LAYOUT=$layout0
	n=$((n + 1))
	echo "$r $n qemu_cli.$name # $(($(q_now_ms) - t0)) ms"
}

mem0=$Q_MEM layout0=$Q_LAYOUT
mkdir -p "$T"
echo "TAP version 13"
echo "1..$(echo $cases | wc -w)"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }
echo "# $("$QEMU" --version | head -1)"
for c in $cases; do
	run_case "$c"
done
[ $fails -eq 0 ]
