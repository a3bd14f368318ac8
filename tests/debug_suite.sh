#!/bin/sh
# The suite on the debug kernel: as vm_suite.sh, then a kmemleak scan
# whose reports land in dmesg (and so fail the run).
here=$(cd "$(dirname "$0")" && pwd)
mount -t debugfs none /sys/kernel/debug 2>/dev/null
sh "$here/vm_suite.sh"
rc=$?
if [ -w /sys/kernel/debug/kmemleak ]; then
	# Objects freed just now are still in flight: scan twice, as the docs advise.
	echo scan >/sys/kernel/debug/kmemleak
	sleep 5
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(cat /sys/kernel/debug/kmemleak)
	if [ -n "$leaks" ]; then
		echo "$leaks" | head -60 | sed 's/^/kmemleak report: /' >/dev/kmsg
		echo "kmemleak: suspected memory leaks found"
	else
		echo "# kmemleak: no leak"
	fi
else
	echo "Bail out! kmemleak is not available in this kernel"
	rc=1
fi
exit $rc
