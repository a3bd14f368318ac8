#!/usr/bin/env bash
# The YNL spec and the uapi header cannot drift apart: the spec validates
# against the kernel's genetlink-c schema and renders, with the kernel's
# ynl-gen-c.py, the same constants uapi/linux/migsend.h defines
# (scripts/check_ynl_spec.py).  Then the check itself is checked: a spec
# with an attribute renamed, one with two attributes swapped, and one the
# schema rejects must each fail it.  TAP on stdout.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
spec=$top/docs/netlink/specs/migsend.yaml
work=$top/build/ynl-check
"$top/scripts/extract-ynl.sh" || exit 1
mkdir -p "$work"
n=0 fails=0
result() { # result OK NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}
check() { "$top/scripts/check_ynl_spec.py" --spec "$1" --work "$work" 2>&1 | sed 's/^/# /'; return "${PIPESTATUS[0]}"; }
# A spec made from the real one by a sed expression must fail the check.
must_fail() { # must_fail NAME SED-EXPR
	local bad=$work/$1.yaml
	sed -e "$2" "$spec" >"$bad"
	if cmp -s "$bad" "$spec"; then result 1 "$1 (the mutation changed nothing)"; return; fi
	check "$bad" >/dev/null
	[ $? -ne 0 ]
	result $? "$1"
}

echo "TAP version 13"
echo "1..4"
check "$spec"
result $? spec_and_uapi_agree
must_fail drift_renamed_attribute_detected 's/name: nregions$/name: nregion/'
# Swap session-id and pid: names stay, values move.
must_fail drift_swapped_attributes_detected '/name: session-id$/{s//name: pid-tmp/};/name: pid$/{s//name: session-id/};s/name: pid-tmp$/name: pid/'
must_fail schema_violation_detected '0,/type: u32$/s//type: u33/'
echo "# $n tests, $fails failed"
[ $fails -eq 0 ]
