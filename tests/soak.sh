#!/bin/sh
# Migrations back to back, small guests, random faults mixed in; memory
# must stay flat.  SOAK_COUNT migrations (default 1000; make check runs
# fewer).  Prints TAP.  Needs the module loaded.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
MS="$here/migsend"
T=/tmp/soak
count=${SOAK_COUNT:-1000}
mkdir -p $T
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }
# The module's own memory: its image (/proc/modules) and its sessions.
module_bytes() {
	size=$(sed -n 's/^migsend \([0-9]*\) .*/\1/p' /proc/modules)
	objsize=$(awk '$1 == "migsend_session" { print $4; exit }' /proc/slabinfo)
	echo $((size + $(ms_sessions_alive) * ${objsize:-0}))
}
# On the debug kernel: a kmemleak scan; what it suspects, as a count.
kmemleak_count() {
	[ -w /sys/kernel/debug/kmemleak ] || { echo "-"; return; }
	echo scan >/sys/kernel/debug/kmemleak
	grep -c '^unreferenced object' /sys/kernel/debug/kmemleak
}
rand() { echo $(($(od -An -N2 -tu2 /dev/urandom) % $1)); }

echo "TAP version 13"
echo "1..4"
ok_runs=0 faulted=0 wrong=0 base=""
for i in $(seq "$count"); do
	port=$((7200 + i % 500))
	fault=$(rand 6)	# 0: kill the receiver, 1: kill the sender, else none
	# --timeout 10: a receiver whose source died before connecting stops.
	$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:$port --hash --timeout 10 \
		>$T/recv.out 2>$T/recv.err &
	rpid=$!
	ms_wait_listening $port $rpid
	$IP netns exec mssrc "$MS" send --no-tls --to $MS_DST_ADDR:$port --conns $((1 + $(rand 4))) \
		--size $((1 + $(rand 8)))M --zero-ratio 0.$(rand 10) --dirty-rate $(rand 3000) \
		--hash >$T/send.out 2>$T/send.err &
	spid=$!
	case $fault in
	0) sleep 0.$(rand 5); kill -9 $rpid ;;
	1) sleep 0.$(rand 5); kill -9 $spid ;;
	esac 2>/dev/null
	wait $spid 2>/dev/null
	src_rc=$?
	wait $rpid 2>/dev/null
	dst_rc=$?
	if [ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ]; then
		src=$(sed -n 's/^source memory hash: //p' $T/send.out)
		dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
		if [ -n "$src" ] && [ "$src" = "$dst" ]; then
			ok_runs=$((ok_runs + 1))
		else
			wrong=$((wrong + 1))
			echo "# migration $i: hashes differ: $src $dst"
		fi
	elif [ "$fault" -le 1 ]; then
		faulted=$((faulted + 1))
	else
		wrong=$((wrong + 1))
		echo "# migration $i failed without a fault: $(cat $T/send.err $T/recv.err)"
	fi
	# Memory after the first tenth is the baseline.
	if [ "$i" -eq $((count / 10 + 1)) ]; then
		base=$(ms_slab_kb)
		mod_base=$(module_bytes)
	fi
	[ $((i % 100)) -eq 0 ] &&
		echo "# $i migrations: slab $(ms_slab_kb) kB, module $(module_bytes) bytes, kmemleak suspects $(kmemleak_count)"
done
end=$(ms_slab_kb)
mod_end=$(module_bytes)
echo "# $count migrations: $ok_runs complete, $faulted ended by a fault, $wrong wrong; slab ${base:-?} kB after the first tenth, $end kB at the end; module memory ${mod_base:-?} -> $mod_end bytes"
if [ $wrong -eq 0 ] && [ $ok_runs -gt 0 ]; then echo "ok 1 every_migration_correct_or_cleanly_failed"; else echo "not ok 1 every_migration_correct_or_cleanly_failed"; fi
# Flat: within 2 MiB or 10 %, whichever is more.
if [ -n "$base" ] && [ $((end - base)) -le $((base / 10 > 2048 ? base / 10 : 2048)) ]; then
	echo "ok 2 slab_memory_flat"
else
	echo "not ok 2 slab_memory_flat # ${base:-?} -> $end kB"
fi
if [ "$(ms_sessions_alive)" -eq 0 ]; then echo "ok 3 no_session_left"; else echo "not ok 3 no_session_left"; fi
if [ -n "$mod_base" ] && [ "$mod_end" -le "$mod_base" ]; then
	echo "ok 4 module_memory_flat"
else
	echo "not ok 4 module_memory_flat # ${mod_base:-?} -> $mod_end bytes"
fi
