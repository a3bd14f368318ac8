#!/usr/bin/env python3
"""The TLS benchmark's table from a VM log of tls_bench.sh.

  tls_bench_report.py LOG     print a Markdown table per workload: each
                              engine plaintext and encrypted, guest MB/s
                              (median), sender CPU s per GiB, receiver CPU
                              s per GiB received; then the kernel engine
                              against the userspace-TLS engines; then the
                              profiles.
"""
import statistics
import sys

ENGINES = ["kernel", "user-copy", "user-zc", "user-sendfile"]
GIB = 1 << 30


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def parse(path):
    runs, info, profiles, cur = {}, {}, [], None
    for line in open(path, errors="replace"):
        line = line.strip().replace("\r", "")
        if line.startswith("BENCH-INFO "):
            info = fields(line)
        elif line.startswith("BENCH "):
            f = fields(line)
            guest, secs = int(f["guest_bytes"]), float(f["secs"])
            # scattered: the receiver's CPU covers the untimed full pass too
            rx_bytes = guest + (int(info.get("size_mib", 0)) << 20
                                if f["workload"] == "scattered" else 0)
            key = (f["workload"], f["engine"], int(f.get("tls", 0)))
            runs.setdefault(key, []).append({
                "mbs": guest / secs / 1e6,
                "tx_cpu": float(f["sender_cpu_s"]) / (guest / GIB),
                "rx_cpu": float(f["receiver_cpu_s"]) / (rx_bytes / GIB),
            })
        elif line.startswith("PROFILE-BEGIN"):
            cur = [line]
        elif line.startswith("PROFILE-END") and cur:
            profiles.append(cur)
            cur = None
        elif cur is not None:
            cur.append(line)
    return runs, info, profiles


def med(rs, k):
    return statistics.median(r[k] for r in rs) if rs else float("nan")


def main():
    runs, info, profiles = parse(sys.argv[1])
    print(f"Guest kernel {info.get('guest_kernel', '?')}, {info.get('cpus', '?')} vCPUs "
          f"(TCG), AES instructions: {info.get('cpu_aes', '?')}; "
          f"{info.get('size_mib', '?')} MiB guest, {info.get('conns', '?')} connections, "
          f"median of {info.get('runs', '?')} runs.\n")
    for w in ["random", "scattered"]:
        print(f"**{w}**\n")
        print("| engine | plaintext MB/s | TLS MB/s | TLS / plaintext | sender CPU s/GiB "
              "plaintext | TLS | receiver CPU s/GiB plaintext | TLS |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for e in ENGINES:
            p, t = runs.get((w, e, 0), []), runs.get((w, e, 1), [])
            if not p and not t:
                continue
            print(f"| {e} | {med(p, 'mbs'):.1f} | {med(t, 'mbs'):.1f} | "
                  f"{med(t, 'mbs') / med(p, 'mbs'):.2f} | {med(p, 'tx_cpu'):.2f} | "
                  f"{med(t, 'tx_cpu'):.2f} | {med(p, 'rx_cpu'):.2f} | {med(t, 'rx_cpu'):.2f} |")
        k = runs.get((w, "kernel", 1), [])
        others = [(e, runs.get((w, e, 1), [])) for e in ENGINES[1:]]
        others = [(e, rs) for e, rs in others if rs]
        if k and others:
            best = max(others, key=lambda x: med(x[1], "mbs"))
            least = min(others, key=lambda x: med(x[1], "tx_cpu"))
            print(f"\nEncrypted, kernel engine: {med(k, 'mbs') / med(best[1], 'mbs'):.2f}x the "
                  f"guest MB/s of the fastest other engine ({best[0]}), "
                  f"{med(k, 'tx_cpu') / med(least[1], 'tx_cpu'):.2f}x the sender CPU per GiB "
                  f"of the most frugal ({least[0]}); against user-copy, the userspace-TLS "
                  f"model: {med(k, 'mbs') / med(runs.get((w, 'user-copy', 1), []), 'mbs'):.2f}x "
                  f"the speed, {med(k, 'tx_cpu') / med(runs.get((w, 'user-copy', 1), []), 'tx_cpu'):.2f}x "
                  "the CPU.\n")
    cc = [(e, runs.get(("random", e, 2), [])) for e in ENGINES]
    cc = [(e, rs) for e, rs in cc if rs]
    if cc:
        print("**random, ChaCha20-Poly1305** (what a CPU without AES instructions negotiates)\n")
        print("| engine | MB/s | sender CPU s/GiB | receiver CPU s/GiB |")
        print("| --- | ---: | ---: | ---: |")
        for e, rs in cc:
            print(f"| {e} | {med(rs, 'mbs'):.1f} | {med(rs, 'tx_cpu'):.2f} | {med(rs, 'rx_cpu'):.2f} |")
        print()
    for prof in profiles:
        print("```")
        print("\n".join(prof[:30]))
        print("```")


if __name__ == "__main__":
    main()
