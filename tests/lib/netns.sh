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
ms_dst() { $IP netns exec msdst "$@"; }
