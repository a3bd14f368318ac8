#!/bin/sh
# The main job, inside the test VM: an unmodified QEMU guest migrated by
# migsend.  Two network namespaces joined by veth; in one, a source QEMU
# runs the test guest (tests/qemu/guest: it fills its RAM with pages that
# describe themselves and keeps rewriting them) with its RAM in a shared
# memory backend; in the other, a destination QEMU waits with -incoming
# defer on RAM files that 'migsend recv' fills.  'migsend send' pre-copies
# the RAM with the kernel engine over TLS (certificates made now, in
# QEMU's layout), stops the guest, sends the final pass and QEMU's device
# state (x-ignore-shared), and the destination runs the guest once the
# source has confirmed the handover.  Then the guest checks every page.
#   DEMO_QEMU_MEM (MiB, 256), DEMO_QEMU_RATE (pages/s rewritten, 2000),
#   DEMO_CONNS (connections, parallel: the route's policy), DEMO_ENGINE (kernel)
here=$(cd "$(dirname "$0")" && pwd)
QDIR=$here/qemu
T=/tmp/demo
mkdir -p $T
. "$QDIR/lib.sh"
MS=$here/migsend
Q_MEM=${DEMO_QEMU_MEM:-256} Q_RATE=${DEMO_QEMU_RATE:-2000}
conns=${DEMO_CONNS:-parallel} engine=${DEMO_ENGINE:-kernel}
fail() { echo "DEMO-FAILED: $*"; q_cleanup; exit 1; }

insmod "/lib/modules/$(uname -r)/migsend.ko" || fail "cannot load migsend.ko"
ms_netns_setup || fail "cannot set up the network namespaces"
"$here/gencerts.sh" $T/creds >/dev/null || fail "cannot make the TLS credentials"
creds=$T/creds/good
# TLS on every connection, the encryption in the kernel (DEMO_TLS=0:
# plaintext, by choice).
tls="--tls-creds $creds"
shown="--tls-creds DIR"
[ "${DEMO_TLS:-1}" = 1 ] || tls="--no-tls" shown="--no-tls"

echo "== source QEMU (netns mssrc): ${Q_MEM} MiB guest, RAM in /dev/shm (share=on), rewriting $Q_RATE pages/s"
echo "== destination QEMU (netns msdst): -incoming defer on its own RAM file"
q_boot_src -incoming defer || fail "the guests did not start"
echo "== destination: migsend recv --listen $MS_DST_ADDR:7000 --qemu-qmp dst-ms.qmp $shown"
$IP netns exec msdst "$MS" recv --listen "$MS_DST_ADDR:7000" --qemu-qmp "$T/dst-ms.qmp" \
	$tls --timeout 120 >$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7000 $rpid || fail "migsend recv does not listen"
echo "== source: migsend send --qemu-qmp src-ms.qmp --to $MS_DST_ADDR:7000 --engine $engine --conns $conns $shown"
$IP netns exec mssrc "$MS" send --qemu-qmp "$T/src-ms.qmp" --to "$MS_DST_ADDR:7000" \
	--engine "$engine" --conns "$conns" $tls >$T/send.out 2>$T/send.err
send_rc=$?
wait $rpid
recv_rc=$?
sed 's/^/   source: /' $T/send.out $T/send.err
sed 's/^/   destination: /' $T/recv.out $T/recv.err
echo "== QMP events: source STOP to destination RESUME: $(q_downtime_ms) ms"
echo "== the guest, now running on the destination, checks every page"
q_verify dst 180
verified=$?
sed -n 's/^\(VERIFY\|SEQ\|SWEEP\).*/   guest: &/p' $T/dst.con | tail -3
state_src=$(q_run_state src) state_dst=$(q_run_state dst)
echo "== source QEMU: $state_src, destination QEMU: $state_dst"
q_cleanup
rmmod migsend
if [ $send_rc -eq 0 ] && [ $recv_rc -eq 0 ] && [ $verified -eq 0 ] &&
	[ "$state_dst" = running ] && [ "$state_src" = postmigrate ]; then
	echo "DEMO-OK: the guest runs on the destination and verified every page ($Q_VERDICT)"
	exit 0
fi
echo "DEMO-FAILED: send exit $send_rc, recv exit $recv_rc, guest: ${Q_VERDICT:-no verdict}, source $state_src, destination $state_dst"
exit 1
