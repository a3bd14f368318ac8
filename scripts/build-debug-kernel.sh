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
	for o in "${on[@]}"; do scripts/config --enable "$o"; done
	for o in "${off[@]}"; do scripts/config --disable "$o"; done
	scripts/config --set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 16000
	scripts/config --set-str LOCALVERSION "-migsend-debug"
	make -s olddefconfig
	echo "debug-kernel: building with $jobs jobs (this takes a while)" >&2
	make -s -j"$jobs" bzImage modules
	make -s kernelrelease >"$dk/kver"
	touch "$dk/.done"
	echo "debug-kernel: $(cat "$dk/kver") ready" >&2
)

# Not in a || list: errexit must stay on inside build_kernel.  A cached
# kernel built before an option joined the list is built again (seen:
# the engine tests need USERFAULTFD, which the first debug kernels lacked).
if [ ! -e "$dk/.done" ] || ! grep -q '^CONFIG_USERFAULTFD=y' "$src/.config"; then
	rm -f "$dk/.done"
	build_kernel
fi
MIGSEND_KDIR=$src "$top/scripts/build-module.sh" "$(cat "$dk/kver")"
