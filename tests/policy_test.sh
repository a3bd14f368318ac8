#!/bin/sh
# Operator policy in the test VM: the connection count --conns auto and
# parallel pick for a link of known speed (veth reports 10 Gbit/s) and of
# unknown speed (lo reports none); the bandwidth cap holds within 15 %
# (40 MB/s over 1 GiB; a third of the path's own speed on a path slower
# than 48 MB/s) for the kernel engine and a user engine; a cap
# too low to converge ends as --timeout-strategy says, naming the cap.
# Needs the module loaded (module_load_test.sh).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
MS="$here/migsend"
T=/tmp/pol
mkdir -p $T
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n $1"; fails=$((fails + 1)); sed 's/^/# /' $T/* 2>/dev/null | tail -30; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# checkc NAME 'CONDITION': the whole condition, && and all, decides (the
# shell would end check's arguments at the first &&).
checkc() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

echo "TAP version 13"
echo "1..8"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }

# The decision line of a send that is refused at once (nothing listens).
decision() { # decision POLICY ADDR
	ms_src "$MS" send --no-tls --to "$2:7299" --conns "$1" --size 4M --engine user-copy 2>/dev/null |
		sed -n 's/^connections: //p'
}

# 1-2: veth reports 10000 Mbit/s: 10 Gbit/s / 10 Gbit/s = 1 connection;
# parallel raises it to 2, auto keeps 1.
rm -f $T/*
decision parallel $MS_DST_ADDR >$T/parallel
decision auto $MS_DST_ADDR >$T/auto
check parallel_on_10g_veth_is_2 grep -q '^2 (policy parallel: .* msa reports 10000 Mbit/s' $T/parallel
check auto_on_10g_veth_is_1 grep -q '^1 (policy auto: .* msa reports 10000 Mbit/s' $T/auto

# 3-4: lo reports no speed: the policy's minimum, said to be unknown.
decision parallel 127.0.0.1 >$T/parallel
decision auto 127.0.0.1 >$T/auto
check unknown_speed_parallel_is_2 grep -q '^2 (policy parallel: .* lo reports no link speed.*unknown' $T/parallel
check unknown_speed_auto_is_1 grep -q '^1 (policy auto: .* lo reports no link speed.*unknown' $T/auto

# 5-6: a cap held for every pass: wire bytes over time within 15 % of
# it, for two engines.  The cap is 40 MB/s over 1 GiB of random memory
# wherever the path does at least 48 MB/s without a cap; where it does
# less (the debug kernel's path does about 20 MB/s, and a cap above the
# path's own speed tests nothing) a third of that, with the guest sized
# for about 25 s at the cap.

# MB/s on the wire of the migration whose JSON is in $T/send.out.
json_rate() {
	sed -n 's/.*"total_seconds":\([0-9.]*\),"wire_bytes":\([0-9]*\).*/\2 \1/p' $T/send.out |
		awk '{ printf "%.1f", $1 / $2 / 1e6 }'
}
migrate_json() { # migrate_json ENGINE PORT SIZE-MiB [send options]
	rm -f $T/*
	$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:$2 --timeout 120 \
		>$T/recv.out 2>$T/recv.err &
	rpid=$!
	ms_wait_listening $2 $rpid || return 1
	e=$1 p=$2 size=$3
	shift 3
	ms_src "$MS" send --no-tls --to $MS_DST_ADDR:$p --engine $e --conns 2 --size ${size}M \
		--zero-ratio 0 --json "$@" >$T/send.out 2>$T/send.err || return 1
	wait $rpid
}
capped_rate_ok() { # capped_rate_ok ENGINE PORT
	migrate_json $1 $(($2 + 100)) 256 || return 1
	free=$(json_rate)
	cap=$(awk -v f="$free" 'BEGIN { c = int(f / 3); print (f >= 48 ? 40 : (c < 2 ? 2 : c)) }')
	mib=1024
	[ "$cap" = 40 ] || mib=$((cap * 25))
	migrate_json $1 $2 $mib --max-bandwidth ${cap}M --cap-final-pass || return 1
	rate=$(json_rate)
	echo "# $1: $rate MB/s under a $cap MB/s cap (the path: $free MB/s without one)"
	awk -v r="$rate" -v c="$cap" 'BEGIN { exit !(r >= c * 0.85 && r <= c * 1.15) }'
}
check kernel_engine_holds_cap capped_rate_ok kernel 7201
check user_sendfile_holds_cap capped_rate_ok user-sendfile 7202

# 7-8: a cap far below the dirty rate cannot converge: cancel on timeout
# (exit 7) with a message naming the cap; proceed runs the final pass.
rm -f $T/*
$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:7203 --timeout 120 \
	>$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7203 $rpid
ms_src "$MS" send --no-tls --to $MS_DST_ADDR:7203 --conns 2 --size 64M --zero-ratio 0 \
	--dirty-rate 5000 --max-bandwidth 2M --timeout 8 --timeout-strategy cancel \
	>$T/send.out 2>$T/send.err
rc=$?
wait $rpid
checkc cap_too_low_cancels_and_says_why '[ $rc -eq 7 ] && grep -q "did not converge.*--max-bandwidth" $T/send.err'
rm -f $T/*
$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:7204 --timeout 120 --hash \
	>$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7204 $rpid
ms_src "$MS" send --no-tls --to $MS_DST_ADDR:7204 --conns 2 --size 64M --zero-ratio 0 \
	--dirty-rate 5000 --max-bandwidth 2M --timeout 8 --timeout-strategy proceed --hash \
	>$T/send.out 2>$T/send.err
rc=$?
wait $rpid
drc=$?
src=$(sed -n 's/^source memory hash: //p' $T/send.out)
dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
checkc cap_too_low_proceeds_uncapped '[ $rc -eq 0 ] && [ $drc -eq 0 ] && [ -n "$src" ] && [ "$src" = "$dst" ]'
[ $fails -eq 0 ]
