#!/usr/bin/env python3
"""Collections: throughput and memory per element, Cinnabar vs redis-server.

Throughput: redis-benchmark's LPUSH, LPOP, SADD, HSET, ZADD and XADD tests
(50 clients, unpipelined and -P 16) and ZRANGE of 10 members in the middle
of a 1M-member sorted set, alternating servers, medians of several rounds.
Memory: used_memory growth for one 1M-element list, hash, set and sorted set
(short members), per element, then ZRANGE and ZSCORE on that sorted set.
Usage: bench/collections.py [rounds] [throughput] [memory] (both by default)
"""
import csv
import io
import socket
import statistics
import subprocess
import sys

from servers import both, encode, info_field

TESTS = ["lpush", "lpop", "sadd", "hset", "zadd"]
# redis-benchmark 7.0 has no XADD test: send the command explicitly.
XADD = ["XADD", "bench:stream", "*", "field", "value"]
ELEMENTS = 1_000_000


def benchmark(port, args, requests):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(requests), "--csv", *args],
                         check=True, capture_output=True, text=True).stdout
    return float(list(csv.reader(io.StringIO(out)))[1][1])


def pipeline(port, commands, batch=10_000):
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        for start in range(0, len(commands), batch):
            chunk = commands[start:start + batch]
            s.sendall(b"".join(encode(c) for c in chunk))
            for _ in chunk:
                line = f.readline()
                if line.startswith(b"-"):
                    raise RuntimeError(line)


def element_commands(kind):
    """One command per 100 elements, building a 1M-element collection."""
    cmds = []
    for start in range(0, ELEMENTS, 100):
        members = [b"m:%d" % i for i in range(start, start + 100)]
        if kind == "list":
            cmds.append([b"RPUSH", b"big:list", *members])
        elif kind == "set":
            cmds.append([b"SADD", b"big:set", *members])
        elif kind == "hash":
            cmds.append([b"HSET", b"big:hash", *[x for m in members for x in (m, b"v")]])
        else:
            cmds.append([b"ZADD", b"big:zset", *[x for i, m in enumerate(members, start) for x in (b"%d" % i, m)]])
    return cmds


def throughput(cin, red, rounds):
    print(f"{'test':<8} {'load':<14} {'cinnabar rps':>14} {'redis rps':>14} {'ratio':>7}")
    for label, shape, requests in (("-c 50", ["-c", "50"], 200_000), ("-c 50 -P 16", ["-c", "50", "-P", "16"], 1_000_000)):
        for test in TESTS + ["xadd"]:
            args = [*shape, *XADD] if test == "xadd" else ["-t", test, *shape]
            c, r = medians(cin, red, rounds, args, requests)
            print(f"{test.upper():<8} {label:<14} {c:>14,.0f} {r:>14,.0f} {c / r:>7.2f}", flush=True)


def medians(cin, red, rounds, args, requests):
    """Median requests/s of each server over `rounds` alternating runs."""
    figures = {"cinnabar": [], "redis": []}
    for _ in range(rounds):
        for server in (cin, red):
            figures[server.name].append(benchmark(server.port, args, requests))
    return statistics.median(figures["cinnabar"]), statistics.median(figures["redis"])


def memory(cin, red):
    print(f"\nmemory per element, {ELEMENTS:,}-element collections of short members")
    print(f"{'type':<6} {'cinnabar B/elem':>16} {'redis B/elem':>13} {'ratio':>7}")
    per = {}
    for kind in ("list", "hash", "set", "zset"):
        cmds = element_commands(kind)
        for server in (cin, red):
            before = int(info_field(server.port, "memory", "used_memory"))
            pipeline(server.port, cmds)
            per[server.name] = (int(info_field(server.port, "memory", "used_memory")) - before) / ELEMENTS
        print(f"{kind:<6} {per['cinnabar']:>16.1f} {per['redis']:>13.1f} {per['cinnabar'] / per['redis']:>7.2f}", flush=True)


def zset_queries(cin, red, rounds):
    """ZRANGE and ZSCORE on the 1M-member sorted set `memory` built."""
    for label, args in (("ZRANGE 10 of 1M", ["ZRANGE", "big:zset", "500000", "500009", "WITHSCORES"]),
                        ("ZSCORE in 1M", ["ZSCORE", "big:zset", "m:500000"])):
        c, r = medians(cin, red, rounds, ["-c", "50", *args], 200_000)
        print(f"{label} (-c 50): cinnabar {c:,.0f} rps, redis {r:,.0f} rps, ratio {c / r:.2f}", flush=True)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sections = sys.argv[2:] or ["throughput", "memory"]
    with both() as (cin, red):
        if "throughput" in sections:
            throughput(cin, red, rounds)
        if "memory" in sections:
            memory(cin, red)
            zset_queries(cin, red, rounds)


if __name__ == "__main__":
    main()
