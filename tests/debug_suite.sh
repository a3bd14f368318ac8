#!/bin/sh
# The suite on the debug kernel: as vm_suite.sh, then the debug kernel's
# own verdicts (debug_checks.sh): lockdep still on, a clean kmemleak scan.
#
# A report in dmesg before anything ran is a fault of the kernel or the
# emulator during boot (seen: KASAN wild-memory-access in do_raw_spin_lock
# 3 ms into boot, which also switches lockdep off).  It voids the run, and
# scripts/check-debug.sh boots once more: say so at once rather than after
# an hour of tests (the reports: boot-reports.ere, which the host's
# scripts/vm-boot-fault.sh reads too).
here=$(cd "$(dirname "$0")" && pwd)
if fault=$(dmesg | grep -m1 -E -f "$here/boot-reports.ere"); then
	echo "# boot fault before the suite, not running it: $fault"
	exit 1
fi
# Programs run several times slower here: a later hang dump (vm_suite.sh).
: "${MS_HANG_DUMP_S:=2400}"
export MS_HANG_DUMP_S
sh "$here/vm_suite.sh"
rc=$?
sh "$here/debug_checks.sh" || rc=1
exit $rc
