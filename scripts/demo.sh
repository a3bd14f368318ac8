#!/usr/bin/env bash
# `make demo`: the main job.  In a QEMU VM on each supported kernel: two
# network namespaces joined by veth, 'migsend recv' in one, 'migsend send'
# in the other migrating a 1 GiB simulated guest (half zero pages, a
# writer dirtying 20000 pages/s) over 4 connections.  Prints every pass,
# the downtime of the final one, and both memory hashes, which must match.
# DEMO_SIZE, DEMO_CONNS, DEMO_RATE and DEMO_ZERO change the parameters.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kvers=${KVER:-$(sed -n 's/^KVERS := //p' build/kernels.mk)}
mkdir -p build/logs
rc=0
for k in $kvers; do
	log=build/logs/demo-$k.log
	echo "== kernel $k, in QEMU"
	if ! MIGSEND_VM_MEM=${MIGSEND_VM_MEM:-4G} tests/vm/run.sh "$k" demo.sh "$log"; then
		echo "   the VM did not finish: see $log"
		rc=1
		continue
	fi
	sed -n '/MIGSEND-VM-BEGIN/,/^MIGSEND-DMESG-BEGIN/p' "$log" | tr -d '\r' |
		grep -vE 'MIGSEND-(VM|DMESG)-' | sed 's/^/   /'
	grep -q 'DEMO-OK' "$log" || rc=1
done
exit $rc
