#!/usr/bin/env bash
# Tell a fault of the kernel or the emulator before migsend was loaded
# apart from a report migsend may have caused.
#
#   scripts/vm-boot-fault.sh LOG
#
# Reads the dmesg a test VM dumped into its console LOG (between the
# MIGSEND-DMESG-* markers).  Exits 0 and prints the first report when a
# report (the patterns of tests/vm/check-log.sh) comes before the module's
# "migsend: version ... loaded" line, or when the guest never reached its
# script at all; exits 1 otherwise.  A boot fault is not migsend's: the
# caller says so plainly and boots once more, and never counts it a pass.
set -euo pipefail
log=$1
# The reports that void a boot: one extended regular expression, shared
# with the guest's own early look (tests/debug_suite.sh).
reports=$(cat "$(dirname "$0")/../tests/boot-reports.ere")

[ -r "$log" ] || { echo "no console log"; exit 0; }
if ! grep -q 'MIGSEND-VM-BEGIN' "$log"; then
	first=$(grep -m1 -E "$reports" "$log" || true)
	echo "the guest never reached its script${first:+: $first}"
	exit 0
fi
dmesg=$(sed -n '/^MIGSEND-DMESG-BEGIN/,/^MIGSEND-DMESG-END/p' "$log" | tr -d '\r')
before=$(awk '/migsend: version .* loaded/ { exit } { print }' <<<"$dmesg")
first=$(grep -m1 -E "$reports" <<<"$before" || true)
if [ -n "$first" ]; then
	echo "$first"
	exit 0
fi
exit 1
