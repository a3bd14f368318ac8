#!/usr/bin/env bash
# Boot one of the supported kernels in QEMU and run a script inside it.
#
#   tests/vm/run.sh KVER GUEST-SCRIPT LOG [PAYLOAD-DIR]
#
# Builds an initramfs from busybox, the module built for KVER, the kernel
# modules named in tests/vm/kmodules, PAYLOAD-DIR (default build/tests-install:
# test programs and the tools they need, with their shared libraries) and
# boots KVER's kernel from the cache with qemu-system-x86_64 (TCG unless
# MIGSEND_ACCEL says otherwise).  The guest's init loads migsend.ko and runs
# GUEST-SCRIPT (a path inside PAYLOAD-DIR); its console goes to LOG.
#
# Exit status: 0 when the guest ran the script to its end and powered off;
# 2 when the guest did not boot or did not finish within MIGSEND_VM_TIMEOUT
# seconds (default 1500).  The script's own results are in LOG, between
# the MIGSEND-* markers written by init.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
kver=$1 script=$2 log=$3
payload=${4:-$top/build/tests-install}
cache=${MIGSEND_CACHE:-$top/build/cache}
timeout_s=${MIGSEND_VM_TIMEOUT:-1500}
mem=${MIGSEND_VM_MEM:-3G}
accel=${MIGSEND_ACCEL:-tcg,thread=multi}

root=$cache/$kver/root
# MIGSEND_KERNEL_IMAGE boots another kernel (the debug kernel, with
# everything the suite needs built in).
vmlinuz=${MIGSEND_KERNEL_IMAGE:-$root/boot/vmlinuz-$kver}
ko=$top/build/$kver/src/kmod/migsend.ko
for f in "$vmlinuz" "$ko" "$payload/$script"; do
	[ -e "$f" ] || { echo "vm: missing $f" >&2; exit 2; }
done

# A stage and an initrd of its own: several runs may share the machine.
mkdir -p "$top/build/$kver"
stage=$(mktemp -d "$top/build/$kver/initramfs.XXXXXX")
initrd=$stage.cpio.gz
trap 'rm -rf "$stage" "$initrd"' EXIT
mkdir -p "$stage"/{bin,sbin,proc,sys,dev,tmp,run,mnt,lib/modules/"$kver"}

# busybox provides the shell and the basic tools.
cp /bin/busybox "$stage/bin/busybox"

# Kernel modules the tests need, with their dependencies, decompressed so
# that busybox insmod can load them.
kmoddir=$root/lib/modules/$kver
find_kmod() { find "$kmoddir/kernel" -name "$1.ko" -o -name "$1.ko.xz" | head -1; }
declare -A seen=()
add_kmod() {
	local name=$1 path dep
	[ -n "${seen[$name]:-}" ] && return 0
	seen[$name]=1
	path=$(find_kmod "$name")
	[ -n "$path" ] || { echo "vm: kernel module $name not found for $kver" >&2; return 0; }
	for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
		add_kmod "$dep"
	done
	case $path in
	*.xz) xz -dc "$path" >"$stage/lib/modules/$kver/$name.ko" ;;
	*) cp "$path" "$stage/lib/modules/$kver/$name.ko" ;;
	esac
	echo "$name" >>"$stage/lib/modules/$kver/load-order"
}
: >"$stage/lib/modules/$kver/load-order"
if [ -d "$kmoddir" ]; then
	while read -r m _; do
		case $m in ''|'#'*) continue ;; esac
		add_kmod "$m"
	done <"$top/tests/vm/kmodules"
fi
cp "$ko" "$stage/lib/modules/$kver/migsend.ko"

# Host tools the tests use, at the same paths as on the host.  Busybox's
# shell prefers its own applets to $PATH: the tests call these by path.
while read -r t _; do
	case $t in ''|'#'*) continue ;; esac
	path=$(command -v "$t") || { echo "vm: tool $t not found on the host" >&2; exit 2; }
	mkdir -p "$stage$(dirname "$path")"
	cp -L "$path" "$stage$path"
done <"$top/tests/vm/tools"
# Host data files, at the same paths: what the nested QEMU of tests/qemu
# loads (its TCG module, the firmware, the multiboot option ROM).
while read -r f _; do
	case $f in ''|'#'*) continue ;; esac
	[ -e "$f" ] || { echo "vm: file $f not found on the host" >&2; exit 2; }
	mkdir -p "$stage$(dirname "$f")"
	cp -L "$f" "$stage$f"
done <"$top/tests/vm/files"

# The payload, and the shared libraries of every executable in it.
mkdir -p "$stage/payload"
cp -a "$payload/." "$stage/payload/"
copy_libs() {
	local lib
	for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}
while IFS= read -r -d '' f; do
	if head -c4 "$f" | grep -q ELF; then copy_libs "$f"; fi
done < <(find "$stage/payload" "$stage/usr" -type f -perm -u+x -print0)
# The libc ships its loader under /lib64 as well.
[ -e /lib64/ld-linux-x86-64.so.2 ] && mkdir -p "$stage/lib64" &&
	cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"

cp "$top/tests/vm/init" "$stage/init"
chmod +x "$stage/init"
echo "$script" >"$stage/payload/.script"
# Settings for the guest scripts: DEMO_*, BENCH_*, FUZZ_*, SOAK_* and MS_*.
# Quoted: a value may have spaces (a list of test names).
env | grep -E '^(DEMO|BENCH|FUZZ|SOAK|PROFILE|MS)_[A-Z_]*=' |
	sed "s/'/'\\\\''/g; s/=/='/; s/\$/'/" >"$stage/payload/.env" || true

(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd"

mkdir -p "$(dirname "$log")"
cmdline="console=ttyS0 quiet loglevel=1 panic=-1 oops=panic slab_nomerge"
cmdline+=" hugepages=${MIGSEND_VM_HUGEPAGES:-64} transparent_hugepage=madvise"
cmdline+=" migsend.script=$script"
# The log stays on the machine that ran it: its end (a panic's trace, the
# test that was running) goes to stderr, where CI shows it.
show_log_end() {
	echo "vm: the last lines of $log:" >&2
	tail -n 100 "$log" | tr -d '\r' | sed 's/^/vm:   /' >&2
}

set +e
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel "$accel" -cpu max -smp 2 -m "$mem" \
	-kernel "$vmlinuz" -initrd "$initrd" -append "$cmdline" \
	-nographic -no-reboot -nic none -monitor none -serial stdio \
	</dev/null >"$log" 2>&1
qrc=$?
set -e
if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
	echo "vm: $kver did not finish within ${timeout_s}s" >&2
	show_log_end
	exit 2
fi
if ! grep -q '^MIGSEND-VM-END' "$log"; then
	echo "vm: $kver guest did not reach the end of its script (qemu exit $qrc)" >&2
	show_log_end
	exit 2
fi
exit 0
