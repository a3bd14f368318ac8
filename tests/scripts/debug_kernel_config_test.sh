#!/usr/bin/env bash
# Host test of scripts/build-debug-kernel.sh --check-config: the debug
# kernel must have every option of tests/config built in (seen: debug
# kernels without USERFAULTFD, MEM_SOFT_DIRTY or CHACHA20POLY1305 failed
# the engine, QEMU and TLS tests for want of an option, not for a bug).
# Prints TAP.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0 rc=0
check() { # check NAME WANT-RC CONFIG-FILE
	n=$((n + 1))
	"$top/scripts/build-debug-kernel.sh" --check-config "$3" >"$d/out"
	if [ $? -eq "$2" ]; then echo "ok $n $1"; else echo "not ok $n $1"; rc=1; fi
	sed 's/^/# /' "$d/out"
}
sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=[ym]$/\1=y/p' "$top/tests/config" >"$d/all"
grep -v '^CONFIG_MEM_SOFT_DIRTY=' "$d/all" >"$d/no-soft-dirty"
sed 's/^CONFIG_TLS=y/CONFIG_TLS=m/' "$d/all" >"$d/tls-module"
echo "TAP version 13"
echo "1..4"
check every_option_built_in_is_accepted 0 "$d/all"
check without_soft_dirty_is_refused 1 "$d/no-soft-dirty"
check a_module_is_not_enough 1 "$d/tls-module"
# The kernel this suite last ran on as a debug kernel lacked these.
printf 'CONFIG_USERFAULTFD=y\n' >"$d/old"
check the_old_debug_config_is_refused 1 "$d/old"
exit $rc
