#!/bin/sh
# The migsend kselftest suite as it runs inside the test VM (or on any
# machine with the module built for its kernel): each program prints TAP.
# The module is loaded by the first script and unloaded by the last.
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for t in module_load_test.sh migsend_dev_test migsend_engine_test \
	 migsend_proto_test userspace_test.sh module_unload_test.sh; do
	echo "# running $t"
	case $t in
	*.sh) sh "$here/$t" ;;
	*) "$here/$t" ;;
	esac || rc=1
done
exit $rc
