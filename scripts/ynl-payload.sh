#!/usr/bin/env bash
# Put the kernel's YNL command-line tool, with a Python to run it, into a
# test VM payload:
#
#   scripts/ynl-payload.sh PAYLOAD-DIR
#
# makes PAYLOAD-DIR/ynl/ with
#   py/bin/python3.11       Debian's interpreter (tests/vm/run.sh copies its
#                           shared libraries, as for any executable)
#   py/lib/python3.11/      the part of its standard library YNL uses
#   site/yaml/              PyYAML
#   tools/net/ynl/          cli.py and its library, from linux-source-6.12
#   migsend.yaml            docs/netlink/specs/migsend.yaml
#   run-ynl                 runs cli.py with that Python and nothing else
# and copies scripts/guest/ynl_test.sh into PAYLOAD-DIR.
#
# Which modules YNL needs is not guessed: cli.py is run here on the host,
# against genetlink's own control family (a dump and a subscription) and
# against the migsend spec, under a tracer that records every module
# loaded.  Those files (and their compiled .pyc) are copied.  Then the
# copy is run the same way with PYTHONHOME pointing at it and no site
# directory, so that nothing of the host's Python can fill a gap: what
# works here works in the VM.  About 4 MB.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
payload=${1:?usage: ynl-payload.sh PAYLOAD-DIR}
py=/usr/bin/python3.11
site=/usr/lib/python3/dist-packages
stdlib=/usr/lib/python3.11
[ -x $py ] || { echo "ynl-payload: $py is missing (run scripts/install-deps.sh)" >&2; exit 1; }
"$top/scripts/extract-ynl.sh"
ynl=$top/build/ynl
dst=$payload/ynl
rm -rf "$dst"
mkdir -p "$dst/py/bin" "$dst/py/lib/python3.11" "$dst/site" "$dst/tools/net/ynl/lib"
cp "$ynl"/tools/net/ynl/cli.py "$dst/tools/net/ynl/"
cp "$ynl"/tools/net/ynl/lib/*.py "$dst/tools/net/ynl/lib/"
cp "$top/docs/netlink/specs/migsend.yaml" "$dst/migsend.yaml"
nlctrl=$ynl/Documentation/netlink/specs/nlctrl.yaml

# The tracer: run cli.py with the given arguments, then list the files of
# every module loaded, whatever the outcome.
trace=$(mktemp)
tracer=$(mktemp --suffix=.py)
trap 'rm -f "$trace" "$tracer"' EXIT
cat >"$tracer" <<'PY'
import atexit, runpy, sys
out, cli = sys.argv[1], sys.argv[2]
def record():
    with open(out, "a") as f:
        for m in list(sys.modules.values()):
            path = getattr(m, "__file__", None)
            if path:
                f.write(path + "\n")
atexit.register(record)
sys.argv = [cli] + sys.argv[3:]
sys.path.insert(0, __import__("os").path.dirname(cli))
runpy.run_path(cli, run_name="__main__")
PY
cli=$ynl/tools/net/ynl/cli.py
run_traced() { PYTHONPATH=$site $py -S "$tracer" "$trace" "$cli" --no-schema "$@" >/dev/null 2>&1 || true; }
run_traced --spec "$nlctrl" --dump getfamily --output-json
run_traced --spec "$nlctrl" --subscribe notify --sleep 1 --output-json
run_traced --spec "$nlctrl" --dump getfamily
run_traced --spec "$dst/migsend.yaml" --list-ops
# A failure's traceback, and the UTF-8 codec the guest's C locale uses.
for m in traceback linecache tokenize token encodings/utf_8 encodings/aliases encodings/latin_1 encodings/ascii; do
	[ -e "$stdlib/$m.py" ] && echo "$stdlib/$m.py" >>"$trace"
done

copy_module() { # copy_module FILE DEST-ROOT REL
	local f=$1 root=$2 rel=$3 base pyc
	mkdir -p "$root/$(dirname "$rel")"
	cp -p "$f" "$root/$rel"
	case $f in
	*.py)
		base=$(basename "$f" .py)
		pyc=$(dirname "$f")/__pycache__/$base.cpython-311.pyc
		if [ -e "$pyc" ]; then
			mkdir -p "$root/$(dirname "$rel")/__pycache__"
			cp -p "$pyc" "$root/$(dirname "$rel")/__pycache__/"
		fi
		;;
	*.so) chmod 0755 "$root/$rel" ;; # so that run.sh copies its libraries
	esac
}
n=0
while read -r f; do
	case $f in
	"$stdlib"/*) copy_module "$f" "$dst/py/lib/python3.11" "${f#"$stdlib"/}" ;;
	"$site"/*) copy_module "$f" "$dst/site" "${f#"$site"/}" ;;
	*) continue ;;
	esac
	n=$((n + 1))
done < <(sort -u "$trace")
cp $py "$dst/py/bin/python3.11"

cat >"$dst/run-ynl" <<'SH'
#!/bin/sh
# The kernel's YNL CLI with the Python beside it, nothing of the system's:
#   run-ynl [cli.py arguments]   (--spec defaults to the migsend spec)
d=$(cd "$(dirname "$0")" && pwd)
case " $* " in
*" --spec "*) ;;
*) set -- --spec "$d/migsend.yaml" "$@" ;;
esac
PYTHONHOME=$d/py PYTHONPATH=$d/site PYTHONDONTWRITEBYTECODE=1 \
	exec "$d/py/bin/python3.11" -S "$d/tools/net/ynl/cli.py" --no-schema "$@"
SH
chmod 0755 "$dst/run-ynl"
install -m 0755 "$top/scripts/guest/ynl_test.sh" "$payload/"

# The copy alone must run YNL: a dump and a subscription of nlctrl.
if ! out=$("$dst/run-ynl" --spec "$nlctrl" --dump getfamily --output-json 2>&1) ||
	! grep -q '"family-name": "nlctrl"' <<<"$out"; then
	echo "ynl-payload: the copied Python cannot run YNL:" >&2
	echo "$out" | tail -5 >&2
	exit 1
fi
"$dst/run-ynl" --spec "$nlctrl" --subscribe notify --sleep 0 >/dev/null
echo "ynl-payload: $n modules, $(du -sh "$dst" | cut -f1) in ${dst#"$top"/}"
