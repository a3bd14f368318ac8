# SPDX-License-Identifier: GPL-2.0
# Shared by the QEMU tests and the comparison: start a source and a
# destination QEMU running the test guest (msguest.elf) in the network
# namespaces of ../netns.sh, talk to them over QMP (msqmp), read the
# guest's verdict.  docs/QEMU.md describes the command lines and the guest.
#
# Per side (src runs in netns mssrc, dst in msdst), all under $T:
#   $T/SIDE.con      the guest's debugcon output (its report lines)
#   $T/SIDE.cmd.in   bytes for the guest's COM1 ('V': verify now)
#   $T/SIDE.qmp      QMP for the harness's commands
#   $T/SIDE-ms.qmp   QMP left free for migsend (--qemu-qmp)
#   $T/SIDE.events   every QMP event, one JSON line each, with timestamps
#   $T/SIDE.pid      QEMU's pid;  $T/SIDE.err  QEMU's own stderr
# RAM files: $RAMDIR/ms-SIDE-ramN (/dev/shm, or /dev/hugepages for huge).

QDIR=${QDIR:-$(cd "$(dirname "$0")" && pwd)}
. "$QDIR/../netns.sh"
MSQMP=$QDIR/msqmp
MSRAM=$QDIR/msram
GUEST=$QDIR/msguest.elf
# QEMU_BIN picks another QEMU (the comparison runs 10.0 from its own tree).
QEMU=${QEMU_BIN:-/usr/bin/qemu-system-x86_64}
T=${T:-/tmp/msq}
# Guest size and behaviour: Q_MEM MiB of RAM; Q_RATE pages/s rewritten;
# Q_VERIFY pages/s reread; Q_FILL MiB owned (0: all).
: "${Q_MEM:=64}" "${Q_RATE:=1000}" "${Q_VERIFY:=2000}" "${Q_FILL:=0}"
# Q_LAYOUT: file (one backend on /dev/shm), memfd, huge (hugetlbfs),
# two (two backends, one per NUMA node).
: "${Q_LAYOUT:=file}"

# Milliseconds since boot.  /proc/uptime has two decimals; "1" before
# them keeps "08" from being read as an octal number.
q_now_ms() {
	local up
	read -r up _ </proc/uptime
	echo $((${up%.*} * 1000 + 10 * 1${up#*.} - 1000))
}

q_ramdir() { [ "$Q_LAYOUT" = huge ] && echo /dev/hugepages || echo /dev/shm; }

# The RAM files of SIDE, one per line (none for memfd).
q_ram_files() {
	case $Q_LAYOUT in
	memfd) ;;
	two) echo "$(q_ramdir)/ms-$1-ram0"; echo "$(q_ramdir)/ms-$1-ram1" ;;
	*) echo "$(q_ramdir)/ms-$1-ram0" ;;
	esac
}

# The memory options for SIDE: shared backends only, so that
# x-ignore-shared leaves all guest RAM to whatever else carries it.
q_memory_args() {
	local side=$1 dir half
	dir=$(q_ramdir)
	case $Q_LAYOUT in
	memfd)
		echo "-m ${Q_MEM}M -machine pc,memory-backend=ram0" \
			"-object memory-backend-memfd,id=ram0,size=${Q_MEM}M,share=on" ;;
	two)
		half=$((Q_MEM / 2))
		echo "-m ${Q_MEM}M -machine pc" \
			"-object memory-backend-file,id=ram0,size=${half}M,mem-path=$dir/ms-$side-ram0,share=on" \
			"-object memory-backend-file,id=ram1,size=${half}M,mem-path=$dir/ms-$side-ram1,share=on" \
			"-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1,memdev=ram1" ;;
	*)
		echo "-m ${Q_MEM}M -machine pc,memory-backend=ram0" \
			"-object memory-backend-file,id=ram0,size=${Q_MEM}M,mem-path=$dir/ms-$side-ram0,share=on" ;;
	esac
}

# Start QEMU for SIDE (src or dst) with the guest and wait until it
# answers on QMP (then its RAM files exist); further arguments go to QEMU
# (the destination gets "-incoming defer", and "-S" where only a later
# 'cont' may run it).  Starts the event logger too.
q_start() {
	q_launch "$@" && q_wait_qmp "$1"
}

q_wait_qmp() {
	"$MSQMP" --timeout 30 "$T/$1.qmp" '{"execute":"query-status"}' >/dev/null
}

# q_start without the wait.
q_launch() {
	local side=$1 ns=mssrc
	shift
	[ "$side" = dst ] && ns=msdst
	rm -f "$T/$side".* "$T/$side"-* $(q_ram_files "$side")
	mkfifo "$T/$side.cmd.in" "$T/$side.cmd.out"
	# QEMU opens both fifos read-write; the guest never writes to COM1,
	# but keep a reader so that nothing can ever block on it.
	cat "$T/$side.cmd.out" >/dev/null 2>&1 &
	echo $! >"$T/$side.catpid"
	# shellcheck disable=SC2046 # word splitting of the option lists is wanted
	$IP netns exec $ns "$QEMU" -nodefaults -no-user-config -display none \
		-accel tcg,tb-size=64 -smp 1 $(q_memory_args "$side") \
		-bios qboot.rom -kernel "$GUEST" \
		-append "rate=$Q_RATE verify=$Q_VERIFY fill=$Q_FILL progress=2000" \
		-chardev file,id=con,path="$T/$side.con" \
		-device isa-debugcon,chardev=con,iobase=0xe9 \
		-chardev pipe,id=cmd,path="$T/$side.cmd" -serial chardev:cmd \
		-qmp unix:"$T/$side.qmp",server=on,wait=off \
		-qmp unix:"$T/$side-ev.qmp",server=on,wait=off \
		-qmp unix:"$T/$side-ms.qmp",server=on,wait=off \
		"$@" 2>"$T/$side.err" &
	echo $! >"$T/$side.pid"
	"$MSQMP" --events "$T/$side-ev.qmp" >"$T/$side.events" 2>/dev/null &
	echo $! >"$T/$side.evpid"
}

q_pid() { cat "$T/$1.pid" 2>/dev/null; }
q_alive() { kill -0 "$(q_pid "$1")" 2>/dev/null; }

# Stop SIDE's QEMU and its helpers (any that are left).
q_kill() {
	local f p
	for f in pid evpid catpid; do
		p=$(cat "$T/$1.$f" 2>/dev/null) || continue
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -f "$T/$1.pid" "$T/$1.evpid" "$T/$1.catpid"
}

q_cleanup() {
	q_kill src
	q_kill dst
	rm -f $(q_ram_files src) $(q_ram_files dst)
}

# One or more QMP commands to SIDE; answers on stdout.
q_cmd() {
	local side=$1
	shift
	"$MSQMP" "$T/$side.qmp" "$@"
}

# Wait until SIDE's guest printed a line matching the ERE, at most $3 s.
q_wait_line() {
	local n=$(($3 * 10))
	while [ $n -gt 0 ]; do
		grep -qE "$2" "$T/$1.con" 2>/dev/null && return 0
		q_alive "$1" || break
		sleep 0.1
		n=$((n - 1))
	done
	echo "# $1: no line matching '$2' within $3 s"
	return 1
}

# Boot the source guest and wait until it owns and filled its RAM.  With
# arguments, start the destination QEMU with them meanwhile.
q_boot_src() {
	local t0 t_qmp t_entry
	t0=$(q_now_ms)
	q_launch src
	[ $# -gt 0 ] && q_launch dst "$@"
	q_wait_qmp src || return 1
	t_qmp=$(($(q_now_ms) - t0))
	if [ $# -gt 0 ]; then
		q_wait_qmp dst || return 1
	fi
	q_wait_line src '^MSGUEST boot' 60 || return 1
	t_entry=$(($(q_now_ms) - t0))
	q_wait_line src '^MSGUEST READY' 120 || return 1
	Q_BOOT_MS=$(($(q_now_ms) - t0))
	echo "# source QMP up after $t_qmp ms, guest entered after $t_entry ms, ready after $Q_BOOT_MS ms:"
	echo "#   $(grep '^MSGUEST READY' "$T/src.con")"
}

# A byte for SIDE's guest on its COM1.  Opened read-write: a FIFO whose
# QEMU is gone would block a plain open for writing forever.
q_send_key() { printf '%s' "$2" 1<>"$T/$1.cmd.in"; }

# Ask SIDE's guest to check every page now; prints its verdict line,
# succeeds on "VERIFY OK".  $2: seconds to wait (default 120).
q_verify() {
	local before now n
	before=$(grep -c '^VERIFY \(OK\|FAIL [0-9]* of\)' "$T/$1.con" 2>/dev/null)
	q_send_key "$1" V
	n=$((${2:-120} * 10))
	while [ $n -gt 0 ]; do
		now=$(grep -c '^VERIFY \(OK\|FAIL [0-9]* of\)' "$T/$1.con")
		[ "$now" -gt "$before" ] && break
		q_alive "$1" || { n=0; break; }
		sleep 0.1
		n=$((n - 1))
	done
	Q_VERDICT=$(grep '^VERIFY \(OK\|FAIL [0-9]* of\)' "$T/$1.con" | tail -1)
	echo "# $1 guest: ${Q_VERDICT:-no verdict}"
	[ $n -gt 0 ] && case $Q_VERDICT in "VERIFY OK"*) true ;; *) false ;; esac
}

# The guest's sequence number now: it answers 'P' with a PROGRESS line
# (empty if it does not within 10 s).
q_guest_seq() {
	local n i=100
	n=$(grep -c '^PROGRESS' "$T/$1.con")
	q_send_key "$1" P
	while [ "$(grep -c '^PROGRESS' "$T/$1.con")" -le "$n" ]; do
		i=$((i - 1))
		[ $i -gt 0 ] || return 1
		sleep 0.1
	done
	grep '^PROGRESS' "$T/$1.con" | tail -1 | sed 's/.* seq=\([0-9]*\).*/\1/'
}

# Until SIDE's guest sequence number is above $2 (10 s at most): the
# guest has finished a round of writes since.
q_wait_seq_above() {
	local i=50 s
	while [ $i -gt 0 ]; do
		s=$(q_guest_seq "$1") && [ "$s" -gt "$2" ] && return 0
		sleep 0.2
		i=$((i - 1))
	done
	return 1
}

# The value of "status" in SIDE's query-migrate.
q_migration_status() {
	q_cmd "$1" '{"execute":"query-migrate"}' 2>/dev/null |
		sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p'
}

# Wait until SIDE's migration status is one of the ERE $2, at most $3 s.
q_wait_status() {
	local n=$(($3 * 10)) s
	while [ $n -gt 0 ]; do
		s=$(q_migration_status "$1")
		echo "$s" | grep -qE "^($2)\$" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	echo "# $1: migration status '$s', not $2, after $3 s"
	return 1
}

# The run state of SIDE (running, paused, inmigrate, postmigrate, ...).
q_run_state() {
	q_cmd "$1" '{"execute":"query-status"}' 2>/dev/null |
		sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p'
}

# The timestamp, in microseconds, of the last event $2 of SIDE.
q_event_us() {
	grep "\"event\": *\"$2\"" "$T/$1.events" 2>/dev/null | tail -1 |
		sed -n 's/.*"seconds": *\([0-9]*\), *"microseconds": *\([0-9]*\).*/\1 \2/p' |
		{ read -r s us && echo $((s * 1000000 + us)); }
}

# Downtime as the guest sees it: source STOP to destination RESUME, ms
# with 3 decimals.
q_downtime_ms() {
	local stop resume d
	stop=$(q_event_us src STOP) resume=$(q_event_us dst RESUME)
	[ -n "$stop" ] && [ -n "$resume" ] || { echo "?"; return 1; }
	d=$((resume - stop))
	printf '%d.%03d\n' $((d / 1000)) $((d % 1000))
}

# Capabilities on SIDE: q_caps SIDE NAME=true|false ...
q_caps() {
	local side=$1 caps= c
	shift
	for c in "$@"; do
		caps="$caps${caps:+,}{\"capability\":\"${c%=*}\",\"state\":${c#*=}}"
	done
	q_cmd "$side" "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":[$caps]}}" >/dev/null
}

# Parameters on SIDE: q_params SIDE '"multifd-channels":4,...'
q_params() {
	q_cmd "$1" "{\"execute\":\"migrate-set-parameters\",\"arguments\":{$2}}" >/dev/null
}

# QEMU's own migration from src to dst over TCP port $1 (dst started
# with -incoming defer); waits for the end; 0 when it completed.
q_qemu_migrate() {
	q_cmd dst "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:$MS_DST_ADDR:$1\"}}" >/dev/null || return 1
	q_cmd src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:$MS_DST_ADDR:$1\"}}" >/dev/null || return 1
	q_wait_status src 'completed|failed|cancelled' "${2:-300}" || return 1
	[ "$(q_migration_status src)" = completed ]
}

# Bytes sent by the source namespace's veth so far.
q_tx_bytes() {
	$IP -n mssrc -s link show msa | awk '/TX:/ { getline; print $1; exit }'
}

# ----- migsend ------------------------------------------------------------
# $MS is the migsend CLI; Q_TLS its TLS options for both sides (default
# --no-tls; e.g. "--tls-creds DIR" with a directory gencerts.sh made).

# migsend recv for the destination QEMU on port $1, in msdst, in the
# background (pid in Q_RPID); further arguments go to recv.  Its output
# in $T/recv.out (JSON) and $T/recv.err.
q_ms_recv() {
	local port=$1
	shift
	$IP netns exec msdst "$MS" recv ${Q_TLS:---no-tls} --listen "$MS_DST_ADDR:$port" \
		--qemu-qmp "$T/dst-ms.qmp" --json "$@" >"$T/recv.out" 2>"$T/recv.err" &
	Q_RPID=$!
	ms_wait_listening "$port" $Q_RPID
}

# migsend send from the source QEMU to port $1, in mssrc; further
# arguments go to send.  Its output in $T/send.out (JSON) and
# $T/send.err; with Q_BG=1 in the background (pid in Q_SPID), else its
# exit status in Q_SRC_RC.
q_ms_send() {
	local port=$1
	shift
	if [ "${Q_BG:-0}" = 1 ]; then
		$IP netns exec mssrc "$MS" send ${Q_TLS:---no-tls} --qemu-qmp "$T/src-ms.qmp" \
			--to "$MS_DST_ADDR:$port" --json "$@" >"$T/send.out" 2>"$T/send.err" &
		Q_SPID=$!
		return 0
	fi
	$IP netns exec mssrc "$MS" send ${Q_TLS:---no-tls} --qemu-qmp "$T/src-ms.qmp" \
		--to "$MS_DST_ADDR:$port" --json "$@" >"$T/send.out" 2>"$T/send.err"
	Q_SRC_RC=$?
}

# The value of key $2 (a string or a number) in the JSON of file $1.
q_json() {
	sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$1" | head -1
}

# One line on what send and recv said.
q_ms_summary() {
	echo "# send: outcome $(q_json "$T/send.out" outcome), engine $(q_json "$T/send.out" engine)," \
		"$(grep -o '"pass":' "$T/send.out" | wc -l) passes, wire $(q_json "$T/send.out" wire_bytes) B," \
		"guest downtime $(q_json "$T/send.out" guest_downtime_ms) ms (QMP events: $(q_downtime_ms) ms)," \
		"total $(q_json "$T/send.out" total_seconds) s; recv: outcome $(q_json "$T/recv.out" outcome)"
}
