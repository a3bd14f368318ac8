#!/usr/bin/env bash
# Read a test VM's console log: count the suite's TAP results and look at
# the kernel log the guest dumped.  Prints failures, then
#   RESULT <passed> <failed> <skipped>
# A dmesg with a WARNING, BUG, Oops, refcount_t, lockdep or leak report
# counts as one more failed test, "dmesg_clean"; a clean one as passed.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
log=$1
name=${2:-vm}

[ -r "$log" ] || { echo "$name: not ok no console log"; echo "RESULT 0 1 0"; exit 0; }
suite=$(sed -n '/MIGSEND-VM-BEGIN/,/^MIGSEND-DMESG-BEGIN/p' "$log" | tr -d '\r')
dmesg=$(sed -n '/^MIGSEND-DMESG-BEGIN/,/^MIGSEND-DMESG-END/p' "$log" | tr -d '\r')

out=$("$top/tests/tap-count.sh" "$name" <<<"$suite")
grep -v '^RESULT' <<<"$out" || true
read -r _ pass fail skip < <(grep '^RESULT' <<<"$out")

# Reports, not banners: a debug kernel's boot says "kmemleak: ...
# initialized" and prints lockdep's copyright, which are fine.
problems=$(grep -E 'WARNING:|BUG:|BUG |Oops|general protection|refcount_t|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|lockdep: .*(warn|fail)|suspected memory leak|unreferenced object|UBSAN:|KASAN|Objects remaining|Call Trace' <<<"$dmesg" || true)
if [ -n "$problems" ]; then
	echo "$name: not ok dmesg_clean"
	sed "s/^/$name: dmesg: /" <<<"$problems" | head -40
	fail=$((fail + 1))
else
	pass=$((pass + 1))
fi
echo "RESULT $pass $fail $skip"
