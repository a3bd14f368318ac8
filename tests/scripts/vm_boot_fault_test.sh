#!/usr/bin/env bash
# Host test of scripts/vm-boot-fault.sh: a report before migsend loaded is
# a boot fault; one after is migsend's to answer for; a guest that never
# reached its script is a boot fault.  Prints TAP.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0 rc=0
check() { # check NAME WANT-RC LOG-TEXT
	n=$((n + 1))
	printf '%b' "$3" >"$d/log"
	"$top/scripts/vm-boot-fault.sh" "$d/log" >/dev/null
	if [ $? -eq "$2" ]; then echo "ok $n $1"; else echo "not ok $n $1"; rc=1; fi
}
echo "TAP version 13"
echo "1..4"
check early_kasan_is_a_boot_fault 0 \
	'MIGSEND-VM-BEGIN\nMIGSEND-DMESG-BEGIN\n[0.1] BUG: KASAN: wild-memory-access in cpu_detect\n[1.0] migsend: version 1 loaded\nMIGSEND-DMESG-END\n'
check report_after_load_is_not 1 \
	'MIGSEND-VM-BEGIN\nMIGSEND-DMESG-BEGIN\n[1.0] migsend: version 1 loaded\n[2.0] BUG: KASAN: use-after-free\nMIGSEND-DMESG-END\n'
check clean_log_is_not 1 \
	'MIGSEND-VM-BEGIN\nMIGSEND-DMESG-BEGIN\n[1.0] migsend: version 1 loaded\nMIGSEND-DMESG-END\n'
check guest_that_never_ran_is_a_boot_fault 0 'Kernel panic - not syncing\n'
exit $rc
