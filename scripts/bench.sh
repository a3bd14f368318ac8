#!/usr/bin/env bash
# `make bench` (full) and `make bench-quick`: the engines side by side in
# one VM boot, and the host microbenchmarks.
#   scripts/bench.sh quick|scale|full
# The VM runs the newest supported kernel unless KVER names one.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-quick}
kver=${KVER:-$(sed -n 's/^KVER_612 := //p' build/kernels.mk)}
mkdir -p build/logs
log=build/logs/bench-$mode.log
micro=build/logs/micro.log

echo "== host microbenchmarks" >&2
make -s -C tests/host microbench | tee "$micro" >&2
echo "== $mode benchmark in QEMU on $kver (this takes a while)" >&2
BENCH_MODE=$mode MIGSEND_VM_MEM=${MIGSEND_VM_MEM:-4G} \
	MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-5400} \
	tests/vm/run.sh "$kver" bench.sh "$log"
grep -aE '^(migsend_bench|bench receiver)' "$log" >&2 || true
tests/vm/check-log.sh "$log" bench | grep -v '^RESULT' >&2 || true
if [ "$mode" = quick ] || [ "$mode" = scale ]; then
	python3 scripts/bench_report.py "$mode" "$log" "$micro"
else
	python3 scripts/bench_report.py full "$log" "$micro" docs/BENCHMARKS.md \
		docs/bench-throughput.png "make bench"
	echo "wrote docs/BENCHMARKS.md and docs/bench-throughput.png" >&2
fi
