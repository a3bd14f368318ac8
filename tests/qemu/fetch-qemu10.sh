#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# QEMU 10.0 from bookworm-backports, unpacked into DIR (default
# build/cache/qemu-10) without installing it: the system's QEMU 7.2 stays.
# It runs with bookworm's own libraries (checked with ldd) and finds its
# data files next to its binary (DIR/usr/share/qemu).  Needs the
# bookworm-backports apt source that scripts/install-deps.sh sets up.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$top/build/cache/qemu-10}
bin=$dir/usr/bin/qemu-system-x86_64
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
	exit 0
fi
ver=$(apt-cache policy qemu-system-x86 | awk '/bookworm-backports/ { print prev } { prev = $1 }' | head -1)
[ -n "$ver" ] || { echo "fetch-qemu10: no qemu-system-x86 in bookworm-backports (apt source?)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "qemu-system-x86=$ver" "qemu-system-common=$ver" \
	"qemu-system-data=$ver" >/dev/null 2>&1) ||
	{ echo "fetch-qemu10: apt-get download of QEMU $ver failed" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$dir"
done
if ldd "$bin" | grep -q 'not found'; then
	echo "fetch-qemu10: QEMU $ver needs libraries bookworm lacks:" >&2
	ldd "$bin" | grep 'not found' >&2
	exit 1
fi
echo "fetch-qemu10: $("$bin" --version | head -1) in $dir"
