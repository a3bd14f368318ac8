#!/usr/bin/env bash
# `make deb`: build the Debian packages (migsend-dkms, libmigsend1,
# libmigsend-dev, migsend) with Debian's own tooling, dpkg-buildpackage,
# debhelper and dh-dkms, then run lintian on them.
#
# The build runs in a copy of the work tree (tracked files and new ones
# not ignored: the tree as it is now) under build/deb/src, so that
# debian/rules clean and dh_clean never touch the work tree.  The packages
# end up in build/deb/; lintian's report in build/deb/lintian.txt.
# Fails when the build fails or lintian reports an error.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/deb
ver=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/src/migsend-$ver

rm -rf "$out"
mkdir -p "$src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | tar -C "$src" -xf -

cd "$src"
echo "deb: dpkg-buildpackage in ${src#"$top"/}"
dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$out/build.log" 2>&1 ||
	{ tail -30 "$out/build.log"; echo "deb: dpkg-buildpackage failed (log: build/deb/build.log)" >&2; exit 1; }
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out/"
rm -rf "$out/src"
ls "$out"/*.deb | sed "s|^$top/|deb: |"

# lintian on the binary packages (and the .changes), at every level
# from error to pedantic, so the remaining warnings are seen; errors fail.
cd "$out"
lintian --info --display-level '>=pedantic' --no-tag-display-limit \
	./*.changes >"$out/lintian.txt" 2>&1 || true
grep -E '^[EWIPX]: ' "$out/lintian.txt" | sort | uniq -c | sort -rn || true
if grep -q '^E: ' "$out/lintian.txt"; then
	echo "deb: lintian reports errors (build/deb/lintian.txt)" >&2
	exit 1
fi
echo "deb: lintian: no errors"
