#!/usr/bin/env python3
"""SET throughput while maxmemory eviction is active, Cinnabar vs redis-server.

Both servers run with the same maxmemory (32mb unless given) and
allkeys-lru; redis-benchmark writes random keys over a key space much
larger than fits, so nearly every SET makes the server evict. Each round
measures the two servers in alternation; the median requests/second of each
is printed with the ratio Cinnabar/Redis, then each server's used_memory
against the limit and its evicted_keys.
Usage: bench/eviction.py [rounds] [maxmemory]
"""
import statistics
import subprocess
import sys

from servers import benchmark_rps, both, info_field

SHAPES = [("-c 50", ["-c", "50"], 300_000), ("-c 50 -P 16", ["-c", "50", "-P", "16"], 2_000_000)]


def run_set_benchmark(port, shape_args, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests), "-r", "10000000", "-d", "100",
         "--csv", *shape_args],
        check=True, capture_output=True, text=True).stdout
    return benchmark_rps(out)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    maxmemory = sys.argv[2] if len(sys.argv) > 2 else "32mb"
    settings = ["--maxmemory", maxmemory, "--maxmemory-policy", "allkeys-lru"]
    print(f"SET with eviction (allkeys-lru, maxmemory {maxmemory}, 100-byte values, 10M random keys)")
    print(f"{'load':<14} {'cinnabar rps':>14} {'redis rps':>14} {'ratio':>7}")
    with both(settings) as (cin, red):
        for label, shape, requests in SHAPES:
            figures = {"cinnabar": [], "redis": []}
            for _ in range(rounds):
                for server in (cin, red):
                    figures[server.name].append(run_set_benchmark(server.port, shape, requests))
            c, r = statistics.median(figures["cinnabar"]), statistics.median(figures["redis"])
            print(f"{label:<14} {c:>14,.0f} {r:>14,.0f} {c / r:>7.2f}", flush=True)
        for server in (cin, red):
            used = int(info_field(server.port, "memory", "used_memory"))
            limit = int(info_field(server.port, "memory", "maxmemory"))
            evicted = info_field(server.port, "stats", "evicted_keys")
            keys = info_field(server.port, "keyspace", "db0")
            print(f"{server.name}: used_memory {used:,} = {used / limit:.3f} x maxmemory, "
                  f"rss {server.rss_bytes():,}, evicted_keys {evicted}, {keys}")


if __name__ == "__main__":
    main()
