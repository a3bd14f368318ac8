#!/usr/bin/env bash
# `make check`: every stage, timed, counted.  Ends with one line
#   N passed, N failed, N skipped
# counting every test of every stage; exits non-zero when any failed.
#
# Stages: build (module for each kernel, userspace, tests), checkpatch
# --strict, sparse (C=2) for each kernel, host unit tests, packaging (DKMS
# for each kernel, make deb + lintian, the packages in a clean root, man
# pages, YNL spec), the kselftest suite in a VM for each kernel, and one
# VM boot of the packaging checks (DKMS's module, YNL, installed CLI).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kvers=${KVER:-$(sed -n 's/^KVERS := //p' build/kernels.mk)}
logs=$top/build/logs
mkdir -p "$logs"

passed=0 failed=0 skipped=0
timings=()

count() { # count PASS FAIL SKIP
	passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
}

# A stage that is one test: pass when the command succeeds.
one() { # one NAME LOG CMD...
	local name=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then
		echo "ok $name"
		count 1 0 0
	else
		echo "not ok $name (log: ${log#"$top"/})"
		tail -20 "$log" | sed 's/^/    /'
		count 0 1 0
	fi
}

# A stage whose output is counted by a RESULT line.
counted() { # counted OUTPUT
	local out=$1
	grep -v '^RESULT' <<<"$out" || true
	read -r _ p f s < <(grep '^RESULT' <<<"$out")
	echo "  $p passed, $f failed, $s skipped"
	count "$p" "$f" "$s"
}

timed() { # timed LABEL CMD...
	local label=$1 t0=$SECONDS
	shift
	echo "== $label"
	"$@"
	timings+=("$(printf '%-28s %4ds' "$label" $((SECONDS - t0)))")
}

stage_build() {
	local k
	one extract-kernel-sources "$logs/ksrc.log" scripts/extract-ksrc.sh
	for k in $kvers; do
		one "build-module-$k" "$logs/build-$k.log" scripts/build-module.sh "$k"
	done
	one build-userspace "$logs/build-userspace.log" make -C userspace
	one build-tests "$logs/build-tests.log" make -C tests install
}

# LINUX_VERSION_CODE: checkpatch's advice is for code merged in one
# kernel; this module is built for 6.1 and 6.12 and asks, in kmod/compat.h
# only.  Every other warning and check counts.
checkpatch_clean() {
	local out
	out=$(perl build/ksrc/scripts/checkpatch.pl --strict --no-tree --terse \
		--ignore LINUX_VERSION_CODE -f kmod/*.c kmod/*.h uapi/linux/migsend.h)
	echo "$out"
	! grep -qE 'ERROR|WARNING|CHECK' <<<"$out"
}

sparse_clean() { # sparse_clean KVER
	local out
	out=$(scripts/build-module.sh "$1" C=2 2>&1 |
		grep -vE 'Skipping BTF generation')
	echo "$out"
	! grep -qE 'warning|error' <<<"$out"
}

stage_static() {
	local k
	one checkpatch-strict "$logs/checkpatch.log" checkpatch_clean
	for k in $kvers; do
		one "sparse-$k" "$logs/sparse-$k.log" sparse_clean "$k"
	done
}

stage_host() {
	make -s -C tests/host all >"$logs/host-build.log" 2>&1 ||
		{ echo "not ok host-tests-build"; count 0 1 0; return; }
	counted "$(make -s -C tests/host run_tests 2>&1 | tee "$logs/host-tests.log" |
		tests/tap-count.sh host)"
}

# Tests of the project's own scripts (tests/scripts/*_test.sh, TAP).
stage_scripts() {
	local t
	counted "$(for t in tests/scripts/*_test.sh; do "$t"; done 2>&1 |
		tee "$logs/script-tests.log" | tests/tap-count.sh scripts)"
}

# The receiver's fuzzer (libFuzzer, ASan, UBSan) for 30 s on the seed
# corpus; make fuzz runs it for millions of inputs.
stage_fuzz() {
	one fuzz-smoke "$logs/fuzz-smoke.log" make -s -C tests/fuzz smoke SMOKE_SECONDS=30
}

# Packaging: the module built and installed with DKMS for each kernel
# (private trees, scripts/dkms-build.sh); `make deb` with lintian (errors
# fail); the packages installed into a clean root; the man pages against
# the code; the YNL spec against the uapi.
stage_packaging() {
	local k
	for k in $kvers; do
		one "dkms-build-install-$k" "$logs/dkms-$k.log" scripts/dkms-build.sh --install "$k"
	done
	one deb-build-lintian "$logs/deb.log" scripts/build-deb.sh
	counted "$(scripts/check-deb.sh 2>&1 | tee "$logs/deb-check.log" | tests/tap-count.sh deb)"
	counted "$(scripts/check-man.sh 2>&1 | tee "$logs/man.log" | tests/tap-count.sh man)"
	counted "$(scripts/check-ynl-spec.sh 2>&1 | tee "$logs/ynl-spec.log" |
		tests/tap-count.sh ynl-spec)"
}

# One VM boot: the module DKMS built, the kernel's YNL tool against it (a
# dump and events), a migration with the CLI the packages installed.
stage_packaging_vm() { # stage_packaging_vm KVER
	local k=$1
	counted "$(scripts/packaging-vm.sh "$k" "$logs/packaging-vm-$k.log" \
		2>"$logs/packaging-vm-$k.err")"
}

stage_vm() { # stage_vm KVER
	local k=$1 log=$logs/vm-$k.log
	if ! tests/vm/run.sh "$k" vm_suite.sh "$log"; then
		echo "not ok vm-$k finished (log: ${log#"$top"/})"
		count 0 1 0
	fi
	counted "$(tests/vm/check-log.sh "$log" "vm-$k")"
}

timed "build" stage_build
timed "checkpatch+sparse" stage_static
timed "host tests" stage_host
timed "script tests" stage_scripts
timed "fuzz smoke" stage_fuzz
timed "packaging" stage_packaging
for k in $kvers; do
	timed "vm suite $k" stage_vm "$k"
done
timed "packaging vm ${kvers##* }" stage_packaging_vm "${kvers##* }"

echo "== timings"
printf '  %s\n' "${timings[@]}"
echo "  logs in build/logs/"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
