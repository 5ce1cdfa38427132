#!/usr/bin/env python3
"""Scripting throughput: EVALSHA of a small script that increments its key
(redis.call('INCR', KEYS[1])), driven by redis-benchmark against Cinnabar and
redis-server in the same run, alternating, several rounds; prints the median
requests/second of each and the ratio Cinnabar/Redis.
Usage: bench/scripting.py [rounds]
"""
import statistics
import subprocess
import sys

from servers import benchmark_rps, both

SCRIPT = "return redis.call('INCR', KEYS[1])"
SHAPES = [("-c 50", ["-c", "50"], 200_000), ("-c 50 -P 16", ["-c", "50", "-P", "16"], 1_000_000)]


def load_script(port):
    return subprocess.run(["redis-cli", "-p", str(port), "SCRIPT", "LOAD", SCRIPT],
                          check=True, capture_output=True, text=True).stdout.strip()


def run_benchmark(port, sha, shape_args, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-n", str(requests), "-r", "100000", "--csv", *shape_args,
         "EVALSHA", sha, "1", "key:__rand_int__"],
        check=True, capture_output=True, text=True).stdout
    return benchmark_rps(out)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"{'test':<8} {'load':<14} {'cinnabar rps':>14} {'redis rps':>14} {'ratio':>7}")
    with both() as (cin, red):
        shas = {server.name: load_script(server.port) for server in (cin, red)}
        for label, shape, requests in SHAPES:
            figures = {"cinnabar": [], "redis": []}
            for _ in range(rounds):
                for server in (cin, red):
                    figures[server.name].append(run_benchmark(server.port, shas[server.name], shape, requests))
            c, r = statistics.median(figures["cinnabar"]), statistics.median(figures["redis"])
            print(f"{'EVALSHA':<8} {label:<14} {c:>14,.0f} {r:>14,.0f} {c / r:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
