#!/usr/bin/env python3
"""ACL cost: GET/SET throughput as the default user and as a user limited to
key patterns, redis-benchmark against Cinnabar and redis-server in one run.

The limited user (`~key:* ~other:* +@all`) makes every command go through the
key-pattern check; the default user takes the all-permissions fast path. For
each user, test and load shape the servers are measured in alternation and
the median requests/second is printed with the ratio Cinnabar/Redis.
Usage: bench/acl.py [rounds]
"""
import statistics
import subprocess
import sys

from servers import both
from throughput import run_benchmark

TESTS = ["set", "get"]
SHAPES = [("-c 50", ["-c", "50"], 200_000), ("-c 50 -P 16", ["-c", "50", "-P", "16"], 2_000_000)]
LIMITED = ["ACL", "SETUSER", "bench", "on", ">benchpass", "~other:*", "~key:*", "+@all"]
USERS = [("default", []), ("bench (~key:*)", ["--user", "bench", "-a", "benchpass"])]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"{'user':<16} {'test':<5} {'load':<12} {'cinnabar rps':>13} {'redis rps':>13} {'ratio':>6}")
    with both() as (cin, red):
        for server in (cin, red):
            subprocess.run(["redis-cli", "-p", str(server.port), *LIMITED], check=True, capture_output=True)
        for user, auth in USERS:
            for label, shape, requests in SHAPES:
                for test in TESTS:
                    figures = {"cinnabar": [], "redis": []}
                    for _ in range(rounds):
                        for server in (cin, red):
                            figures[server.name].append(run_benchmark(server.port, test, shape + auth, requests))
                    c, r = statistics.median(figures["cinnabar"]), statistics.median(figures["redis"])
                    print(f"{user:<16} {test.upper():<5} {label:<12} {c:>13,.0f} {r:>13,.0f} {c / r:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
