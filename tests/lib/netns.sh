# Shared by the shell tests and the demo: two network namespaces, mssrc
# (10.78.0.1) and msdst (10.78.0.2), joined by veth, inside the test VM.
IP=/usr/sbin/ip
[ -x $IP ] || IP=ip
MS_SRC_ADDR=10.78.0.1
MS_DST_ADDR=10.78.0.2

ms_netns_setup() {
	[ -e /run/netns/mssrc ] && return 0
	$IP netns add mssrc && $IP netns add msdst &&
		$IP link add msa netns mssrc type veth peer name msb netns msdst &&
		$IP -n mssrc addr add $MS_SRC_ADDR/24 dev msa &&
		$IP -n msdst addr add $MS_DST_ADDR/24 dev msb &&
		$IP -n mssrc link set msa up && $IP -n msdst link set msb up &&
		$IP -n mssrc link set lo up && $IP -n msdst link set lo up
}

ms_src() { $IP netns exec mssrc "$@"; }

# Until the receiver with pid $2 listens on TCP port $1 (10 s at most).
# Its /proc/PID/net/tcp shows its own namespace, so nothing has to enter
# msdst; until 'ip netns exec' has exec'd it shows the root namespace,
# where nothing listens on that port.  Start the receiver with
# '$IP netns exec msdst ... &' directly: a shell function's $! is a subshell's.
ms_wait_listening() {
	hex=$(printf ':%04X ' "$1")
	for _ in $(seq 100); do
		grep -q "$hex.* 0A " /proc/$2/net/tcp 2>/dev/null && return 0
		sleep 0.1
	done
	echo "# nothing listens on port $1"
	return 1
}

# Until the sender with pid $1 has a pass running, as netlink shows it
# (20 s at most).  $MS is the migsend CLI.
ms_wait_for_pass() {
	for _ in $(seq 200); do
		"$MS" stats 2>/dev/null | grep -q "pid $1: pass [0-9]* running" && return 0
		sleep 0.1
	done
	echo "# no pass of pid $1 seen running"
	return 1
}

# A migration that cannot converge (1 ms downtime, a fast writer) on port
# $1, with its first pass running: the receiver's pid in rpid, the
# sender's in spid, their output in $T.  Further arguments go to send.
# The receiver waits up to 5 minutes for the source: on the debug kernel
# filling the simulated guest alone takes most of a minute.
ms_start_endless_migration() {
	port=$1
	shift
	rm -f $T/*
	$IP netns exec msdst "$MS" recv --no-tls --listen $MS_DST_ADDR:$port --timeout 300 \
		>$T/recv.out 2>$T/recv.err &
	rpid=$!
	ms_wait_listening $port $rpid
	$IP netns exec mssrc "$MS" send --no-tls --to $MS_DST_ADDR:$port --zero-ratio 0 \
		--dirty-rate 20000 --max-passes 1000 --downtime-ms 1 --timeout 60 "$@" \
		>$T/send.out 2>$T/send.err &
	spid=$!
	ms_wait_for_pass $spid
}

# ----- kernel memory, for the leak checks ---------------------------------

# Shrink every slab cache first: this returns per-CPU partial slabs and,
# on the KASAN debug kernel, empties the quarantine that holds freed
# objects as if they were still in use.
ms_shrink_slabs() {
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
}

# Sessions the module holds: live objects of its session cache.
ms_sessions_alive() {
	ms_shrink_slabs
	n=$(awk '$1 == "migsend_session" { print $2; exit }' /proc/slabinfo)
	echo "${n:-0}"
}

# Kernel slab memory in kB.
ms_slab_kb() {
	ms_shrink_slabs
	sed -n 's/^Slab: *\([0-9]*\) kB/\1/p' /proc/meminfo
}
