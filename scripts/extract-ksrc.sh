#!/usr/bin/env bash
# Extract from Debian's linux-source-6.1 the few kernel files the build
# uses but the repository must not copy: the kselftest harness headers and
# checkpatch.pl with its data files.  Into build/ksrc; idempotent.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dst=$top/build/ksrc
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -1)
[ -e "$dst/.done" ] && exit 0
[ -n "$tarball" ] || { echo "extract-ksrc: linux-source-6.1 is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
rm -rf "$dst" && mkdir -p "$dst"
tar -C "$dst" --strip-components=1 -xf "$tarball" --wildcards \
	'*/tools/testing/selftests/kselftest_harness.h' \
	'*/tools/testing/selftests/kselftest.h' \
	'*/scripts/checkpatch.pl' \
	'*/scripts/spelling.txt' \
	'*/scripts/const_structs.checkpatch'
touch "$dst/.done"
