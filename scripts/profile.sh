#!/usr/bin/env bash
# `make profile`: where the time of a full random pass goes, sender and
# receiver, for the kernel engine and user-sendfile with 2 and 4
# connections, profiled with perf inside one VM boot.  Prints the top
# symbols by thread; the log is build/logs/profile.log.
# The VM runs the newest supported kernel unless KVER names one.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kver=${KVER:-$(sed -n 's/^KVER_612 := //p' build/kernels.mk)}
perf=$(command -v perf) || { echo "profile: perf is missing (Debian's linux-perf)" >&2; exit 1; }
payload=build/profile-install
rm -rf "$payload"
make -s -C tests install INSTALL_PATH="$top/$payload" >/dev/null
cp "$(readlink -f "$perf")" "$payload/perf"
mkdir -p build/logs
log=build/logs/profile.log
MIGSEND_VM_MEM=${MIGSEND_VM_MEM:-4G} MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-3600} \
	tests/vm/run.sh "$kver" profile.sh "$log" "$top/$payload"
sed -n '/^PROFILE-BEGIN/,/^PROFILE-END/p' "$log" | tr -d '\r'
grep -a '^BENCH ' "$log" | tr -d '\r'
