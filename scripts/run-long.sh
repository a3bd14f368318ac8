#!/usr/bin/env bash
# `make fuzz` / `make soak`: the long runs, in a VM on each supported kernel.
#   FUZZ_ITERATIONS, FUZZ_SEED / SOAK_COUNT choose the length.
# With MIGSEND_DEBUG=1 (`make soak-debug`) the run is on the debug kernel
# (scripts/build-debug-kernel.sh) instead, and ends with its checks:
# lockdep still on, a clean kmemleak scan.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
what=$1
kvers=${KVER:-$(sed -n 's/^KVERS := //p' build/kernels.mk)}
debug=${MIGSEND_DEBUG:-0}
if [ "$debug" = 1 ]; then
	scripts/build-debug-kernel.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
	kvers=$(cat build/debug-kernel/kver)
	export MIGSEND_KERNEL_IMAGE=$top/build/debug-kernel/src/arch/x86/boot/bzImage
fi
mkdir -p build/logs
cat >build/tests-install/long_$what.sh <<EOS
insmod /lib/modules/\$(uname -r)/migsend.ko || exit 1
case $what in
fuzz) ./migsend_fuzz --iterations \${FUZZ_ITERATIONS:-100000} --seed \${FUZZ_SEED:-1} ;;
soak) sh ./soak.sh ;;
esac
rc=\$?
rmmod migsend || rc=1
if [ $debug = 1 ]; then
	sh ./debug_checks.sh || rc=1
fi
exit \$rc
EOS
passed=0 failed=0 skipped=0
for k in $kvers; do
	log=build/logs/$what-$k.log
	t0=$SECONDS
	MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-5400} tests/vm/run.sh "$k" "long_$what.sh" "$log" ||
		failed=$((failed + 1))
	out=$(tests/vm/check-log.sh "$log" "$what-$k")
	grep -v '^RESULT' <<<"$out"
	grep -aE '^# ' "$log" | tail -3
	echo "# $what on $k: $((SECONDS - t0)) s"
	read -r _ p f s < <(grep '^RESULT' <<<"$out")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
