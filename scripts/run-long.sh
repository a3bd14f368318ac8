#!/usr/bin/env bash
# `make fuzz` / `make soak`: the long runs, in a VM on each supported kernel.
#   FUZZ_ITERATIONS, FUZZ_SEED / SOAK_COUNT choose the length.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
what=$1
kvers=${KVER:-$(sed -n 's/^KVERS := //p' build/kernels.mk)}
mkdir -p build/logs
cat >build/tests-install/long_$what.sh <<EOS
insmod /lib/modules/\$(uname -r)/migsend.ko || exit 1
case $what in
fuzz) ./migsend_fuzz --iterations \${FUZZ_ITERATIONS:-100000} --seed \${FUZZ_SEED:-1} ;;
soak) sh ./soak.sh ;;
esac
rc=\$?
rmmod migsend || rc=1
exit \$rc
EOS
passed=0 failed=0 skipped=0
for k in $kvers; do
	log=build/logs/$what-$k.log
	MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-5400} tests/vm/run.sh "$k" "long_$what.sh" "$log" ||
		failed=$((failed + 1))
	out=$(tests/vm/check-log.sh "$log" "$what-$k")
	grep -v '^RESULT' <<<"$out"
	grep -aE '^# ' "$log" | tail -3
	read -r _ p f s < <(grep '^RESULT' <<<"$out")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
