#!/bin/sh
# The migsend genetlink family driven by the kernel's own YNL CLI
# (tools/net/ynl/cli.py, run by ynl/run-ynl with the Python that
# scripts/ynl-payload.sh put beside it) and docs/netlink/specs/migsend.yaml:
# the family resolves, a dump shows a live session as the spec describes
# it, and a subscription to the events group sees a migration's pass-done
# and session-closed.  Needs the module loaded; runs in the VM.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
MS="$here/migsend"
YNL="$here/ynl/run-ynl"
PY="$here/ynl/py/bin/python3.11"
T=/tmp/ynlt
mkdir -p $T
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n $1"; fails=$((fails + 1)); sed 's/^/# /' $T/* 2>/dev/null | tail -30; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# json_check FILE PYTHON-EXPRESSION: the expression, over the JSON in FILE
# as j, is true.  Any failure prints the JSON.
json_check() {
	PYTHONHOME="$here/ynl/py" "$PY" -S -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")", {"j": j, "arg": sys.argv[3:]}) else 1)' "$@"
}

echo "TAP version 13"
echo "1..5"
ms_netns_setup || { echo "Bail out! cannot set up the network namespaces"; exit 1; }

# 1: the family resolves by name (cli.py asks nlctrl for it first).
$YNL --list-ops >$T/ops.out 2>$T/ops.err
check ynl_family_resolves grep -q '^get-session' $T/ops.out

# 2: no session: the dump is empty.
rm -f $T/*
$YNL --dump get-session --output-json >$T/dump.json 2>$T/dump.err
check ynl_dump_empty json_check $T/dump.json 'j == []'

# 3-4: a live session: the dump has it, with the sender's pid, its pass
# running, two connections and its counters, all decoded from the spec.
ms_start_endless_migration 7101 --conns 2 --size 64M
$YNL --dump get-session --output-json >$T/dump.json 2>$T/dump.err
kill -9 $spid $rpid 2>/dev/null
wait $spid $rpid 2>/dev/null
check ynl_dump_live_session json_check $T/dump.json '
len(j) == 1 and j[0]["pid"] == int(arg[0]) and j[0]["pass"] >= 1
and j[0]["state"] in ("running", "done")
and j[0]["nconns"] == 2 and j[0]["nregions"] == 1' $spid
check ynl_dump_conns_and_counters json_check $T/dump.json '
sorted(c["index"] for c in j[0]["conn"]) == [0, 1]
and all("wire-bytes" in c and "busy-ns" in c for c in j[0]["conn"])
and j[0]["total"]["wire-bytes"] >= 0 and "dirty-pages" in j[0]["last"]'

# 5: events: subscribed to the events group while a migration runs, YNL
# sees its passes done and its session closed.
rm -f $T/*
$YNL --subscribe events --sleep 20 --output-json >$T/events.json 2>$T/events.err &
ypid=$!
# Subscribed once its netlink socket (generic netlink: protocol 16) has a
# group; 20 s at most (the module's group may lie past the 32 that
# /proc/net/netlink shows, then the wait just runs out).
for _ in $(seq 200); do
	awk -v p=$ypid '$2 == 16 && $3 == p && $4 != "00000000" { f = 1 } END { exit !f }' \
		/proc/net/netlink && break
	sleep 0.1
done
$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:7102 >$T/recv.out 2>$T/recv.err &
rpid=$!
ms_wait_listening 7102 $rpid
$IP netns exec mssrc "$MS" send --no-tls --to $MS_DST_ADDR:7102 --conns 2 --size 16M \
	>$T/send.out 2>$T/send.err &
spid=$!
wait $spid
src_rc=$?
wait $rpid
wait $ypid
check ynl_events_pass_done_and_session_closed json_check $T/events.json '
[e for e in j if e["name"] == "event" and e["msg"]["event"] == "pass-done"
   and e["msg"]["pid"] == int(arg[0]) and e["msg"]["state"] == "done"
   and e["msg"]["last"]["wire-bytes"] > 0]
and [e for e in j if e["msg"]["event"] == "session-closed"
     and e["msg"]["pid"] == int(arg[0])]' $spid
[ $src_rc -eq 0 ] || echo "# the sender exited $src_rc: $(cat $T/send.err)"

echo "# $n tests, $fails failed"
[ $fails -eq 0 ]
