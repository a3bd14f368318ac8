#!/usr/bin/env bash
# Put the Debian packages of build/deb, unpacked (dpkg -x) into a root of
# their own, into a test VM payload, with the guest script that migrates
# with the installed CLI:
#
#   scripts/deb-payload.sh PAYLOAD-DIR     (run `make deb` first)
#
# makes PAYLOAD-DIR/debroot (usr/bin/migsend, usr/lib/MULTIARCH/...) and
# copies scripts/guest/deb_test.sh.  The packaged library is made
# executable in the payload only so that tests/vm/run.sh copies the
# shared libraries it needs (it looks at executables).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
payload=${1:?usage: deb-payload.sh PAYLOAD-DIR}
dst=$payload/debroot
rm -rf "$dst" && mkdir -p "$dst"
for p in libmigsend1 migsend; do
	f=$(ls "$top"/build/deb/${p}_*.deb 2>/dev/null | head -1)
	[ -n "$f" ] || { echo "deb-payload: no $p package in build/deb: run 'make deb'" >&2; exit 1; }
	dpkg -x "$f" "$dst"
done
rm -rf "$dst/usr/share"
chmod 0755 "$dst"/usr/lib/*/libmigsend.so.*
dpkg-architecture -qDEB_HOST_MULTIARCH >"$dst/multiarch"
install -m 0755 "$top/scripts/guest/deb_test.sh" "$payload/"
