#!/usr/bin/env bash
# The packaging checks that need the module running, in one VM boot:
#
#   scripts/packaging-vm.sh KVER [LOG]
#
# builds a payload in build/packaging-install (the kselftest payload, the
# module DKMS built for KVER, the YNL tool with its Python, the Debian
# packages of build/deb unpacked) and boots KVER with
# scripts/guest/packaging_suite.sh.  Prints the results as
# tests/vm/check-log.sh counts them, RESULT line last; a payload that
# cannot be built, or no packages from `make deb`, count as failures.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$1
log=${2:-$top/build/logs/packaging-vm-$kver.log}
payload=$top/build/packaging-install
name=packaging-vm-$kver
mkdir -p "$(dirname "$log")"

setup() {
	rm -rf "$payload"
	make -s -C "$top/tests" install INSTALL_PATH="$payload" >/dev/null || return 1
	[ -e "$top/build/dkms/$kver/migsend.ko" ] || "$top/scripts/dkms-build.sh" "$kver" >/dev/null ||
		return 1
	mkdir -p "$payload/dkms"
	cp "$top/build/dkms/$kver/migsend.ko" "$payload/dkms/" &&
		"$top/scripts/ynl-payload.sh" "$payload" >/dev/null &&
		install -m 0755 "$top/scripts/guest/packaging_suite.sh" "$payload/" || return 1
	# run.sh wants the kbuild module too; the suite loads DKMS's.
	[ -e "$top/build/$kver/src/kmod/migsend.ko" ] || "$top/scripts/build-module.sh" "$kver"
}
if ! setup >"$log.setup" 2>&1; then
	echo "$name: not ok payload (log: ${log#"$top"/}.setup)"
	tail -10 "$log.setup" | sed "s/^/$name: /"
	echo "RESULT 0 1 0"
	exit 0
fi
extra_fail=0
if ! "$top/scripts/deb-payload.sh" "$payload" >>"$log.setup" 2>&1; then
	echo "$name: not ok deb_test (no packages: make deb failed or did not run)"
	extra_fail=1
fi
if ! "$top/tests/vm/run.sh" "$kver" packaging_suite.sh "$log" "$payload"; then
	echo "$name: not ok the VM did not finish (log: ${log#"$top"/})"
	extra_fail=$((extra_fail + 1))
fi
out=$("$top/tests/vm/check-log.sh" "$log" "$name")
grep -v '^RESULT' <<<"$out"
read -r _ p f s < <(grep '^RESULT' <<<"$out")
echo "RESULT $p $((f + extra_fail)) $s"
