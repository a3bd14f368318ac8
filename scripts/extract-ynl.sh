#!/usr/bin/env bash
# Extract the kernel's YNL tool (tools/net/ynl: cli.py, ynl-gen-c.py and
# their library), the netlink spec schemas (Documentation/netlink/*.yaml)
# and the kernel's own specs (Documentation/netlink/specs/: nlctrl.yaml,
# genetlink's control family, serves to exercise the tool on the host)
# from Debian's linux-source-6.12 into build/ynl, laid out as in a kernel
# tree (ynl-gen-c.py looks for MAINTAINERS to find the tree's root).
# Never committed: the kernel's files stay the kernel's.  Idempotent.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dst=$top/build/ynl
[ -e "$dst/.done" ] && exit 0
tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -1)
[ -n "$tarball" ] || { echo "extract-ynl: linux-source-6.12 is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
rm -rf "$dst" && mkdir -p "$dst"
tar -C "$dst" --strip-components=1 -xf "$tarball" --wildcards \
	'*/tools/net/ynl/cli.py' '*/tools/net/ynl/ynl-gen-c.py' \
	'*/tools/net/ynl/lib/*.py' '*/Documentation/netlink/*.yaml'
touch "$dst/MAINTAINERS"
touch "$dst/.done"
