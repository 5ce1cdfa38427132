#!/usr/bin/env python3
"""Throughput: redis-benchmark against Cinnabar and redis-server in one run.

For each test (SET, GET, INCR, MSET) and each load shape (50 clients
unpipelined, 50 clients with -P 16) the two servers are measured in
alternation, several rounds, and the median requests/second of each is
printed with the ratio Cinnabar/Redis. Usage: bench/throughput.py [rounds]
"""
import statistics
import subprocess
import sys

from servers import benchmark_rps, both

TESTS = ["set", "get", "incr", "mset"]
SHAPES = [("-c 50", ["-c", "50"], 200_000), ("-c 50 -P 16", ["-c", "50", "-P", "16"], 2_000_000)]


def run_benchmark(port, test, shape_args, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(requests), "-r", "100000", "--csv", *shape_args],
        check=True, capture_output=True, text=True).stdout
    return benchmark_rps(out)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"{'test':<8} {'load':<14} {'cinnabar rps':>14} {'redis rps':>14} {'ratio':>7}")
    worst = None
    with both() as (cin, red):
        for label, shape, requests in SHAPES:
            for test in TESTS:
                figures = {"cinnabar": [], "redis": []}
                for _ in range(rounds):
                    for server in (cin, red):
                        figures[server.name].append(run_benchmark(server.port, test, shape, requests))
                c, r = statistics.median(figures["cinnabar"]), statistics.median(figures["redis"])
                ratio = c / r
                worst = ratio if worst is None else min(worst, ratio)
                print(f"{test.upper():<8} {label:<14} {c:>14,.0f} {r:>14,.0f} {ratio:>7.2f}", flush=True)
    print(f"lowest ratio: {worst:.2f}")


if __name__ == "__main__":
    main()
