#!/bin/sh
# The migsend CLI end to end, in two network namespaces: a migration that
# converges with matching hashes, the failures an operator meets, the
# netlink stats and events.  Needs the module loaded (module_load_test.sh).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
MS="$here/migsend"
T=/tmp/ust
mkdir -p $T
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n $1"; fails=$((fails + 1)); sed 's/^/# /' $T/* 2>/dev/null | tail -30; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# checkc NAME 'CONDITION': the whole condition, && and all, decides (the
# shell would end check's arguments at the first &&).
checkc() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
# Milliseconds since boot (busybox date has no %N).  The "1" before the
# hundredths keeps "08" and "09" from being read as bad octal numbers.
now_ms() { read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + 10 * 1${up#*.} - 1000)); }

echo "TAP version 13"
echo "1..29"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }

# 1-3: a migration with a dirtying guest converges; hashes match; no
# progress line when stderr is not a terminal.
rm -f $T/*
$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:7001 --hash >$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7001 $rpid
ms_src "$MS" send --no-tls --to $MS_DST_ADDR:7001 --conns 3 --size 64M --zero-ratio 0.3 \
	--dirty-rate 5000 --hash >$T/send.out 2>$T/send.err
src_rc=$?
wait $rpid
dst_rc=$?
src=$(sed -n 's/^source memory hash: //p' $T/send.out)
dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
checkc migration_converges '[ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] && grep -q "^final pass" $T/send.out'
checkc hashes_match '[ -n "$src" ] && [ "$src" = "$dst" ]'
check no_progress_line_without_terminal [ ! -s $T/send.err ]

# 4: --json gives one object with the passes.
rm -f $T/*
$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:7002 --json >$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7002 $rpid
ms_src "$MS" send --no-tls --to $MS_DST_ADDR:7002 --conns 2 --size 16M --json >$T/send.out 2>$T/send.err
wait $rpid
checkc json_output 'grep -q "^{\"engine\":\"kernel\",\"passes\":\[{\"pass\":1," $T/send.out &&
	grep -q "\"downtime_ms\"" $T/send.out && grep -q "^{\"passes\":" $T/recv.out'

# 5-6: the receiver is killed mid-pass: the sender stops within 5 s with a clear error.
ms_start_endless_migration 7003 --conns 2 --size 128M
kill -9 $rpid
t0=$(now_ms)
wait $spid
src_rc=$?
t=$(($(now_ms) - t0))
echo "# sender stopped ${t} ms after the receiver was killed, exit $src_rc: $(cat $T/send.err)"
checkc receiver_killed_sender_exits_within_5s '[ $t -le 5000 ] && [ $src_rc -ne 0 ]'
checkc receiver_killed_clear_error '[ $src_rc -eq 6 ] && grep -qE "lost|went away|aborted" $T/send.err'

# 7-8: the sender is killed mid-pass: the receiver reports it, keeps nothing.
ms_start_endless_migration 7004 --conns 2 --size 128M
kill -9 $spid
wait $rpid
dst_rc=$?
echo "# receiver exit $dst_rc: $(cat $T/recv.err)"
checkc sender_killed_receiver_reports_abort '[ $dst_rc -eq 6 ] && grep -q "the source went away" $T/recv.err'
no_success_reported() { ! grep -q 'migration complete' $T/recv.out; }
check sender_killed_nothing_kept_as_success no_success_reported

# 9: nobody listening: exit 4, "unreachable".
ms_src "$MS" send --no-tls --to $MS_DST_ADDR:7999 --size 4M >$T/send.out 2>$T/send.err
rc=$?
checkc unreachable_destination_exit_4 '[ $rc -eq 4 ] && grep -q unreachable $T/send.err'

# 10-11: netlink: events seen by 'migsend monitor', a live session by 'migsend stats'.
rm -f $T/*
"$MS" monitor --count 4 --timeout 180 >$T/monitor.out 2>$T/monitor.err &
mpid=$!
sleep 0.5
$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:7005 >$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7005 $rpid
ms_src "$MS" send --no-tls --to $MS_DST_ADDR:7005 --conns 2 --size 256M --zero-ratio 0 \
	--dirty-rate 2000 --max-passes 3 --downtime-ms 1 >$T/send.out 2>$T/send.err &
spid=$!
for i in $(seq 100); do
	"$MS" stats >$T/stats.out 2>$T/stats.err
	grep -q 'pass [0-9]* running' $T/stats.out && break
	sleep 0.1
done
wait $spid
wait $rpid
wait $mpid
echo "# $(cat $T/stats.out)"
sed 's/^/# monitor: /' $T/monitor.out
check netlink_stats_shows_the_session grep -qE '^session [0-9]+ pid [0-9]+: pass [0-9]+ running, 1 regions, 2 connections' $T/stats.out
checkc netlink_monitor_sees_pass_events '[ "$(grep -c "^pass-done session" $T/monitor.out)" -eq 3 ] &&
	grep -q "pass 1 done" $T/monitor.out && grep -q "^session-closed" $T/monitor.out'

# 12: every subcommand has --help.
rc=0
for c in send recv stats monitor version; do
	"$MS" $c --help >/dev/null || rc=1
done
"$MS" --help >/dev/null || rc=1
check help_for_every_command [ $rc -eq 0 ]
# One migration of the simulated guest, the receiver run with the
# environment assignment $2; passes when both sides succeed with the same
# memory hash.  migrate_same_memory NAME VAR=VALUE SEND-OPTION...
port=7100
migrate_same_memory() {
	name=$1 assign=$2
	shift 2
	port=$((port + 1))
	rm -f $T/*
	( export "$assign"; exec $IP netns exec msdst "$MS" recv --no-tls \
		--listen $MS_DST_ADDR:$port --hash --timeout 60 >$T/recv.out 2>$T/recv.err ) &
	rpid=$!
	ms_wait_listening $port $rpid
	ms_src "$MS" send --no-tls --to $MS_DST_ADDR:$port --size 32M --dirty-rate 3000 --hash \
		"$@" >$T/send.out 2>$T/send.err
	src_rc=$?
	wait $rpid
	dst_rc=$?
	src=$(sed -n 's/^source memory hash: //p' $T/send.out)
	dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
	checkc "$name" '[ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] && [ -n "$src" ] && [ "$src" = "$dst" ]'
}
# 13-28: every engine against a receiver that ACKs at each moment the
# protocol allows (MIGSEND_TEST_ACKS, test-only: only after each barrier,
# right after each END, every 8 MiB, after every record): the sender's ACK
# reader must never stall (issue 10.7: user-zc's POLLERR), both sides
# report the same outcome and memory.
for mode in barrier end progress every; do
	for engine in kernel user-copy user-zc user-sendfile; do
		migrate_same_memory "acks_${mode}_$engine" MIGSEND_TEST_ACKS=$mode \
			--engine $engine --conns 3 --zero-ratio 0.3
	done
done
# 29: a receiver from before SPARSE records (a WELCOME without features,
# MIGSEND_TEST_NO_SPARSE) gets DATA and ZERO records only, and the same memory.
migrate_same_memory receiver_without_sparse_records MIGSEND_TEST_NO_SPARSE=1 \
	--conns 2 --zero-ratio 0.5
[ $fails -eq 0 ]
