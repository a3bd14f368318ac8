#!/usr/bin/env bash
# The Debian packages that `make deb` (scripts/build-deb.sh) left in
# build/deb, installed the way a user gets them, minus a real root:
#   - apt can install all four on this Debian 12 (dependencies resolve);
#   - unpacked into a clean root (build/deb/root, dpkg -x), the CLI runs
#     with the packaged library and no path into the build tree;
#   - libmigsend-dev builds libmigsend(3)'s EXAMPLE, shared and static,
#     through its pkg-config file, and the program runs;
#   - migsend-dkms's /usr/src tree builds with DKMS (KVER, default the
#     newest kernel of build/kernels.mk);
#   - the udev rule, modules-load.d entry and man pages are in place.
# The migration with the installed CLI runs in the VM (scripts/guest/
# deb_test.sh).  TAP on stdout.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
debs=$top/build/deb
root=$debs/root
work=$debs/check
kver=${1:-$(sed -n 's/^KVERS := //p' "$top/build/kernels.mk" | awk '{print $NF}')}
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=$root/usr/lib/$ma
n=0 fails=0
result() { # result STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}
quiet() { # quiet LOG CMD...: run, keep its output in LOG, show it on failure
	local log=$1
	shift
	"$@" >"$log" 2>&1 && return 0
	sed 's/^/# /' "$log" | tail -15
	return 1
}

echo "TAP version 13"
pkgs=()
for p in migsend-dkms libmigsend1 libmigsend-dev migsend; do
	f=$(ls "$debs"/${p}_*.deb 2>/dev/null | head -1)
	[ -n "$f" ] || { echo "Bail out! no $p package in build/deb: run 'make deb'"; exit 1; }
	pkgs+=("$f")
done
rm -rf "$root" "$work" && mkdir -p "$root" "$work"

# One version everywhere: dkms.conf, the module, libmigsend, the packages.
versions() {
	printf 'dkms.conf %s\nkmod/main.c %s\nuserspace/Makefile %s\ndebian/changelog %s\n' \
		"$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")" \
		"$(sed -n 's/^#define MIGSEND_MODULE_VERSION[[:space:]]*"\(.*\)"/\1/p' "$top/kmod/main.c")" \
		"$(sed -n 's/^VERSION := //p' "$top/userspace/Makefile")" \
		"$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version | sed 's/-[^-]*$//')"
}
versions_agree() {
	versions >"$work/versions.log"
	[ "$(awk '{print $2}' "$work/versions.log" | sort -u | wc -l)" -eq 1 ] &&
		[ "$(awk 'NF == 2' "$work/versions.log" | wc -l)" -eq 4 ]
}
versions_agree
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$work/versions.log"
result $rc one_version_in_dkms_module_library_and_packages

quiet "$work/apt.log" apt-get install -s "${pkgs[@]}"
result $? apt_can_install_all_packages

for f in "${pkgs[@]}"; do dpkg -x "$f" "$root"; done
run_cli() { LD_LIBRARY_PATH=$libdir "$root/usr/bin/migsend" "$@"; }
quiet "$work/help.log" run_cli --help
result $? packaged_cli_runs
ldd_ok() {
	LD_LIBRARY_PATH=$libdir ldd "$root/usr/bin/migsend" | grep -q "libmigsend.so.1 => $libdir/" &&
		! readelf -d "$root/usr/bin/migsend" | grep -qE 'RPATH|RUNPATH'
}
ldd_ok
result $? packaged_cli_uses_packaged_library_no_runpath
# Without the module (this machine never loads it): exit status 3.
run_cli version >"$work/version.log" 2>&1
rc=$?
[ $rc -eq 3 ] || sed 's/^/# /' "$work/version.log"
result $([ $rc -eq 3 ]; echo $?) packaged_cli_exit_3_without_module

# libmigsend(3)'s EXAMPLE, with a main(), against the packaged -dev.
sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$top/docs/man/libmigsend.3" |
	sed -n '/^\.EX/,/^\.EE/p' | sed '1d;$d' | sed 's/\\en/\\n/g; s/\\e/\\/g' >"$work/example.c"
cat >>"$work/example.c" <<'C'

int main(void)
{
	static const uint64_t dirty[1] = { 1 };
	int memfd = memfd_create("guest", 0);

	if (memfd < 0 || ftruncate(memfd, 4096))
		return 2;
	/* No module here: the session cannot open, with a message. */
	return migrate(memfd, 4096, dirty) == -ENOENT ? 0 : 1;
}
C
sed -i '1i #define _GNU_SOURCE\n#include <errno.h>\n#include <sys/mman.h>\n#include <unistd.h>' "$work/example.c"
pc() {
	PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --define-variable=libdir="$libdir" \
		--define-variable=includedir="$root/usr/include" "$@" libmigsend
}
build_example() { # build_example shared|static
	local cflags libs
	cflags=$(pc --cflags) || return 1
	if [ "$1" = shared ]; then
		libs=$(pc --libs) || return 1
	else
		# libmigsend.a, and its own private dependencies as shared
		# libraries (pkg-config --static would want every dependency's
		# static archives, which Debian's -dev packages do not all have).
		libs="$libdir/libmigsend.a $(pkg-config --libs $(pc --print-requires-private)) -lpthread" ||
			return 1
	fi
	# shellcheck disable=SC2086
	cc -std=c11 -Wall -Wextra -Werror $cflags -o "$work/example-$1" "$work/example.c" $libs &&
		LD_LIBRARY_PATH=$libdir "$work/example-$1"
}
quiet "$work/example-shared.log" build_example shared
result $? dev_package_builds_man_example_shared
static_ok() { build_example static && ! ldd "$work/example-static" | grep -q libmigsend; }
quiet "$work/example-static.log" static_ok
result $? dev_package_builds_man_example_static_without_shared_library

src=$(ls -d "$root"/usr/src/migsend-* 2>/dev/null | head -1)
quiet "$work/dkms.log" "$top/scripts/dkms-build.sh" --install --source "$src" --out "$debs/dkms" "$kver"
result $? "dkms_package_source_builds_and_installs_$kver"

rule=$(ls "$root"/lib/udev/rules.d/*migsend*.rules "$root"/usr/lib/udev/rules.d/*migsend*.rules 2>/dev/null | head -1)
rule_ok() {
	[ -n "$rule" ] && grep -v '^#' "$rule" | grep 'KERNEL=="migsend"' | grep 'SUBSYSTEM=="misc"' |
		grep -q 'MODE="0600"'
}
rule_ok
result $? udev_rule_keeps_device_0600
grep -qx migsend "$root/usr/lib/modules-load.d/migsend.conf" 2>/dev/null
result $? modules_load_d_loads_migsend
man_ok() {
	local p
	for p in man1/migsend.1 man3/libmigsend.3 man4/migsend.4; do
		[ -e "$root/usr/share/man/$p.gz" ] && mandoc -T lint -W warning "$root/usr/share/man/$p.gz" || return 1
	done
}
quiet "$work/man.log" man_ok
result $? packaged_man_pages_lint_clean
echo "# $n tests, $fails failed"
[ $fails -eq 0 ]
