#!/usr/bin/env bash
# `make demo`: the main job.  For now the VM smoke run: boot each
# supported kernel, load the module, drive a session, unload, and say
# what happened.  (The demo migration replaces it once it exists.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kvers=${KVER:-$(sed -n 's/^KVERS := //p' build/kernels.mk)}
rc=0
for k in $kvers; do
	log=build/logs/demo-$k.log
	mkdir -p build/logs
	echo "== booting $k in QEMU"
	if ! tests/vm/run.sh "$k" vm_suite.sh "$log"; then
		echo "   the VM did not finish: see $log"
		rc=1
		continue
	fi
	sed -n '/MIGSEND-VM-BEGIN/,/^MIGSEND-DMESG-BEGIN/p' "$log" | tr -d '\r' |
		grep -E '^(ok|not ok) ' | sed 's/^/   /'
	tests/vm/check-log.sh "$log" "$k" | sed 's/^RESULT \([0-9]*\) \([0-9]*\) \([0-9]*\)/   \1 passed, \2 failed, \3 skipped/'
done
exit $rc
