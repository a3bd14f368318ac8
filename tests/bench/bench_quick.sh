#!/bin/sh
# Inside the VM: the kernel engine and iperf3 -Z side by side over the
# same veth path into the peer namespace.
IP=/usr/sbin/ip
[ -x $IP ] || IP=ip
insmod "/lib/modules/$(uname -r)/migsend.ko"
./migsend_bench --net-only
conns=${CONNS:-2}
$IP netns exec mspeer iperf3 -s -D -1 >/dev/null 2>&1
sleep 1
echo "CEILING conns=$conns $(iperf3 -c 10.77.0.2 -Z -P "$conns" -t 5 -f m 2>&1 | grep -E 'SUM.*receiver|0.00-5.*receiver' | tail -1)"
for w in random scattered half-zero holes zero; do
	./migsend_bench --size 256 --conns "$conns" --workload $w --runs 3
done
rmmod migsend
