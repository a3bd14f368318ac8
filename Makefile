# SPDX-License-Identifier: GPL-2.0
#
# migsend top-level Makefile.
#
#   make            module for every installed supported kernel, userspace,
#                   test programs (make KVER=<version> for one kernel)
#   make check      all tests: build, checkpatch, sparse, host unit tests,
#                   the kselftest suite in QEMU on 6.1 and 6.12
#   make demo       the main job: a real QEMU guest migrated by migsend, in QEMU
#   make demo-sim   the simulated guest
#   make deps       install what a fresh Debian 12 machine lacks
#   make bench      the engines side by side (make bench-quick: a few minutes)
#   make check-debug the VM suite on a debug kernel (KASAN, lockdep, kmemleak)
#   make fuzz, make soak   the receiver's libFuzzer run and the long ioctl/netlink
#                   fuzz; the 1000-migration soak
#   make soak-debug the soak on the debug kernel, then a kmemleak scan
#   make install    libmigsend, its header and pkg-config file, the CLI
#   make deb        Debian packages: migsend-dkms, libmigsend1, libmigsend-dev,
#                   migsend (build/deb)
#   make dkms       the module built and installed with DKMS (build/dkms)
#
# The kernel module's own build is kbuild: Kbuild at the top lets
# `make -C <kernel build dir> M=$PWD` build kmod/migsend.ko (as DKMS does).

TOP := $(abspath .)
-include $(TOP)/build/kernels.mk
KVER ?= $(KVERS)

all: modules userspace tests

deps:
	scripts/install-deps.sh

ksrc:
	scripts/extract-ksrc.sh

modules:
	@test -n "$(KVER)" || { echo "no kernel known: run 'make deps' first" >&2; exit 1; }
	@for k in $(KVER); do echo "  MODULE  $$k"; scripts/build-module.sh $$k || exit 1; done

userspace:
	$(MAKE) -C userspace

tests: ksrc
	$(MAKE) -C tests install
	$(MAKE) -C tests/host all

# The commands README.md promises: each installs what is missing first.
check: deps
	$(MAKE) --no-print-directory check-stages

check-stages:
	KVER="$(KVER)" scripts/check.sh

demo: deps
	$(MAKE) --no-print-directory demo-run

demo-run: all
	KVER="$(KVER)" scripts/demo.sh qemu

# The simulated 1 GiB guest (a writer dirtying 20000 pages/s), as before.
demo-sim: deps
	$(MAKE) --no-print-directory all
	KVER="$(KVER)" scripts/demo.sh sim

# Benchmarks: the engines side by side in one VM boot (docs/BENCHMARKS.md).
bench: deps
	$(MAKE) --no-print-directory all
	scripts/bench.sh full

bench-quick: deps
	$(MAKE) --no-print-directory all
	scripts/bench.sh quick

# The sparse guest at 1, 4 and 16 GiB: cost against guest size.
bench-scale: deps
	$(MAKE) --no-print-directory all
	scripts/bench.sh scale

# The same QEMU guest migrated by QEMU (plain, multifd; 7.2 and 10.0 from
# bookworm-backports, unpacked) and by migsend, in one VM boot.
bench-qemu: deps
	$(MAKE) --no-print-directory all
	tests/qemu/run-compare.sh

# The module at REV against the working tree's, side by side in one boot.
bench-ab: deps
	$(MAKE) --no-print-directory all
	scripts/bench-ab.sh $(if $(REV),$(REV),$(error name the old module's commit: make bench-ab REV=...))

# Where the time of a full pass goes: perf in the VM (docs/BENCHMARKS.md).
profile: deps
	$(MAKE) --no-print-directory all
	scripts/profile.sh

# The VM suite on a debug kernel (KASAN, lockdep, kmemleak, UBSAN): slow.
check-debug: deps
	$(MAKE) --no-print-directory all
	scripts/check-debug.sh

# The long fuzz (100000 calls per thread) and soak (1000 migrations).
fuzz: deps
	$(MAKE) --no-print-directory all
	$(MAKE) -C tests/fuzz run FUZZ_RUNS=$${FUZZ_RUNS:-5000000}
	FUZZ_ITERATIONS=$${FUZZ_ITERATIONS:-100000} FUZZ_SEED=$${FUZZ_SEED:-1} \
		scripts/run-long.sh fuzz

soak: deps
	$(MAKE) --no-print-directory all
	SOAK_COUNT=$${SOAK_COUNT:-1000} scripts/run-long.sh soak

# The soak on the debug kernel, ending with a kmemleak scan (slow).
soak-debug: deps
	$(MAKE) --no-print-directory all
	SOAK_COUNT=$${SOAK_COUNT:-1000} MIGSEND_DEBUG=1 scripts/run-long.sh soak

# Debian packages (debhelper, dh-dkms) into build/deb, lintian-checked;
# the module through DKMS (add, build, install in a private tree) for each
# kernel, into build/dkms.
deb: deps
	scripts/build-deb.sh

dkms: deps
	scripts/dkms-build.sh --install

install: userspace
	$(MAKE) -C userspace install

clean:
	rm -rf build/*/src build/tests build/tests-install build/host-tests \
		build/userspace build/logs build/*/initramfs.*

.PHONY: all deps ksrc modules userspace tests check check-stages demo bench-ab \
	demo-run demo-sim bench bench-quick bench-scale bench-qemu profile check-debug fuzz soak soak-debug install clean deb dkms
