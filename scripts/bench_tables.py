#!/usr/bin/env python3
"""Turn divan's tree of results (from scripts/bench.sh) into the markdown
tables of BENCHMARKS.md. Every ratio uses medians from the same run."""
import re
import sys

UNITS = {"ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}


def parse(path):
    """{('group', 'bench', 'arg'): median_ns} from divan's table."""
    out = {}
    stack = []
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^((?:│  |   )*)(?:├─|╰─) (\S+)", line)
        if not m:
            continue
        depth = len(m.group(1)) // 3
        name = m.group(2)
        stack = stack[:depth] + [name]
        # fastest │ slowest │ median │ mean │ samples │ iters
        cols = line[m.end():].split("│")
        if len(cols) < 4:
            continue
        med = cols[2].strip().split()
        if len(med) != 2 or med[1] not in UNITS:
            continue
        out[tuple(stack)] = float(med[0]) * UNITS[med[1]]
    return out


def fmt(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "–"


def main():
    r = parse(sys.argv[1])
    g = lambda *k: r.get(tuple(k))

    print("\n### 1. Host overhead (one 128-frame block)\n")
    print("Hand loop: the faster of in place and ping-pong in this run.\n")
    print("| N | hand loop | direct calls | engine (default) | engine, all watched | engine, all watched, every 4th block | hand ns/node | engine ns/node | engine / hand | all watched / hand | every 4th / hand | direct / hand |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in ["1", "10", "100", "1000"]:
        hands = [x for x in (g("host_overhead", "hand_inplace", n), g("host_overhead", "hand_pingpong", n)) if x]
        d, e, e1, e0 = (g("host_overhead", b, n) for b in ("direct", "engine", "engine_watched", "engine_watched4"))
        if not hands:
            continue
        h = min(hands)
        nn = int(n)
        print(f"| {n} | {fmt(h)} | {fmt(d)} | {fmt(e)} | {fmt(e1)} | {fmt(e0)} | {h / nn:.1f} | "
              f"{(e or 0) / nn:.1f} | **{ratio(e, h)}** | {ratio(e1, h)} | {ratio(e0, h)} | {ratio(d, h)} |")

    rows = [(n, g("host_overhead", "engine_silent", n), g("host_overhead", "engine", n)) for n in ["1", "10", "100", "1000"]]
    if any(r[1] for r in rows):
        print("\nThe same chains fed silence (a `file_in` with no file; every node skipped):\n")
        print("| N | silent | with noise | silent / with noise |")
        print("|---|---|---|---|")
        for n, sil, e in rows:
            print(f"| {n} | {fmt(sil)} | {fmt(e)} | {ratio(sil, e)} |")

    print("\n### 2. Peers (one 128-frame block; ratio < 1 means ohmpatch is faster)\n")
    print("| chain | ohmpatch | fundsp Net | firewheel | ohmpatch / fundsp | ohmpatch / firewheel |")
    print("|---|---|---|---|---|---|")
    for n in ["10", "100", "1000"]:
        o, f, w = (g("peers", f"gain_chain_{p}", n) for p in ("ohmpatch", "fundsp", "firewheel"))
        if o is None:
            continue
        print(f"| {n} gains | {fmt(o)} | {fmt(f)} | {fmt(w)} | {ratio(o, f)} | {ratio(o, w)} |")
    o, f, w = (g("peers", f"fx_chain_{p}") for p in ("ohmpatch", "fundsp", "firewheel"))
    if o is not None:
        print(f"| noise → gain → tanh → 2 kHz LP | {fmt(o)} | {fmt(f)} | {fmt(w)} | {ratio(o, f)} | {ratio(o, w)} |")

    print("\n### 3. Example patches (1 s of audio at 48 kHz, offline)\n")
    print("| patch | render 1 s | real-time factor |")
    print("|---|---|---|")
    for k, v in sorted(r.items()):
        if k[:2] == ("patches", "render_1s") and len(k) == 3:
            print(f"| {k[2]} | {fmt(v)} | {1e9 / v:.0f}× |")

    print("\n### 4. Compile\n")
    print("| nodes | compile | µs per node | set_patch (fresh engine) | µs per node | one edit (set_patch + a block) |")
    print("|---|---|---|---|---|---|")
    for n in ["10", "100", "1000", "10000"]:
        c, s, e = (g("compile", b, n) for b in ("schedule", "set_patch", "edit"))
        if c is None:
            continue
        nn = int(n)
        print(f"| {nn:,} | {fmt(c)} | {c / nn / 1e3:.2f} | {fmt(s)} | {(s or 0) / nn / 1e3:.2f} | {fmt(e)} |")


main()
