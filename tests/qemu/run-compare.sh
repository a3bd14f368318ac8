#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# QEMU's own migration and migsend side by side on the same guest, in one
# boot of the test VM (tests/qemu/qemu_compare.sh; docs/BENCHMARKS.md,
# "A real QEMU guest").  Prints the table; the console log is LOG
# (default build/logs/qemu-compare.log).
#
#   tests/qemu/run-compare.sh [LOG]
#
# KVER picks the kernel (default 6.12); BENCH_QEMU_* settings pass into
# the VM (see qemu_compare.sh); MIGSEND_VM_MEM defaults to 4G here (two
# 512 MiB guests, one with its RAM locked).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
kver=${KVER:-$(sed -n 's/^KVER_612 := //p' build/kernels.mk)}
log=${1:-$top/build/logs/qemu-compare.log}
payload=$top/build/qemu-compare-install
q10=$top/build/cache/qemu-10

tests/qemu/fetch-qemu10.sh "$q10"
rm -rf "$payload"
make -s -C tests install INSTALL_PATH="$payload" >/dev/null
# QEMU 10's binary and the three data files the test guest needs.
mkdir -p "$payload/qemu10/usr/bin" "$payload/qemu10/usr/share/qemu"
cp "$q10/usr/bin/qemu-system-x86_64" "$payload/qemu10/usr/bin/"
for f in qboot.rom multiboot_dma.bin kvmvapic.bin; do
	cp -L "$q10/usr/share/qemu/$f" "$payload/qemu10/usr/share/qemu/"
done
cat >"$payload/compare.sh" <<'GUEST'
sh module_load_test.sh >/dev/null
sh qemu/qemu_compare.sh
rc=$?
sh module_unload_test.sh >/dev/null
exit $rc
GUEST
mkdir -p "$(dirname "$log")"
MIGSEND_VM_MEM=${MIGSEND_VM_MEM:-4G} MIGSEND_VM_TIMEOUT=${MIGSEND_VM_TIMEOUT:-5400} \
	tests/vm/run.sh "$kver" compare.sh "$log" "$payload"
tr -d '\r' <"$log" | grep -E '^(# compare|RESULT)' || true
tr -d '\r' <"$log" | sed -n '/^COMPARE-TABLE-BEGIN/,/^COMPARE-TABLE-END/p' | sed '1d;$d'
