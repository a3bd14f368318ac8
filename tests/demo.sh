#!/bin/sh
# The main job, inside the VM: two network namespaces joined by veth, a
# destination running 'migsend recv' in one and 'migsend send' migrating a
# simulated guest with a dirtying writer from the other; both print their
# memory hash, which must match.
#   DEMO_SIZE (1G), DEMO_CONNS (4), DEMO_RATE (pages/s; 20000, 1000 with
#   TLS: under TCG the emulated AES moves about 18 MB/s), DEMO_ZERO (0.5),
#   DEMO_TLS (1: TLS with credentials made now; 0: plaintext)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
size=${DEMO_SIZE:-1G} conns=${DEMO_CONNS:-4} zero=${DEMO_ZERO:-0.5}
[ "${DEMO_TLS:-1}" = 1 ] && rate=${DEMO_RATE:-1000} || rate=${DEMO_RATE:-20000}

insmod "/lib/modules/$(uname -r)/migsend.ko" || { echo "DEMO-FAILED: cannot load migsend.ko"; exit 1; }
ms_netns_setup || { echo "DEMO-FAILED: cannot set up the network namespaces"; exit 1; }
# TLS on every connection, the encryption in the kernel: X.509 credentials
# in QEMU's layout, made now (DEMO_TLS=0: plaintext, by choice).
tls="--no-tls"
if [ "${DEMO_TLS:-1}" = 1 ]; then
	"$here/gencerts.sh" /tmp/demo-creds >/dev/null ||
		{ echo "DEMO-FAILED: cannot make the TLS credentials"; exit 1; }
	tls="--tls-creds /tmp/demo-creds/good"
fi

echo "== destination: migsend recv --listen 10.78.0.2:7000 --hash $tls (netns msdst)"
$IP netns exec msdst "$here/migsend" recv --listen 10.78.0.2:7000 --hash $tls \
	>/tmp/recv.out 2>/tmp/recv.err &
recv_pid=$!
ms_wait_listening 7000 $recv_pid
echo "== source: migsend send --to 10.78.0.2:7000 --conns $conns --size $size --zero-ratio $zero --dirty-rate $rate --hash $tls (netns mssrc)"
ms_src "$here/migsend" send --to 10.78.0.2:7000 --conns "$conns" \
	--size "$size" --zero-ratio "$zero" --dirty-rate "$rate" --hash $tls >/tmp/send.out 2>/tmp/send.err
send_rc=$?
wait $recv_pid
recv_rc=$?
sed 's/^/   source: /' /tmp/send.out /tmp/send.err
sed 's/^/   destination: /' /tmp/recv.out /tmp/recv.err
src=$(sed -n 's/^source memory hash: //p' /tmp/send.out)
dst=$(sed -n 's/^destination memory hash: //p' /tmp/recv.out)
rmmod migsend
if [ $send_rc -eq 0 ] && [ $recv_rc -eq 0 ] && [ -n "$src" ] && [ "$src" = "$dst" ]; then
	echo "DEMO-OK: the hashes match ($src)"
	exit 0
fi
echo "DEMO-FAILED: send exit $send_rc, recv exit $recv_rc, hashes '$src' and '$dst'"
exit 1
