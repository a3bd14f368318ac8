#!/bin/sh
# After a run on the debug kernel: lockdep must still be on (it switches
# itself off after its first report) and a kmemleak scan must find
# nothing.  Reports go to dmesg, where the host's log check fails the run
# on them.  Prints TAP; debugfs is mounted by the VM's init.
echo "TAP version 13"
echo "1..2"
n=1
rc=0
if grep -q 'debug_locks: *1' /proc/lockdep_stats 2>/dev/null; then
	echo "ok $n lockdep_still_checking"
else
	echo "not ok $n lockdep_still_checking # lockdep is off or absent"
	rc=1
fi
n=$((n + 1))
if [ -w /sys/kernel/debug/kmemleak ]; then
	# Objects freed just now are still in flight: scan twice, as the docs advise.
	echo scan >/sys/kernel/debug/kmemleak
	sleep 5
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(cat /sys/kernel/debug/kmemleak)
	if [ -n "$leaks" ]; then
		echo "$leaks" | head -60 | sed 's/^/kmemleak report: /' >/dev/kmsg
		echo "not ok $n kmemleak_clean # suspected memory leaks: see dmesg"
		rc=1
	else
		echo "ok $n kmemleak_clean"
		echo "# kmemleak: no leak"
	fi
else
	echo "not ok $n kmemleak_clean # kmemleak is not available in this kernel"
	rc=1
fi
exit $rc
