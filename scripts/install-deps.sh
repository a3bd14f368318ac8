#!/usr/bin/env bash
# Install everything migsend needs to build and test on Debian 12, from
# Debian's own archive only.  Idempotent: a second run with everything in
# place does no network I/O beyond nothing and finishes in about a second.
#
# What it does:
#  1. enables bookworm-backports by deriving an apt source from this
#     machine's existing Debian entry (same URIs, suite bookworm-backports);
#  2. installs the build/test toolchain, the kernel headers for the
#     current 6.1 (bookworm) and 6.12 (bookworm-backports) kernels, and
#     the packaging tools (debhelper, dh-dkms, dkms, lintian, mandoc) with
#     linux-source-6.12 for the kernel's YNL tool;
#  3. unpacks the matching kernel images (vmlinuz + modules) into
#     $MIGSEND_CACHE (default build/cache) with apt-get download + dpkg -x,
#     never installing them.
#
# Writes build/kernels.mk with KVERS and per-version image paths for make.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${MIGSEND_CACHE:-$top/build/cache}
stamp=$top/build/kernels.mk
export DEBIAN_FRONTEND=noninteractive

say() { printf 'deps: %s\n' "$*" >&2; }

sudo_if_needed() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- 1. bookworm-backports, derived from the machine's Debian entry ---------
backports_source=/etc/apt/sources.list.d/migsend-bookworm-backports.sources

derive_backports_entry() {
	# Prefer deb822 sources; fall back to one-line sources.list.
	local uri="" keyring=""
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		[ "$f" = "$backports_source" ] && continue
		# Stanza whose Suites contain plain "bookworm".
		uri=$(awk -v RS= '/(^|\n)Suites:[^\n]*(^| )bookworm( |$|\n)/ {
				if (match($0, /URIs:[ ]*[^ \n]+/)) {
					s = substr($0, RSTART, RLENGTH); sub(/URIs:[ ]*/, "", s); print s; exit
				}
			}' "$f")
		if [ -n "$uri" ]; then
			keyring=$(awk -v RS= '/(^|\n)Suites:[^\n]*(^| )bookworm( |$|\n)/ {
				if (match($0, /Signed-By:[ ]*[^ \n]+/)) {
					s = substr($0, RSTART, RLENGTH); sub(/Signed-By:[ ]*/, "", s); print s; exit
				}
			}' "$f")
			break
		fi
	done
	if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $0 ~ / bookworm / {
				for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit }
			}' /etc/apt/sources.list)
	fi
	if [ -z "$uri" ]; then
		say "cannot find a Debian bookworm entry in apt's sources to derive backports from"
		exit 1
	fi
	{
		echo "# Written by migsend scripts/install-deps.sh: bookworm-backports,"
		echo "# derived from this machine's own Debian entry."
		echo "Types: deb"
		echo "URIs: $uri"
		echo "Suites: bookworm-backports"
		echo "Components: main"
		[ -n "$keyring" ] && echo "Signed-By: $keyring"
	} | sudo_if_needed tee "$backports_source" >/dev/null
}

# --- 2. packages -------------------------------------------------------------
base_pkgs=(
	build-essential bc bison flex libelf-dev libssl-dev kmod cpio xz-utils
	qemu-system-x86 busybox-static libnl-3-dev libnl-genl-3-dev
	iproute2 iperf3 sparse linux-source-6.1 pkg-config gnuplot-nox
	libxxhash-dev python3
	# Packaging and its checks (make deb, make dkms, the man pages, the YNL
	# spec): Debian's own tools, and linux-source-6.12 for tools/net/ynl.
	debhelper dh-dkms dkms lintian mandoc fakeroot dpkg-dev
	python3-yaml python3-jsonschema linux-source-6.12
	# libmigsend: the route lookup of the connection policy (libnl-route-3),
	# TLS handshakes (GnuTLS); the QEMU path's QMP client (json-c).
	libnl-route-3-dev libgnutls28-dev libjson-c-dev
	# Tests: the receiver's fuzzer (clang's libFuzzer and sanitizer
	# runtimes); test certificates and the stock TLS peer (openssl); the
	# profile (perf).
	clang-14 libclang-rt-14-dev openssl linux-perf
)

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || echo "$p"
	done
}

apt_updated=0
apt_update_once() {
	if [ $apt_updated -eq 0 ]; then
		say "apt-get update"
		sudo_if_needed apt-get update -qq
		apt_updated=1
	fi
}

# Newest kernel ABI name ("6.1.0-41-amd64") of a suite's linux-image-amd64.
kernel_abi_for() {
	local suite=$1
	apt-cache depends "linux-image-amd64/$suite" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9.]*[^ ]*-amd64\)$/\1/p' | head -1
}

# --- 3. kernel images, unpacked into the cache -------------------------------
unpack_kernel_image() {
	local abi=$1 dir=$cache/$1
	[ -e "$dir/.done" ] && return 0
	say "unpacking kernel image $abi into $dir"
	rm -rf "$dir" && mkdir -p "$dir/deb"
	# Debian's signed image package is a drop-in; either works for QEMU.
	(cd "$dir/deb" && apt-get download -qq "linux-image-$abi" >/dev/null)
	dpkg -x "$dir"/deb/*.deb "$dir/root"
	rm -rf "$dir/deb"
	touch "$dir/.done"
}

main() {
	if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
		say "run as root (or install sudo): packages must be installed"
		exit 1
	fi

	[ -e "$backports_source" ] || { derive_backports_entry; apt_updated=0; apt_update_once; }

	local abi61="" abi612=""
	if [ -e "$stamp" ]; then
		abi61=$(sed -n 's/^KVER_61 := //p' "$stamp")
		abi612=$(sed -n 's/^KVER_612 := //p' "$stamp")
	fi
	if [ -z "$abi61" ] || [ -z "$abi612" ]; then
		apt_update_once
		abi61=$(kernel_abi_for bookworm-security)
		[ -n "$abi61" ] || abi61=$(kernel_abi_for bookworm)
		abi612=$(kernel_abi_for bookworm-backports)
	fi
	case $abi61 in 6.1.*) ;; *) say "no 6.1 kernel found in apt (got '$abi61')"; exit 1 ;; esac
	case $abi612 in 6.12.*) ;; *) say "no 6.12 kernel found in bookworm-backports (got '$abi612')"; exit 1 ;; esac

	local need
	need=$(missing_pkgs "${base_pkgs[@]}" "linux-headers-$abi61" "linux-headers-$abi612")
	if [ -n "$need" ]; then
		apt_update_once
		say "installing:" $need
		# shellcheck disable=SC2086
		sudo_if_needed apt-get install -y -qq --no-install-recommends $need >/dev/null
	fi

	unpack_kernel_image "$abi61"
	unpack_kernel_image "$abi612"

	mkdir -p "$(dirname "$stamp")"
	cat >"$stamp.tmp" <<EOM
# Written by scripts/install-deps.sh; the kernels make builds and tests for.
KVER_61 := $abi61
KVER_612 := $abi612
KVERS := $abi61 $abi612
KCACHE := $cache
EOM
	mv "$stamp.tmp" "$stamp"
	say "ok: kernels $abi61 $abi612"
}

main "$@"
