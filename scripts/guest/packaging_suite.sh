#!/bin/sh
# In the test VM: the module as DKMS built it (dkms/migsend.ko, from
# scripts/dkms-build.sh), driven by the kernel's YNL tool and by the CLI
# installed from the Debian packages.  Each script prints TAP.
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for t in module_load_test.sh ynl_test.sh deb_test.sh module_unload_test.sh; do
	[ -e "$here/$t" ] || continue
	echo "# running $t (at $(cut -d" " -f1 /proc/uptime) s)"
	case $t in
	module_load_test.sh) MIGSEND_KO=$here/dkms/migsend.ko sh "$here/$t" ;;
	*) sh "$here/$t" ;;
	esac || rc=1
done
exit $rc
