#!/usr/bin/env bash
# Build kmod/migsend.ko for one kernel, out of the source tree:
#   scripts/build-module.sh KVER [extra kbuild arguments, e.g. C=2]
# Kbuild writes its objects next to the sources, so each kernel gets a
# tree of symlinks to the sources under build/KVER/src; the module ends
# up as build/KVER/src/kmod/migsend.ko.  MIGSEND_KDIR names another
# kernel build tree (the debug kernel's).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$1
shift
kdir=${MIGSEND_KDIR:-/lib/modules/$kver/build}
[ -d "$kdir" ] || { echo "build-module: no headers for $kver at $kdir (run scripts/install-deps.sh)" >&2; exit 1; }

src=$top/build/$kver/src
mkdir -p "$src/kmod"
ln -sfn "$top/uapi" "$src/uapi"
ln -sf "$top/Kbuild" "$src/Kbuild"
for f in "$top"/kmod/*.c "$top"/kmod/*.h "$top"/kmod/Kbuild; do
	ln -sf "$f" "$src/kmod/"
done
# Sources that were removed or renamed leave dangling links behind.
find "$src/kmod" -xtype l -delete

make -s -C "$kdir" M="$src" W=1 "$@" modules
