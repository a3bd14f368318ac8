#!/usr/bin/env bash
# `make check-debug`: the whole VM suite on a debug kernel (KASAN, lockdep,
# kmemleak, UBSAN, atomic-sleep and list debugging) built from Debian's
# linux-source-6.1, then a kmemleak scan; any report in dmesg fails it.
# Too slow for CI (see docs/TESTING.md); ends with the usual closing line.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$SECONDS
scripts/build-debug-kernel.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
t1=$SECONDS
kver=$(cat build/debug-kernel/kver)
mkdir -p build/logs
log=build/logs/vm-debug.log
run_suite() {
	MIGSEND_KERNEL_IMAGE=$top/build/debug-kernel/src/arch/x86/boot/bzImage \
		MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-5400} \
		tests/vm/run.sh "$kver" debug_suite.sh "$log"
}
# A fault of the kernel or the emulator before migsend is loaded (seen:
# a KASAN report in the interrupt path during early boot, which also
# switches lockdep off) is not migsend's: say so, boot once more, and
# never count such a run as a pass.
run_suite
vm_rc=$?
boot_faults=0
if fault=$(scripts/vm-boot-fault.sh "$log"); then
	boot_faults=1
	echo "# boot fault before migsend was loaded, not a migsend report: $fault"
	echo "# booting once more (the first log is kept as ${log%.log}-bootfault.log)"
	cp "$log" "${log%.log}-bootfault.log"
	run_suite
	vm_rc=$?
	if fault=$(scripts/vm-boot-fault.sh "$log"); then
		boot_faults=2
		echo "not ok boot fault again before migsend was loaded: $fault"
	fi
fi
out=$(tests/vm/check-log.sh "$log" "vm-debug")
grep -v '^RESULT' <<<"$out"
read -r _ p f s < <(grep '^RESULT' <<<"$out")
[ $vm_rc -eq 0 ] || f=$((f + 1))
[ $boot_faults -lt 2 ] || f=$((f + 1))
grep -q 'kmemleak: no leak' "$log" || { echo "not ok kmemleak scan did not run clean"; f=$((f + 1)); }
echo "== timings: debug kernel build $((t1 - t0)) s, suite $((SECONDS - t1)) s"
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
