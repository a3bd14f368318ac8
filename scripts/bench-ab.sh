#!/usr/bin/env bash
# `make bench-ab REV=commit`: the module built at REV against the working
# tree's, side by side in one VM boot (tests/bench/ab.sh), with a
# userspace engine as the reference for the sender-CPU ratio.  Prints
# each pass and the medians per module and connection count.
#   scripts/bench-ab.sh REV
# Settings as in tests/bench/ab.sh (BENCH_AB_ROUNDS, BENCH_CONNS,
# BENCH_WORKLOADS, BENCH_SIZE, BENCH_AB_REFERENCE).  The VM runs the
# newest supported kernel unless KVER names one.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rev=${1:?usage: scripts/bench-ab.sh REV (the commit whose module is the old one)}
kver=${KVER:-$(sed -n 's/^KVER_612 := //p' build/kernels.mk)}

# The old module: REV's sources, built by this tree's build script.
old=build/ab-old
rm -rf "$old"
mkdir -p "$old/scripts"
git archive "$rev" kmod uapi Kbuild | tar -x -C "$old"
cp scripts/build-module.sh "$old/scripts/"
"$old/scripts/build-module.sh" "$kver" >/dev/null
scripts/build-module.sh "$kver" >/dev/null

payload=build/ab-install
rm -rf "$payload"
make -s -C tests install INSTALL_PATH="$top/$payload" >/dev/null
cp "$old/build/$kver/src/kmod/migsend.ko" "$payload/old.ko"
cp "build/$kver/src/kmod/migsend.ko" "$payload/new.ko"

mkdir -p build/logs
log=build/logs/bench-ab.log
MIGSEND_VM_MEM=${MIGSEND_VM_MEM:-4G} MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-5400} \
	tests/vm/run.sh "$kver" ab.sh "$log" "$top/$payload"
tests/vm/check-log.sh "$log" bench-ab | grep -v '^RESULT' >&2 || true
grep -a '^AB ' "$log" | tr -d '\r'
echo "== medians (old: $rev, new: the working tree)"
grep -a '^AB ' "$log" | tr -d '\r' | python3 -c '
import re, statistics, sys
runs = {}
for line in sys.stdin:
    f = dict(re.findall(r"(\w+)=(\S+)", line))
    runs.setdefault((f["workload"], int(f["conns"]), f["module"]), []).append(f)
cpu = {}
for key, fs in runs.items():
    gib = int(fs[0]["guest_bytes"]) / 2**30
    cpu[key] = statistics.median(float(f["sender_cpu_s"]) for f in fs) / gib
for (w, c, m), fs in sorted(runs.items()):
    engine = fs[0]["engine"]
    secs = statistics.median(float(f["secs"]) for f in fs)
    ref = cpu.get((w, c, "ref"))
    ratio = f", {cpu[w, c, m] / ref:.2f}x the reference" if ref and m != "ref" else ""
    print(f"{w} conns={c} {m:3} ({engine}): {len(fs)} runs, pass {secs:.3f} s, "
          f"sender CPU {cpu[w, c, m]:.3f} s/GiB{ratio}")
'
