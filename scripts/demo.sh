#!/usr/bin/env bash
# `make demo`: the main job.  In a QEMU VM on each supported kernel, an
# unmodified QEMU guest is migrated by migsend (tests/demo_qemu.sh): the
# source QEMU's RAM goes through the kernel engine, its device state
# through QEMU's own migration stream (x-ignore-shared), the destination
# QEMU runs the guest after the handover, and the guest checks every page
# of its memory.  Prints the passes, the downtime the guest saw and the
# guest's verdict.
#   scripts/demo.sh [qemu|sim]   sim: the simulated 1 GiB guest instead
#   (make demo-sim); DEMO_* variables change the parameters (see the
#   guest scripts).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
what=${1:-qemu}
case $what in
qemu) script=demo_qemu.sh ;;
sim) script=demo.sh ;;
*) echo "usage: scripts/demo.sh [qemu|sim]" >&2; exit 2 ;;
esac
kvers=${KVER:-$(sed -n 's/^KVERS := //p' build/kernels.mk)}
mkdir -p build/logs
rc=0
for k in $kvers; do
	log=build/logs/demo-$what-$k.log
	echo "== kernel $k, in QEMU"
	if ! MIGSEND_VM_MEM=${MIGSEND_VM_MEM:-4G} tests/vm/run.sh "$k" "$script" "$log"; then
		echo "   the VM did not finish: see $log"
		rc=1
		continue
	fi
	sed -n '/MIGSEND-VM-BEGIN/,/^MIGSEND-DMESG-BEGIN/p' "$log" | tr -d '\r' |
		grep -vE 'MIGSEND-(VM|DMESG)-' | sed 's/^/   /'
	grep -q 'DEMO-OK' "$log" || rc=1
done
exit $rc
