#!/bin/sh
# The migsend kselftest suite as it runs inside the test VM (or on any
# machine with the module built for its kernel): each program prints TAP.
# The module is loaded by the first script and unloaded by the last.
here=$(cd "$(dirname "$0")" && pwd)
rc=0
# A short fuzz and soak here; make fuzz / make soak run the long ones.
: "${FUZZ_ITERATIONS:=5000}" "${FUZZ_SEED:=1}" "${SOAK_COUNT:=20}"
export SOAK_COUNT
# A program that runs far past its time (MS_HANG_DUMP_S) gets the
# kernel's blocked tasks and CPU backtraces printed, once, so that the
# console log says where a hang is even when the VM's timeout ends it.
: "${MS_HANG_DUMP_S:=600}"
hang_dump() { # hang_dump PROGRAM
	sleep "$MS_HANG_DUMP_S" || return
	echo "# $1 still runs after $MS_HANG_DUMP_S s: blocked tasks and CPU backtraces follow"
	echo 1 >/proc/sys/kernel/sysrq
	echo w >/proc/sysrq-trigger
	echo l >/proc/sysrq-trigger
	dmesg | tail -n 300 | sed 's/^/# hang: /'
}
for t in module_load_test.sh migsend_dev_test migsend_engine_test \
	 migsend_nl_test migsend_trace_test migsend_ktls_test \
	 migsend_proto_test migsend_fuzz userspace_test.sh faults_test.sh \
	 policy_test.sh tls_test.sh tls_migrate_test.sh qemu/qemu_test.sh \
	 qemu-cli/dirtylog_test qemu-cli/qemu_cli_test.sh soak.sh \
	 module_unload_test.sh; do
	echo "# running $t (at $(cut -d" " -f1 /proc/uptime) s)"
	hang_dump "$t" &
	watchdog=$!
	case $t in
	*.sh) sh "$here/$t" ;;
	migsend_fuzz) "$here/$t" --iterations "$FUZZ_ITERATIONS" --seed "$FUZZ_SEED" ;;
	*) "$here/$t" ;;
	esac || rc=1
	kill "$watchdog" 2>/dev/null
done
exit $rc
