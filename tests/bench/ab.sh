#!/bin/sh
# Inside the VM (make bench-ab): two builds of the module side by side in
# one boot.  Round by round, for each connection count, one pass with
# old.ko, one with new.ko and one of the userspace reference engine (the
# module loaded, unused), so that drift over the boot hits all three alike.
#   BENCH_AB_ROUNDS (3)   BENCH_CONNS (2 4)   BENCH_WORKLOADS (random)
#   BENCH_SIZE guest MiB (1024)   BENCH_AB_REFERENCE (user-sendfile)
# Prints one "AB module=old|new|ref round=N" line per pass: the BENCH
# line of migsend_bench after it.
here=$(cd "$(dirname "$0")" && pwd)
rounds=${BENCH_AB_ROUNDS:-3}
conns=${BENCH_CONNS:-"2 4"}
workloads=${BENCH_WORKLOADS:-random}
size=${BENCH_SIZE:-1024}
ref=${BENCH_AB_REFERENCE:-user-sendfile}

insmod "$here/new.ko" || exit 1
"$here/migsend_bench" --net-only || exit 1
rmmod migsend || exit 1
round=1
while [ "$round" -le "$rounds" ]; do
	for w in $workloads; do
		for c in $conns; do
			for m in old new ref; do
				engine=kernel ko=$m.ko
				[ "$m" = ref ] && engine=$ref ko=new.ko
				insmod "$here/$ko" || exit 1
				"$here/migsend_bench" --workload "$w" --size "$size" --runs 1 \
					--conns "$c" --engines "$engine" 2>&1 |
					sed -n "s/^BENCH /AB module=$m round=$round /p"
				rmmod migsend || exit 1
			done
		done
	done
	round=$((round + 1))
done
