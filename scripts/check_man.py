#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Check that the manual pages say what the code has.

  check_man.py --cli PATH [--top DIR] [--man DIR]

- migsend(1): the commands `migsend --help` lists are the page's COMMANDS
  subsections; each command's options in its --help (and in the help of
  a mode one of its options selects, e.g. `send --qemu-qmp X --help`) are
  the options its subsection documents (.TP entries); the exit status
  codes of the help are the page's EXIT STATUS entries.
- libmigsend(3): every function libmigsend.h declares is in its SYNOPSIS.
- migsend(4): every ioctl of uapi/linux/migsend.h, the struct it takes and
  every errno the header documents are in the page.
TAP on stdout; exit status 1 when any check fails.
"""
import argparse
import errno
import os
import re
import subprocess
import sys

OPT = r"--[a-z0-9][a-z0-9-]*"


def run_help(cli, args):
    r = subprocess.run([cli] + args + ["--help"], capture_output=True, text=True)
    return r.stdout + r.stderr


def help_options(text):
    """Options the help lists: in its usage line and starting an indented line."""
    opts = set()
    usage = text.split("\n\n", 1)[0]
    opts |= set(re.findall(OPT, usage))
    for line in text.splitlines():
        m = re.match(r"^\s+(" + OPT + ")", line)
        if m:
            opts.add(m.group(1))
    opts.discard("--help")
    return opts


def cli_commands(cli):
    text = run_help(cli, [])
    block = re.search(r"^commands:\n(.*?)\n\n", text, flags=re.S | re.M)
    return [line.split()[0] for line in block.group(1).splitlines() if line.strip()]


def cli_options(cli, cmd, candidates):
    """The command's options, and those of any mode an option selects.

    A mode (`send --qemu-qmp X`) has a help page of its own: every option
    the help mentions anywhere, and every option in @candidates (the
    page's), is tried as `CMD OPTION x --help`; a help that differs from
    the command's own is a mode's, and its options count too.
    """
    base = run_help(cli, [cmd])
    opts = help_options(base)
    for o in sorted(set(re.findall(OPT, base)) | set(candidates)):
        text = run_help(cli, [cmd, o, "x"])
        if text != base and "usage:" in text:
            opts |= help_options(text)
    return opts


def unescape(roff):
    return roff.replace("\\-", "-").replace("\\e", "\\")


def man_sections(path, level):
    """{title: body} of the page's .SH (level 'SH') or .SS sections."""
    text = open(path).read()
    parts = re.split(r"^\.(SH|SS) +(.*)$", text, flags=re.M)
    out = {}
    for i in range(1, len(parts) - 2, 3):
        if parts[i] == level:
            body = parts[i + 2]
            if level == "SS":
                body = re.split(r"^\.SH ", body, flags=re.M)[0]
            out[unescape(parts[i + 1]).strip('"')] = body
    return out


def man_tp_options(body):
    """Options that head a .TP entry."""
    opts = set()
    lines = body.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith(".TP"):
            m = re.match(r"^\.\w+ +(" + OPT + ")", unescape(lines[i + 1]))
            if m:
                opts.add(m.group(1))
    return opts


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, name, problems):
        self.n += 1
        if problems:
            self.failed += 1
            print(f"not ok {self.n} {name}")
            for p in problems:
                print(f"# {p}")
        else:
            print(f"ok {self.n} {name}")


def check_cli_page(tap, cli, page):
    commands = cli_commands(cli)
    sections = man_sections(page, "SS")
    tap.check("migsend.1_lists_every_command",
              [f"command {c}: no '.SS {c}' in {page}" for c in commands if c not in sections] +
              [f"'.SS {s}' in {page}: no such command" for s in sections if s not in commands])
    for c in commands:
        if c not in sections:
            continue
        doc = man_tp_options(sections[c])
        have = cli_options(cli, c, doc)
        tap.check(f"migsend.1_{c}_options_match_help",
                  [f"{c} {o}: in --help, not in the page" for o in sorted(have - doc)] +
                  [f"{c} {o}: in the page, not in --help" for o in sorted(doc - have)])
    text = run_help(cli, [])
    m = re.search(r"exit status:(.*?)(\n\n|$)", text, flags=re.S)
    help_codes = set(re.findall(r"(\d+) [a-z]", m.group(1))) if m else set()
    body = man_sections(page, "SH").get("EXIT STATUS", "")
    page_codes = set(re.findall(r"^\.TP\n\.B (\d+)$", body, flags=re.M))
    tap.check("migsend.1_exit_status_matches_help",
              ([] if help_codes else ["no exit status in migsend --help"]) +
              [f"exit status {c}: in --help, not in the page" for c in sorted(help_codes - page_codes)] +
              [f"exit status {c}: in the page, not in --help" for c in sorted(page_codes - help_codes)])


def check_lib_page(tap, header, page):
    text = re.sub(r"/\*.*?\*/", " ", open(header).read(), flags=re.S)
    funcs = set(re.findall(r"^[a-z][\w \*]*?\b(migsend_\w+)\(", text, flags=re.M))
    synopsis = unescape(man_sections(page, "SH").get("SYNOPSIS", ""))
    tap.check("libmigsend.3_synopsis_has_every_function",
              ([] if funcs else [f"no function found in {header}"]) +
              [f"{f}() is in {os.path.basename(header)}, not in the SYNOPSIS"
               for f in sorted(funcs) if not re.search(r"\b" + f + r"\(", synopsis)])


def check_dev_page(tap, uapi, page):
    text = open(uapi).read()
    ioctls = dict(re.findall(r"^#define\s+(MIGSEND_IOC_\w+)\s+_IO\w*\([^)]*?(?:,\s*(struct \w+))?\)",
                             text, flags=re.M))
    ioctls.pop("MIGSEND_IOC_MAGIC", None)
    man = unescape(open(page).read())
    problems = []
    for name, struct in sorted(ioctls.items()):
        if name not in man:
            problems.append(f"{name} is not in the page")
        if struct and struct not in man:
            problems.append(f"{struct} (of {name}) is not in the page")
    tap.check("migsend.4_has_every_ioctl_and_struct",
              ([] if ioctls else [f"no ioctl found in {uapi}"]) + problems)
    ioctl_part = text.split("Wire format")[0]
    errnos = set(re.findall(r"\b(E[A-Z0-9]{2,})\b", ioctl_part))
    errnos &= set(errno.errorcode.values())
    tap.check("migsend.4_has_every_errno",
              [f"{e} (in the uapi's ioctl comments) is not in the page"
               for e in sorted(errnos) if not re.search(r"\b" + e + r"\b", man)])


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--cli", required=True)
    p.add_argument("--top", default=top)
    p.add_argument("--man", help="the pages' folder (default: TOP/docs/man)")
    a = p.parse_args()
    man = a.man or os.path.join(a.top, "docs/man")
    tap = Tap()
    print("TAP version 13")
    check_cli_page(tap, a.cli, os.path.join(man, "migsend.1"))
    check_lib_page(tap, os.path.join(a.top, "userspace/lib/libmigsend.h"),
                   os.path.join(man, "libmigsend.3"))
    check_dev_page(tap, os.path.join(a.top, "uapi/linux/migsend.h"),
                   os.path.join(man, "migsend.4"))
    print(f"1..{tap.n}")
    sys.exit(1 if tap.failed else 0)


if __name__ == "__main__":
    main()
