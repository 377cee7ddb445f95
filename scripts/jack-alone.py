#!/usr/bin/env python3
"""Of the cycles a jackd log blames clients for, how many blamed CLIENT alone.

jackd writes one "client = NAME was not finished" line per late client, then
one line about the cycle's error. A cycle that blames every client is the
machine stalling the whole graph; one that blames a client alone is that
client's own lateness.

    scripts/jack-alone.py LOG CLIENT
"""
import re
import sys


def cycles(path):
    current, out = set(), []
    for line in open(path, errors="replace"):
        m = re.search(r"client = (\S+) was not finished", line)
        if m:
            current.add(m.group(1))
        elif current:
            out.append(current)
            current = set()
    if current:
        out.append(current)
    return out


if __name__ == "__main__":
    log, client = sys.argv[1], sys.argv[2]
    print(sum(1 for c in cycles(log) if c == {client}))
