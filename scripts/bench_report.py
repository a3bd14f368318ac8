#!/usr/bin/env python3
"""Turn a benchmark VM log (BENCH/CEILING/BENCH-INFO lines) and the host
microbenchmark output (MICRO lines) into results.

  bench_report.py quick LOG MICRO        print a summary, then as the last
                                         line one JSON object
  bench_report.py scale LOG MICRO        print the sparse guest's tables
  bench_report.py full LOG MICRO DOC PNG rewrite the results section of DOC
                                         (between its bench markers) and
                                         plot throughput against connections
"""
import json
import re
import statistics
import subprocess
import sys

ENGINES = ["kernel", "kernel-dense", "user-copy", "user-zc", "user-sendfile"]
WORKLOADS = ["random", "half-zero", "holes", "zero", "scattered",
             "random-no-prealloc",
             "sparse 1 GiB", "sparse 4 GiB", "sparse 16 GiB"]
GIB = 1 << 30


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def parse(log, micro):
    runs, ceil, info, micros = {}, {}, {}, {}
    for line in open(log, errors="replace"):
        line = line.strip()
        if line.startswith("BENCH "):
            f = fields(line)
            guest, wire = int(f["guest_bytes"]), int(f["wire_bytes"])
            workload = f["workload"]
            if workload == "sparse":    # one table per guest size
                workload = f"sparse {guest >> 30} GiB"
            key = (workload, f["engine"], int(f["conns"]))
            secs = float(f["secs"])
            runs.setdefault(key, []).append({
                "guest_bps": guest / secs, "wire_bps": wire / secs, "secs": secs,
                "cpu_per_gib": float(f["sender_cpu_s"]) / (guest / GIB) if guest else 0,
                "rx_cpu": float(f["receiver_cpu_s"]), "shmem": int(f["shmem_growth"]),
                "wire_ratio": wire / guest if guest else 0,
                "kmem": int(f.get("kernel_mem_growth", 0)),
            })
        elif line.startswith("CEILING "):
            f = fields(line)
            ceil.setdefault(int(f["conns"]), []).append(float(f["bits_per_second"]) / 8)
        elif line.startswith("BENCH-INFO "):
            info = fields(line)
    for line in open(micro):
        if line.startswith("MICRO "):
            f = fields(line)
            micros[f["name"]] = float(f["gb_per_s"])
    return runs, ceil, info, micros


def med(values):
    return statistics.median(values) if values else 0.0


def stat(rs, key):
    v = [r[key] for r in rs]
    return med(v), min(v), max(v)


def mbps(x):
    return x / 1e6


def quick(runs, ceil, micros):
    out = {"random": {}, "scattered": {}, "cpu_s_per_gib": {"random": {}, "scattered": {}}}
    for w in ("random", "scattered"):
        for e in ENGINES:
            rs = runs.get((w, e, 2))
            if not rs:
                continue
            out[w][e] = round(stat(rs, "guest_bps")[0])
            out["cpu_s_per_gib"][w][e] = round(stat(rs, "cpu_per_gib")[0], 3)
            print(f"{w:10} {e:14} {mbps(out[w][e]):8.1f} MB/s guest, "
                  f"{out['cpu_s_per_gib'][w][e]:6.3f} CPU s/GiB "
                  f"(min {mbps(stat(rs, 'guest_bps')[1]):.1f}, max {mbps(stat(rs, 'guest_bps')[2]):.1f})")
    out["random"]["ceiling"] = round(med(ceil.get(2, [])))
    print(f"{'random':10} {'ceiling':14} {mbps(out['random']['ceiling']):8.1f} MB/s (2 iperf3 -Z processes, summed)")
    for name, v in micros.items():
        print(f"micro {name}: {v:.2f} GB/s")
    print(json.dumps(out, separators=(",", ":")))


def table(runs, ceil, workload):
    rows = ["| engine | conns | guest MB/s (min–max) | wire MB/s | pass s | sender CPU s/GiB | receiver CPU s | wire/guest | sender shmem growth | kernel memory growth |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in sorted({k[2] for k in runs if k[0] == workload}):
        for e in ENGINES:
            rs = runs.get((workload, e, c))
            if not rs:
                continue
            g, gmin, gmax = stat(rs, "guest_bps")
            rows.append(f"| {e} | {c} | {mbps(g):.1f} ({mbps(gmin):.1f}–{mbps(gmax):.1f}) | "
                        f"{mbps(stat(rs, 'wire_bps')[0]):.1f} | {stat(rs, 'secs')[0]:.3f} | "
                        f"{stat(rs, 'cpu_per_gib')[0]:.3f} | {stat(rs, 'rx_cpu')[0]:.2f} | "
                        f"{100 * stat(rs, 'wire_ratio')[0]:.2f} % | "
                        f"{stat(rs, 'shmem')[0] / (1 << 20):.0f} MiB | "
                        f"{stat(rs, 'kmem')[0] / (1 << 10):.0f} KiB |")
        if c in ceil:
            rows.append(f"| N x iperf3 -Z (ceiling) | {c} | {mbps(med(ceil[c])):.1f} "
                        f"({mbps(min(ceil[c])):.1f}–{mbps(max(ceil[c])):.1f}) | | | | | | | |")
    return "\n".join(rows)


def plot(runs, ceil, png):
    data = "/tmp/migsend-bench.dat"
    conns = sorted({k[2] for k in runs})
    engines = [e for e in ENGINES if any(k[:2] == ("random", e) for k in runs)]
    with open(data, "w") as f:
        for c in conns:
            vals = [mbps(med([r["guest_bps"] for r in runs.get(("random", e, c), [])]))
                    for e in engines]
            f.write(f"{c} " + " ".join(f"{v:.1f}" for v in vals) +
                    f" {mbps(med(ceil.get(c, []))):.1f}\n")
    lines = [f"'{data}' using 1:{i + 2} with linespoints title '{e}'"
             for i, e in enumerate(engines)]
    lines.append(f"'{data}' using 1:{len(engines) + 2} with linespoints dt 2 title 'N x iperf3 -Z (ceiling)'")
    script = (f"set terminal png size 900,540; set output '{png}';"
              "set title 'random 1 GiB guest: throughput against connections';"
              "set xlabel 'connections'; set ylabel 'guest MB/s'; set logscale x 2;"
              "set key left top; set grid; plot " + ", ".join(lines))
    subprocess.run(["gnuplot", "-e", script], check=True)


def full(runs, ceil, info, micros, doc, png, command):
    parts = [f"Command: `{command}`", "",
             f"Guest: Debian kernel {info.get('guest_kernel', '?')}, {info.get('cpus', '?')} vCPUs "
             f"(QEMU TCG), guest size {info.get('size_mib', '?')} MiB, median of "
             f"{info.get('runs', '?')} runs (min–max).", ""]
    for w in WORKLOADS:
        if any(k[0] == w for k in runs):
            parts += [f"#### {w}", "", table(runs, ceil, w), ""]
    parts += ["#### Host microbenchmarks (`make -C tests/host microbench`)", "",
              "| measurement | GB/s |", "| --- | ---: |"]
    parts += [f"| {k} | {v:.2f} |" for k, v in micros.items()]
    parts += ["", f"![throughput against connections]({png.split('/')[-1]})"]
    text = open(doc).read()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = re.sub(re.escape(begin) + ".*" + re.escape(end),
                  begin + "\n" + "\n".join(parts) + "\n" + end, text, flags=re.S)
    open(doc, "w").write(text)
    plot(runs, ceil, png)


def main():
    mode, log, micro = sys.argv[1:4]
    runs, ceil, info, micros = parse(log, micro)
    if not runs:
        sys.exit("bench_report: no BENCH line in " + log)
    if mode == "quick":
        quick(runs, ceil, micros)
    elif mode == "scale":
        for w in WORKLOADS:
            if any(k[0] == w for k in runs):
                print(f"#### {w}\n\n{table(runs, ceil, w)}\n")
    else:
        full(runs, ceil, info, micros, sys.argv[4], sys.argv[5], sys.argv[6])


if __name__ == "__main__":
    main()
