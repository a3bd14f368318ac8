#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Check that the YNL spec of the migsend genetlink family and the uapi
header agree, with the kernel's own generator.

ynl-gen-c.py (from build/ynl, scripts/extract-ynl.sh) validates the spec
against the kernel's genetlink-c schema and renders the uapi header the
spec describes.  Then every enum and define of that rendering must be in
uapi/linux/migsend.h with the same value (both headers are compiled and
their values printed), and each of those enums in uapi/linux/migsend.h,
and every MIGSEND_GENL_* define, must have nothing the spec lacks.

  check_ynl_spec.py [--spec FILE] [--uapi FILE] [--ynl DIR] [--work DIR]

Exit status 0 when they agree; 1 with the differences on stderr.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# YNL numbers operations from 1: the uapi's reserved command 0 has no
# counterpart in a spec.
UAPI_ONLY = {"MIGSEND_CMD_UNSPEC": 0}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_header(text):
    """Enums (name -> list of enumerators) and defines (name -> text)."""
    text = strip_comments(text)
    enums = {}
    for m in re.finditer(r"\benum\s+(\w+)\s*\{(.*?)\}", text, flags=re.S):
        names = []
        for item in m.group(2).split(","):
            ident = re.match(r"\s*([A-Za-z_]\w*)", item)
            if ident:
                names.append(ident.group(1))
        enums[m.group(1)] = names
    defines = {}
    for m in re.finditer(r"^\s*#\s*define\s+(\w+)[ \t]+([^\n]+)$", text, flags=re.M):
        defines[m.group(1)] = m.group(2).strip()
    return enums, defines


def render_spec(args):
    """The uapi header ynl-gen-c.py renders from the spec."""
    specs = os.path.join(args.ynl, "Documentation/netlink/specs")
    os.makedirs(specs, exist_ok=True)
    staged = os.path.join(specs, "migsend.yaml")
    shutil.copyfile(args.spec, staged)
    out = os.path.join(args.work, "migsend-ynl-gen.h")
    gen = os.path.join(args.ynl, "tools/net/ynl/ynl-gen-c.py")
    run = subprocess.run([sys.executable, gen, "--mode", "uapi", "--header",
                          "--spec", staged, "-o", out],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(f"ynl-gen-c.py rejects {args.spec}:\n{run.stdout}{run.stderr}")
        return None
    return out


def print_values(args, header, include_dirs, names, strings, tag):
    """Compile a program that includes @header and prints each name's value."""
    src = os.path.join(args.work, f"values-{tag}.c")
    exe = os.path.join(args.work, f"values-{tag}")
    with open(src, "w") as f:
        f.write("#include <stdio.h>\n")
        f.write(f'#include "{os.path.abspath(header)}"\n')
        f.write("int main(void)\n{\n")
        for n in sorted(names):
            if n in strings:
                f.write(f'\tprintf("%s \\"%s\\"\\n", "{n}", {n});\n')
            else:
                f.write(f'\tprintf("%s %lld\\n", "{n}", (long long)({n}));\n')
        f.write("\treturn 0;\n}\n")
    cmd = ["cc", "-std=c11", "-Wall", "-Werror"]
    cmd += [f"-I{d}" for d in include_dirs] + ["-o", exe, src]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(f"cannot compile the values of {header}:\n{run.stderr}")
        return None
    out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def compare(args, gen_path):
    errors = []
    with open(gen_path) as f:
        gen_enums, gen_defines = parse_header(f.read())
    with open(args.uapi) as f:
        uapi_enums, uapi_defines = parse_header(f.read())

    for enum, names in gen_enums.items():
        if enum not in uapi_enums:
            errors.append(f"enum {enum} of the spec is not in {args.uapi}")
            continue
        extra = set(uapi_enums[enum]) - set(names) - set(UAPI_ONLY)
        missing = set(names) - set(uapi_enums[enum])
        for n in sorted(missing):
            errors.append(f"enum {enum}: {n} is in the spec, not in the uapi")
        for n in sorted(extra):
            errors.append(f"enum {enum}: {n} is in the uapi, not in the spec")
    for n in sorted(gen_defines):
        if n not in uapi_defines:
            errors.append(f"#define {n} is in the spec, not in the uapi")
    for n in sorted(uapi_defines):
        if n.startswith("MIGSEND_GENL_") and n not in gen_defines:
            errors.append(f"#define {n} is in the uapi, not in the spec")
    if errors:
        return errors

    names = {n for ns in gen_enums.values() for n in ns} | set(gen_defines)
    strings = {n for n, v in gen_defines.items() if v.startswith('"')}
    gen_vals = print_values(args, gen_path, [], names, strings, "spec")
    uapi_vals = print_values(args, args.uapi, [], names | set(UAPI_ONLY),
                             strings, "uapi")
    if gen_vals is None or uapi_vals is None:
        return ["cannot compare the values"]
    for n in sorted(names):
        if gen_vals[n] != uapi_vals[n]:
            errors.append(f"{n} is {gen_vals[n]} in the spec, {uapi_vals[n]} in the uapi")
    for n, v in UAPI_ONLY.items():
        if uapi_vals[n] != str(v):
            errors.append(f"{n} is {uapi_vals[n]} in the uapi, must be {v}")
    if not errors:
        print(f"spec and uapi agree: {len(gen_enums)} enums, {len(names)} constants")
    return errors


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", default=os.path.join(TOP, "docs/netlink/specs/migsend.yaml"))
    p.add_argument("--uapi", default=os.path.join(TOP, "uapi/linux/migsend.h"))
    p.add_argument("--ynl", default=os.path.join(TOP, "build/ynl"))
    p.add_argument("--work", default=os.path.join(TOP, "build/ynl-check"))
    args = p.parse_args()
    if not os.path.exists(os.path.join(args.ynl, "tools/net/ynl/ynl-gen-c.py")):
        sys.exit(f"no YNL tool in {args.ynl}: run scripts/extract-ynl.sh")
    os.makedirs(args.work, exist_ok=True)
    gen = render_spec(args)
    if gen is None:
        sys.exit(1)
    errors = compare(args, gen)
    for e in errors:
        sys.stderr.write(f"spec/uapi drift: {e}\n")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
