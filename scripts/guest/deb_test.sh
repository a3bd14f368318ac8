#!/bin/sh
# The CLI and library as the Debian packages install them (debroot/, from
# scripts/deb-payload.sh): a migration between two network namespaces with
# the installed `migsend recv` and `migsend send`, hashes compared.  Needs
# the module loaded; runs in the VM.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
root=$here/debroot
export LD_LIBRARY_PATH="$root/usr/lib/$(cat "$root/multiarch")"
MS="$root/usr/bin/migsend"
T=/tmp/debt
mkdir -p $T
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n $1"; fails=$((fails + 1)); sed 's/^/# /' $T/* 2>/dev/null | tail -30; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

echo "TAP version 13"
echo "1..3"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }

rm -f $T/*
"$MS" version >$T/version.out 2>&1
check installed_cli_version grep -q '^api ' $T/version.out

rm -f $T/*
$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:7201 --hash >$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7201 $rpid
$IP netns exec mssrc "$MS" send --no-tls --to $MS_DST_ADDR:7201 --conns 2 --size 64M --zero-ratio 0.3 \
	--dirty-rate 2000 --hash >$T/send.out 2>$T/send.err
src_rc=$?
wait $rpid
dst_rc=$?
src=$(sed -n 's/^source memory hash: //p' $T/send.out)
dst=$(sed -n 's/^destination memory hash: //p' $T/recv.out)
check installed_cli_migration_converges [ $src_rc -eq 0 ] && [ $dst_rc -eq 0 ] && grep -q '^final pass' $T/send.out
check installed_cli_hashes_match [ -n "$src" ] && [ "$src" = "$dst" ]
echo "# $n tests, $fails failed"
[ $fails -eq 0 ]
