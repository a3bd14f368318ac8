#!/bin/sh
# The suite on the debug kernel: as vm_suite.sh, then the debug kernel's
# own verdicts (debug_checks.sh): lockdep still on, a clean kmemleak scan.
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/vm_suite.sh"
rc=$?
sh "$here/debug_checks.sh" || rc=1
exit $rc
