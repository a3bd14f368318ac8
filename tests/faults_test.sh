#!/bin/sh
# Faults a migration must survive, end to end with the CLI between two
# namespaces: a lossy, slow and reordering path; a receiver that dies and
# restarts; rmmod under an open session.  Needs the module loaded.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
MS="$here/migsend"
TC=/usr/sbin/tc
T=/tmp/faults
mkdir -p $T
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n $1"; fails=$((fails + 1)); sed 's/^/# /' $T/*.out $T/*.err 2>/dev/null | tail -20; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# checkc NAME 'CONDITION': the whole condition, && and all, decides (the
# shell would end check's arguments at the first &&).
checkc() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

# migrate PORT [send options]: a migration with --hash on both sides;
# leaves the exit codes in src_rc, dst_rc and the hashes in src, dst.
migrate() {
	port=$1
	shift
	rm -f $T/*
	$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:$port --hash --timeout 120 \
		>$T/recv.out 2>$T/recv.err &
	rpid=$!
	ms_wait_listening $port $rpid
	ms_src "$MS" send --no-tls --to $MS_DST_ADDR:$port --hash "$@" >$T/send.out 2>$T/send.err
	src_rc=$?
	wait $rpid
	dst_rc=$?
	src=$(sed -n 's/^source memory hash: //p' $T/send.out)
	dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
}
migrated() { [ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] && [ -n "$src" ] && [ "$src" = "$dst" ]; }
sessions_gone() { [ "$(ms_sessions_alive)" -eq 0 ]; }

echo "TAP version 13"
echo "1..12"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }

# 1: 1 % loss and 50 ms delay each way: TCP makes about 180 KB/s per
# connection here, so a small guest with a slow writer.
# Every engine: both sides must report the same outcome (the handover
# after DONE, docs/PROTOCOL.md), here success with the same memory.
$TC -n mssrc qdisc add dev msa root netem delay 50ms loss 1% &&
	$TC -n msdst qdisc add dev msb root netem delay 50ms loss 1% || echo "# netem: cannot add"
port=7110
for engine in kernel user-copy user-zc user-sendfile; do
	port=$((port + 1))
	migrate $port --engine $engine --conns 4 --size 4M --zero-ratio 0.3 --dirty-rate 20 --max-passes 4
	check lossy_slow_path_migrates_correctly_$engine migrated
done

# 5-8: reordering.
$TC -n mssrc qdisc replace dev msa root netem delay 10ms reorder 25% 50%
$TC -n msdst qdisc replace dev msb root netem delay 10ms reorder 25% 50%
for engine in kernel user-copy user-zc user-sendfile; do
	port=$((port + 1))
	migrate $port --engine $engine --conns 4 --size 16M --zero-ratio 0.3 --dirty-rate 200 --max-passes 4
	check reordering_path_migrates_correctly_$engine migrated
done
$TC -n mssrc qdisc del dev msa root
$TC -n msdst qdisc del dev msb root

# 9-10: the receiver dies mid-pass and restarts: the sender fails cleanly,
# the next migration succeeds.
ms_start_endless_migration 7103 --size 128M
kill -9 $rpid
wait $spid
rc=$?
echo "# sender: exit $rc: $(cat $T/send.err)"
checkc receiver_death_fails_the_sender_cleanly '[ $rc -eq 6 ] && sessions_gone'
migrate 7103 --conns 2 --size 32M
check restarted_receiver_takes_a_new_migration migrated

# 11-12: rmmod is refused while a session is open, and works after.
exec 3<>/dev/migsend
rmmod migsend 2>/dev/null
rc=$?
exec 3>&-
checkc rmmod_refused_while_a_session_is_open '[ $rc -ne 0 ] && [ -e /sys/module/migsend ]'
version_ok() { "$MS" version >/dev/null; }
check module_still_works_after_refused_rmmod version_ok
[ $fails -eq 0 ]
