#!/bin/sh
# After the suite: nothing holds the module, it unloads, and its session
# cache goes with it (SLUB reports leftover objects in dmesg otherwise).
echo "TAP version 13"
echo "1..3"
if [ "$(cat /sys/module/migsend/refcnt 2>/dev/null)" = 0 ]; then
	echo "ok 1 refcount_zero_after_suite"
else
	echo "not ok 1 refcount_zero_after_suite # refcnt=$(cat /sys/module/migsend/refcnt 2>/dev/null)"
fi
if rmmod migsend && [ ! -e /sys/module/migsend ] && ! grep -q '^migsend_session ' /proc/slabinfo; then
	echo "ok 2 final_unload"
else
	echo "not ok 2 final_unload"
	exit 1
fi
# The CLI without the module: exit 3 and how to load it.
here=$(cd "$(dirname "$0")" && pwd)
"$here/migsend" version >/tmp/nomod.out 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -q 'not loaded' /tmp/nomod.out; then
	echo "ok 3 cli_says_module_not_loaded"
else
	echo "not ok 3 cli_says_module_not_loaded # exit $rc: $(cat /tmp/nomod.out)"
	exit 1
fi
