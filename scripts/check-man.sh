#!/usr/bin/env bash
# The manual pages: each renders and passes `mandoc -T lint` (any warning
# fails), and scripts/check_man.py finds in them what the code has (the
# CLI's commands, options and exit codes; libmigsend.h's functions; the
# uapi's ioctls, structs and errnos).  Then the check is checked: pages
# with an option, a function and an errno taken out must each fail it.
#
#   scripts/check-man.sh [CLI]   (default build/userspace/migsend)
# TAP on stdout.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
man=$top/docs/man
work=$top/build/man-check
rm -rf "$work" && mkdir -p "$work/bin"
# A copy of the CLI (with the library its RUNPATH finds beside it), so
# that a rebuild meanwhile cannot change it under the check.
from=${1:-$top/build/userspace/migsend}
cp "$from" "$work/bin/migsend"
cp "$(dirname "$from")"/libmigsend.so.1 "$work/bin/" 2>/dev/null
cli=$work/bin/migsend
n=0 fails=0
result() { # result STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}

echo "TAP version 13"
for p in migsend.1 libmigsend.3 migsend.4; do
	out=$(mandoc -T lint -W warning "$man/$p" 2>&1)
	rc=$?
	[ -n "$out" ] && echo "$out" | sed 's/^/# /'
	result $rc "mandoc_lint_$p"
	mandoc -T utf8 "$man/$p" >"$work/$p.txt" 2>&1 && [ -s "$work/$p.txt" ]
	result $? "renders_$p"
done

# The real check; its own TAP lines are renumbered into ours.
"$top/scripts/check_man.py" --cli "$cli" >"$work/check.tap" 2>&1
while IFS= read -r line; do
	case $line in
	"ok "*) result 0 "${line#ok [0-9]* }" ;;
	"not ok "*) result 1 "${line#not ok [0-9]* }" ;;
	"#"*) echo "$line" ;;
	esac
done <"$work/check.tap"

# must_fail NAME PAGE PERL-EXPR: the pages, PAGE edited, must fail the check.
must_fail() {
	local d=$work/$1
	mkdir -p "$d" && cp "$man"/* "$d/"
	perl -0pi -e "$3" "$d/$2"
	if cmp -s "$d/$2" "$man/$2"; then result 1 "$1 (the edit changed nothing)"; return; fi
	! "$top/scripts/check_man.py" --cli "$cli" --man "$d" >/dev/null 2>&1
	result $? "$1"
}
must_fail undocumented_option_detected migsend.1 's/\.TP\n\.B \\-\\-prealloc\n[^.]*//'
must_fail undocumented_function_detected libmigsend.3 's/^\.B "int migsend_pass_wait\(.*\n//m'
must_fail undocumented_errno_detected migsend.4 's/\.TP\n\.B E2BIG\n//'
echo "# $n tests, $fails failed"
[ $fails -eq 0 ]
