#!/usr/bin/env python3
"""Replication lag under a write load: a Cinnabar master with a Cinnabar
replica, and a redis-server master with a redis-server replica, in one run.

For each pair, redis-benchmark writes (SET on random keys, 50 clients, -P 16)
to the master while a probe writes a marker key to the master every 20 ms
and polls the replica until the marker arrives: the time that takes is the
replication lag a reader of the replica sees. The master's
master_repl_offset minus the replica's offset is sampled meanwhile (bytes
behind). Printed per pair: the benchmark's requests/second, lag p50/p99/max
in milliseconds and bytes behind p50/max, and the ratios Cinnabar/Redis
(lower lag is better).
Usage: bench/replication_lag.py [seconds]
"""
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

from servers import Server, benchmark_rps, cinnabar_binary, command, encode, info_field, read_reply

PROBE_INTERVAL_S = 0.02


def start_pair(name, binary):
    master = Server(f"{name}-master", binary)
    replica = Server(f"{name}-replica", binary, ["--replicaof", "127.0.0.1", str(master.port)])
    deadline = time.time() + 30
    while info_field(replica.port, "replication", "master_link_status") != "up":
        if time.time() > deadline:
            raise SystemExit(f"{name}: the replica did not link")
        time.sleep(0.1)
    return master, replica


def probe(master_port, replica_port, stop, lags):
    """Writes a marker and times its arrival on the replica, until `stop`."""
    m = socket.create_connection(("127.0.0.1", master_port))
    r = socket.create_connection(("127.0.0.1", replica_port))
    mf, rf = m.makefile("rb"), r.makefile("rb")
    n = 0
    while not stop.is_set():
        n += 1
        marker = str(n).encode()
        m.sendall(encode([b"SET", b"lag-marker", marker]))
        read_reply(mf)
        sent = time.perf_counter()
        while True:
            r.sendall(encode([b"GET", b"lag-marker"]))
            if read_reply(rf) == marker:
                break
        lags.append((time.perf_counter() - sent) * 1000)
        time.sleep(PROBE_INTERVAL_S)


def offsets_behind(master_port, replica_port, stop, behind):
    while not stop.is_set():
        master = int(info_field(master_port, "replication", "master_repl_offset"))
        replica = int(info_field(replica_port, "replication", "slave_repl_offset") or 0)
        behind.append(max(master - replica, 0))
        time.sleep(0.1)


def measure(name, binary, seconds):
    master, replica = start_pair(name, binary)
    try:
        stop = threading.Event()
        lags, behind = [], []
        threads = [
            threading.Thread(target=probe, args=(master.port, replica.port, stop, lags)),
            threading.Thread(target=offsets_behind, args=(master.port, replica.port, stop, behind)),
        ]
        for t in threads:
            t.start()
        requests = int(seconds * 500_000)
        out = subprocess.run(
            ["redis-benchmark", "-p", str(master.port), "-t", "set", "-r", "1000000", "-n", str(requests),
             "-c", "50", "-P", "16", "-d", "64", "--csv"],
            capture_output=True, text=True, check=True).stdout
        stop.set()
        for t in threads:
            t.join()
        same = command(master.port, "DEBUG", "DIGEST") == command(replica.port, "DEBUG", "DIGEST")
        lags.sort()
        return {
            "rps": benchmark_rps(out),
            "lag_p50": statistics.median(lags),
            "lag_p99": lags[int(len(lags) * 0.99) - 1] if len(lags) > 1 else lags[-1],
            "lag_max": lags[-1],
            "behind_p50": statistics.median(behind),
            "behind_max": max(behind),
            "converged": same,
        }
    finally:
        replica.stop()
        master.stop()


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    results = {
        "cinnabar": measure("cinnabar", cinnabar_binary(), seconds),
        "redis": measure("redis", shutil.which("redis-server") or "redis-server", seconds),
    }
    print(f"{'':10} {'SET rps':>10} {'lag p50':>8} {'p99':>8} {'max':>8} {'behind p50':>11} {'max':>10} converged")
    for name, r in results.items():
        print(f"{name:10} {r['rps']:10.0f} {r['lag_p50']:8.2f} {r['lag_p99']:8.2f} {r['lag_max']:8.2f} "
              f"{r['behind_p50']:11.0f} {r['behind_max']:10.0f} {r['converged']}")
    c, r = results["cinnabar"], results["redis"]
    print(f"ratio cinnabar/redis: rps {c['rps'] / r['rps']:.2f}, lag p50 {c['lag_p50'] / r['lag_p50']:.2f}, "
          f"p99 {c['lag_p99'] / r['lag_p99']:.2f} (lag: lower is better)")


if __name__ == "__main__":
    main()
