#!/bin/sh
# The suite on the debug kernel: as vm_suite.sh, then the debug kernel's
# own verdicts (debug_checks.sh): lockdep still on, a clean kmemleak scan.
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/vm_suite.sh"
rc=$?
echo "TAP version 13"
echo "1..2"
sh "$here/debug_checks.sh" 1 || rc=1
exit $rc
