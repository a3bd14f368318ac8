#!/usr/bin/env bash
# The TLS benchmark, from the host: every engine encrypted against
# plaintext in one VM boot (tls_bench.sh), with a perf profile of the
# encrypted kernel engine and user-copy when perf is installed; prints
# the tables (tls_bench_report.py).  The log is build/logs/tls-bench.log.
#   tests/tls/run-bench.sh          newest supported kernel unless KVER names one
#   BENCH_SIZE, BENCH_RUNS, BENCH_CONNS as tls_bench.sh takes them
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
kver=${KVER:-$(sed -n 's/^KVER_612 := //p' build/kernels.mk)}
payload=$top/build/tls-bench-install
rm -rf "$payload"
make -s -C tests install INSTALL_PATH="$payload" >/dev/null
make -s -C tests/tls install INSTALL_PATH="$payload" >/dev/null
if perf=$(command -v perf); then
	cp "$(readlink -f "$perf")" "$payload/perf"
fi
mkdir -p build/logs
log=build/logs/tls-bench.log
MIGSEND_VM_MEM=${MIGSEND_VM_MEM:-4G} MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-5400} \
	tests/vm/run.sh "$kver" tls_bench.sh "$log" "$payload"
tests/vm/check-log.sh "$log" tls-bench | grep -v '^RESULT' >&2 || true
python3 tests/tls/tls_bench_report.py "$log"
