#!/usr/bin/env python3
"""Collections: throughput and memory per element, Cinnabar vs redis-server.

Throughput: redis-benchmark's LPUSH, LPOP, SADD, HSET, ZADD and XADD tests
(50 clients, unpipelined and -P 16), alternating servers, medians of several
rounds. Beside requests/s, each server's own CPU time (user + sys, from
/proc) per request: on a machine shared with other work, requests/s follow
the scheduler, while CPU per request stays a property of the server.
Memory: used_memory growth for one 1M-element list, hash, set and sorted set
(short members), per element, then ZRANGE and ZSCORE on that sorted set.
Usage: bench/collections.py [rounds] [throughput] [memory] (both by default)
"""
import os
import socket
import statistics
import subprocess
import sys

from servers import benchmark_rps, both, encode, info_field

TESTS = ["lpush", "lpop", "sadd", "hset", "zadd"]
# redis-benchmark 7.0 has no XADD test: send the command explicitly.
XADD = ["XADD", "bench:stream", "*", "field", "value"]
ELEMENTS = 1_000_000


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def benchmark(server, args, requests):
    """(requests/s, server CPU microseconds per request) of one run."""
    before = cpu_seconds(server.pid)
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), "-n", str(requests), "--csv", *args],
                         check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(server.pid) - before
    return benchmark_rps(out), cpu * 1e6 / requests


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


HEADER = (f"{'test':<16} {'load':<12} {'cinnabar rps':>13} {'redis rps':>11} {'ratio':>6}"
          f" {'cinnabar us/req':>16} {'redis us/req':>13} {'cpu ratio':>10}")


def report(test, label, figures):
    """One line: medians of requests/s and of CPU per request; both ratios
    read "higher is better for Cinnabar"."""
    (c, c_cpu), (r, r_cpu) = figures
    print(f"{test:<16} {label:<12} {c:>13,.0f} {r:>11,.0f} {c / r:>6.2f} {c_cpu:>16.2f} {r_cpu:>13.2f} {r_cpu / c_cpu:>10.2f}",
          flush=True)


def throughput(cin, red, rounds):
    print(HEADER)
    for label, shape, requests in (("-c 50", ["-c", "50"], 200_000), ("-c 50 -P 16", ["-c", "50", "-P", "16"], 1_000_000)):
        for test in TESTS + ["xadd"]:
            args = [*shape, *XADD] if test == "xadd" else ["-t", test, *shape]
            report(test.upper(), label, medians(cin, red, rounds, args, requests))


def medians(cin, red, rounds, args, requests):
    """Per server, the medians of requests/s and of CPU per request over
    `rounds` alternating runs."""
    runs = {"cinnabar": [], "redis": []}
    for _ in range(rounds):
        for server in (cin, red):
            runs[server.name].append(benchmark(server, args, requests))
    return [tuple(statistics.median(x) for x in zip(*runs[name])) for name in ("cinnabar", "redis")]


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


def lookups(cin, red, rounds):
    """ZRANGE, ZSCORE and HGET on the 1M-element collections `memory` built."""
    print()
    print(HEADER)
    for label, args in (("ZRANGE 10 of 1M", ["ZRANGE", "big:zset", "500000", "500009", "WITHSCORES"]),
                        ("ZSCORE in 1M", ["ZSCORE", "big:zset", "m:500000"]),
                        ("HGET in 1M", ["HGET", "big:hash", "m:500000"]),
                        ("PING (baseline)", ["PING"])):
        report(label, "-c 50", medians(cin, red, rounds, ["-c", "50", *args], 200_000))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sections = sys.argv[2:] or ["throughput", "memory"]
    with both() as (cin, red):
        if "throughput" in sections:
            throughput(cin, red, rounds)
        if "memory" in sections:
            memory(cin, red)
            lookups(cin, red, rounds)


if __name__ == "__main__":
    main()
