#!/usr/bin/env bash
# Build (and optionally install) the module with DKMS, as an operator's
# `dkms add/build/install` would, without touching the machine's own DKMS
# state: a private source tree, DKMS tree and install tree under
# build/dkms.
#
#   scripts/dkms-build.sh [--install] [--source DIR] [--out DIR] [KVER...]
#
# KVER defaults to build/kernels.mk's KVERS.  The source is this work
# tree's kbuild part (dkms.conf, Kbuild, kmod/, uapi/), or with --source a
# tree that has its own dkms.conf (the migsend-dkms package's
# usr/src/migsend-VERSION).
#
# Leaves each kernel's module, uncompressed, at
#   build/dkms/KVER/migsend.ko            (OUT/KVER/migsend.ko with --out)
# (what tests/vm/run.sh can boot with instead of the kbuild one).
# With --install it also runs `dkms install` into OUT/root (as
# root/lib/modules/KVER/updates/dkms) and runs depmod on that tree only,
# so that the machine's own /lib/modules is never touched.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
install=0 from="" out=$top/build/dkms
while [ $# -gt 0 ]; do
	case $1 in
	--install) install=1; shift ;;
	--source) from=$(cd "$2" && pwd); shift 2 ;;
	--out) mkdir -p "$2"; out=$(cd "$2" && pwd); shift 2 ;;
	*) break ;;
	esac
done
conf=${from:-$top}/dkms.conf
[ -e "$conf" ] || { echo "dkms-build: no $conf" >&2; exit 1; }
kvers=("$@")
[ ${#kvers[@]} -gt 0 ] || read -r -a kvers < <(sed -n 's/^KVERS := //p' "$top/build/kernels.mk")
[ ${#kvers[@]} -gt 0 ] || { echo "dkms-build: no kernel known: run 'make deps' first" >&2; exit 1; }
command -v dkms >/dev/null || { echo "dkms-build: dkms is not installed (run scripts/install-deps.sh)" >&2; exit 1; }

name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$conf")
srctree=$out/source
dkmstree=$out/tree
insttree=$out/root/lib/modules
src=$srctree/$name-$ver

# What DKMS gets is what the migsend-dkms package ships under
# /usr/src/migsend-VERSION: dkms.conf, Kbuild, kmod/ and uapi/.
rm -rf "$srctree" "$dkmstree" "$out/root"
mkdir -p "$src/kmod" "$src/uapi/linux" "$dkmstree" "$insttree"
if [ -n "$from" ]; then
	cp -a "$from/." "$src/"
else
	cp "$top/dkms.conf" "$top/Kbuild" "$src/"
	cp "$top"/kmod/Kbuild "$top"/kmod/*.c "$top"/kmod/*.h "$src/kmod/"
	cp "$top"/uapi/linux/*.h "$src/uapi/linux/"
fi

trees=(--sourcetree "$srctree" --dkmstree "$dkmstree" --installtree "$insttree")
dkms add "$name/$ver" "${trees[@]}"
for k in "${kvers[@]}"; do
	dkms build "$name/$ver" -k "$k" "${trees[@]}"
	built=$(find "$dkmstree/$name/$ver/$k" -path '*/module/*' -name "$name.ko*" | head -1)
	[ -n "$built" ] || { echo "dkms-build: no $name.ko for $k in $dkmstree" >&2; exit 1; }
	mkdir -p "$out/$k"
	case $built in
	*.xz) xz -dc "$built" >"$out/$k/$name.ko" ;;
	*.zst) zstd -qdc "$built" >"$out/$k/$name.ko" ;;
	*.gz) gzip -dc "$built" >"$out/$k/$name.ko" ;;
	*) cp "$built" "$out/$k/$name.ko" ;;
	esac
	[ "$(modinfo -F vermagic "$out/$k/$name.ko" | cut -d' ' -f1)" = "$k" ] ||
		{ echo "dkms-build: $out/$k/$name.ko is not built for $k" >&2; exit 1; }
	if [ $install -eq 1 ]; then
		mkdir -p "$insttree/$k"
		dkms install "$name/$ver" -k "$k" --no-depmod "${trees[@]}"
		depmod -b "$out/root" "$k"
		grep -q "^updates/dkms/$name.ko" "$insttree/$k/modules.dep" ||
			{ echo "dkms-build: dkms install left no $name.ko in $insttree/$k" >&2; exit 1; }
	fi
	echo "dkms-build: $k: ${out#"$top"/}/$k/$name.ko"
done
dkms status "$name/$ver" "${trees[@]}"
