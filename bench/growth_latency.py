#!/usr/bin/env python3
"""Worst single-command latency while the keyspace grows to ~10M keys.

A writer (redis-benchmark, pipelined SETs of random keys) grows the keyspace
while a probe connection sends one PING at a time and records each round
trip. A table that stops the world to grow shows up as a probe latency spike
at each doubling. Each server runs alone so the two do not share cores.
Both servers also run their latency monitor (threshold 1 ms): LATENCY LATEST
then shows the worst command or event as timed inside the server, which is
what a table that stops the world would show, free of scheduling noise.
Usage: bench/growth_latency.py [requests]  (default 12M SETs: ~10M keys)
"""
import os
import socket
import subprocess
import sys
import threading
import time

from servers import Server, cinnabar_binary, command


def probe(port, stop, samples):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stop.is_set():
            t0 = time.perf_counter()
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            got = b""
            while not got.endswith(b"\r\n"):
                got += s.recv(64)
            samples.append(time.perf_counter() - t0)
            time.sleep(0.0005)


def pin_threads(pid, stop):
    """Keeps the server's main thread alone on CPU 0 and every other thread
    of it (allocator, lazy-free and release threads, started at any time) on
    CPU 1 with the load generator and the probe. On a 2-core machine this is
    what separates a stall in the server from the scheduler preempting it."""
    while not stop.is_set():
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(tid), {0} if int(tid) == pid else {1})
            except OSError:
                pass
        time.sleep(0.05)


def measure(name, binary, requests):
    # The server's own latency monitor times every command and event from the
    # inside, separating stalls in the server from scheduling noise on the
    # shared cores that the probe also sees.
    server = Server(name, binary, ["--latency-monitor-threshold", "1"])
    try:
        stop, samples = threading.Event(), []
        pinner = threading.Thread(target=pin_threads, args=(server.pid, stop))
        pinner.start()
        t = threading.Thread(target=probe, args=(server.port, stop, samples))
        t.start()
        subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(server.port), "-t", "set", "-n", str(requests),
                        "-r", "1000000000", "-P", "32", "-c", "4", "-q"], check=True, capture_output=True)
        stop.set()
        t.join()
        pinner.join()
        keys = command(server.port, "DBSIZE")
        events = {e[0].decode(): e[3] for e in command(server.port, "LATENCY", "LATEST")}
        samples.sort()
        p999 = samples[int(len(samples) * 0.999)]
        return keys, len(samples), p999 * 1000, samples[-1] * 1000, events
    finally:
        server.stop()


def main():
    os.sched_setaffinity(0, {1})  # the probe and this script share CPU 1
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 12_000_000
    print(f"{'server':<10} {'keys':>12} {'probes':>8} {'p99.9 ms':>9} {'max ms':>8}  in-server worst (LATENCY LATEST, ms)")
    for name, binary in (("cinnabar", cinnabar_binary()), ("redis", "redis-server")):
        keys, n, p999, worst, events = measure(name, binary, requests)
        inside = ", ".join(f"{k} {v}" for k, v in sorted(events.items())) or "none >= 1 ms"
        print(f"{name:<10} {keys:>12,} {n:>8,} {p999:>9.2f} {worst:>8.2f}  {inside}", flush=True)


if __name__ == "__main__":
    main()
