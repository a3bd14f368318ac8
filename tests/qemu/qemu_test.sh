#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A real QEMU guest migrated in the test VM (QEMU nested under TCG), its
# memory checked by the guest itself after it resumes on the destination
# (docs/QEMU.md).  First the harness is proven with QEMU's own migration
# (a plain pre-copy; x-ignore-shared with the RAM files copied by msram,
# and the same with part of the final copy left out, which the guest
# must report), then migsend carries the RAM.  Needs the module loaded
# (module_load_test.sh) for the migsend cases.
#
# QEMU_TESTS="name ..." runs only the named cases.
QDIR=$(cd "$(dirname "$0")" && pwd)
. "$QDIR/lib.sh"
MS=${MS:-$QDIR/../migsend}
mkdir -p "$T"
n=0 fails=0

all_cases="guest_boots qemu_precopy ignore_shared_copy ignore_shared_negative_control"
cases=${QEMU_TESTS:-$all_cases}

diagnose() {
	for f in "$T"/src.con "$T"/dst.con "$T"/src.err "$T"/dst.err "$T"/*.out "$T"/*.log; do
		[ -s "$f" ] || continue
		echo "# --- ${f##*/}"
		tail -8 "$f" | sed 's/^/#   /'
	done
}

run_case() {
	name=$1
	t0=$(q_now_ms)
	rm -f "$T"/*.out "$T"/*.log
	if "case_$name"; then
		r=ok
	else
		r="not ok"
		fails=$((fails + 1))
		diagnose
	fi
	q_cleanup
	n=$((n + 1))
	echo "$r $n $name # $(($(q_now_ms) - t0)) ms"
}

# ----- the harness, with QEMU's own migration --------------------------

case_guest_boots() {
	q_boot_src || return 1
	printf P >"$T/src.cmd.in"
	q_wait_line src '^PROGRESS' 10 && q_verify src 60 || return 1
	grep '^PROGRESS' "$T/src.con" | tail -1 | sed 's/^/# /'
}

# Plain pre-copy, all RAM in QEMU's stream.
case_qemu_precopy() {
	q_boot_src -incoming defer || return 1
	q_qemu_migrate 4401 || return 1
	echo "# QEMU pre-copy: downtime $(q_downtime_ms) ms"
	q_verify dst
}

# x-ignore-shared: QEMU moves only the device state; msram copies the RAM
# files while the guest runs, again after the source stopped, leaving
# out the first $1 and the last $2 pages of that final copy.  The
# destination (-S) runs only when told to, after the source completed.
ignore_shared_migration() {
	q_boot_src -incoming defer -S || return 1
	q_caps src x-ignore-shared=true && q_caps dst x-ignore-shared=true || return 1
	q_cmd dst '{"execute":"migrate-incoming","arguments":{"uri":"tcp:'$MS_DST_ADDR':4402"}}' >/dev/null || return 1
	src_ram=$(q_ram_files src) dst_ram=$(q_ram_files dst)
	echo "# pass 1: $("$MSRAM" copy "$src_ram" "$dst_ram")"
	q_cmd src '{"execute":"stop"}' >/dev/null || return 1
	drop="--drop $1"
	[ "$2" -gt 0 ] && drop="--drop-last $2"
	echo "# final pass: $("$MSRAM" copy "$src_ram" "$dst_ram" $drop)"
	q_cmd src '{"execute":"migrate","arguments":{"uri":"tcp:'$MS_DST_ADDR':4402"}}' >/dev/null &&
		q_wait_status src 'completed|failed' 60 && q_wait_status dst 'completed' 10 || return 1
	[ "$(q_run_state dst)" = paused ] || { echo "# destination ran before cont"; return 1; }
	q_cmd dst '{"execute":"cont"}' >/dev/null || return 1
	echo "# downtime $(q_downtime_ms) ms, QEMU's stream $(q_cmd src '{"execute":"query-migrate"}' |
		sed -n 's/.*"transferred": *\([0-9]*\).*/\1/p') bytes"
}

case_ignore_shared_copy() {
	ignore_shared_migration 0 0 && q_verify dst
}

# Part of the final copy left out: the guest must say so.  The last
# pages are guest data (a stale page against a fresh table); the first
# are the guest's own image, table and sequence number (RAM older than
# the device state).
case_ignore_shared_negative_control() {
	ignore_shared_migration 0 4 || return 1
	q_verify dst 30 && return 1
	echo "$Q_VERDICT" | grep -q '^VERIFY FAIL [1-9][0-9]* of' || return 1
	q_cleanup
	ignore_shared_migration 4 0 || return 1
	q_verify dst 30 && return 1
	[ "$(q_guest_failures dst)" -gt 0 ]
}

for c in $cases; do
	type "case_$c" >/dev/null 2>&1 || { echo "# no case $c"; exit 1; }
done
echo "TAP version 13"
echo "1..$(echo $cases | wc -w)"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }
echo "# $("$QEMU" --version | head -1)"
for c in $cases; do
	run_case "$c"
done
[ $fails -eq 0 ]
