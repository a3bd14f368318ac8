#!/usr/bin/env bash
# Count a TAP stream (several programs' streams one after the other) read
# from stdin.  Prints the failed and skipped results, then
#   RESULT <passed> <failed> <skipped>
# A program that announced a plan ("1..N") and printed fewer than N
# results (it crashed or hung) has the missing ones counted as failed.
name=${1:-tap}
tr -d '\r' | awk -v name="$name" '
	function close_plan() { if (planned > seen) { missing += planned - seen;
		printf "%s: not ok (%d results missing after plan 1..%d)\n", name, planned - seen, planned } }
	/^1\.\.[0-9]+/ { close_plan(); planned = substr($0, 4) + 0; seen = 0; next }
	/^ok [0-9]+/ { seen++; if ($0 ~ /# SKIP/) { skip++; print name ": " $0 } else pass++; next }
	/^not ok [0-9]+/ { seen++; print name ": " $0; if ($0 ~ /# SKIP/) skip++; else fail++; next }
	END { close_plan(); printf "RESULT %d %d %d\n", pass, fail + missing, skip }
'
