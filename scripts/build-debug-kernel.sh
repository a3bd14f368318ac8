#!/usr/bin/env bash
# Build the debug kernel for `make check-debug` from Debian's
# linux-source-6.1: x86_64 defconfig and kvm_guest.config, plus KASAN,
# PROVE_LOCKING, DEBUG_KMEMLEAK, UBSAN, DEBUG_ATOMIC_SLEEP and DEBUG_LIST,
# with what the suite needs built in (veth, netem, tls, zram, hugetlbfs,
# THP, namespaces).  Cached in build/debug-kernel; its version is written
# to build/debug-kernel/kver.  Then (every time: the module changes, the
# kernel does not) builds migsend.ko against it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dk=$top/build/debug-kernel
src=$dk/src
jobs=${JOBS:-$(nproc)}
# What the suite needs (tests/config), every one built in: the VM has no
# modprobe, and the debug kernel loads no modules but migsend.
suite_options() {
	sed -n 's/^CONFIG_\([A-Z0-9_]*\)=[ym]$/\1/p' "$top/tests/config"
}
# The options of tests/config that .config $1 does not have (built in).
missing_options() {
	local o
	for o in $(suite_options); do
		grep -q "^CONFIG_$o=y" "$1" || printf ' %s' "$o"
	done
}

# scripts/build-debug-kernel.sh --check-config FILE: exit 1 naming what
# FILE lacks of tests/config (tests/scripts/debug_kernel_config_test.sh).
if [ "${1:-}" = --check-config ]; then
	missing=$(missing_options "$2")
	[ -z "$missing" ] || { echo "missing:$missing"; exit 1; }
	exit 0
fi

build_kernel() (
	tarball=$(ls /usr/src/linux-source-6.1.tar.* | head -1)
	mkdir -p "$dk"
	if [ ! -e "$src/Makefile" ]; then
		echo "debug-kernel: extracting $tarball" >&2
		rm -rf "$src" && mkdir -p "$src"
		tar -C "$src" --strip-components=1 -xf "$tarball"
	fi
	cd "$src"
	make -s x86_64_defconfig kvm_guest.config
	on=(KASAN KASAN_GENERIC KASAN_INLINE PROVE_LOCKING DEBUG_LOCKDEP DEBUG_KMEMLEAK
	    UBSAN UBSAN_BOUNDS DEBUG_ATOMIC_SLEEP DEBUG_LIST SLUB_DEBUG
	    MODULES MODULE_UNLOAD DEVTMPFS DEVTMPFS_MOUNT BLK_DEV_INITRD
	    SERIAL_8250 SERIAL_8250_CONSOLE NET_NS VETH NET_SCHED NET_SCH_NETEM TLS
	    IPV6 SHMEM TMPFS HUGETLBFS TRANSPARENT_HUGEPAGE SWAP ZSMALLOC ZRAM
	    CRYPTO_LZO CRYPTO_LZ4 MEMCG USERFAULTFD)
	# Hardware the test VM does not have (-nic none, no disk, no display):
	# leaving it out halves the build on two cores.
	off=(MODULE_SIG DEBUG_INFO DEBUG_INFO_BTF DEBUG_KMEMLEAK_DEFAULT_OFF
	     RANDOMIZE_BASE WERROR
	     DRM FB SOUND USB_SUPPORT HID WLAN WIRELESS CFG80211 MAC80211 RFKILL
	     AGP ETHERNET ATA SCSI MD INPUT_MOUSE INPUT_JOYSTICK INPUT_TABLET
	     INPUT_TOUCHSCREEN INPUT_MISC NFS_FS NFSD PCCARD WAN I2C HWMON)
	for o in "${on[@]}" $(suite_options); do scripts/config --enable "$o"; done
	for o in "${off[@]}"; do scripts/config --disable "$o"; done
	scripts/config --set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 16000
	scripts/config --set-str LOCALVERSION "-migsend-debug"
	make -s olddefconfig
	missing=$(missing_options .config)
	if [ -n "$missing" ]; then
		echo "debug-kernel: the configuration lacks what tests/config asks for:$missing" >&2
		exit 1
	fi
	echo "debug-kernel: building with $jobs jobs (this takes a while)" >&2
	make -s -j"$jobs" bzImage modules
	make -s kernelrelease >"$dk/kver"
	touch "$dk/.done"
	echo "debug-kernel: $(cat "$dk/kver") ready" >&2
)

# Not in a || list: errexit must stay on inside build_kernel.  A cached
# kernel that lacks an option of tests/config is built again (seen: the
# engine tests need USERFAULTFD, the QEMU tests MEM_SOFT_DIRTY, the TLS
# tests CHACHA20POLY1305, which earlier debug kernels lacked).
if [ ! -e "$dk/.done" ] || [ -n "$(missing_options "$src/.config")" ]; then
	rm -f "$dk/.done"
	build_kernel
fi
MIGSEND_KDIR=$src "$top/scripts/build-module.sh" "$(cat "$dk/kver")"
