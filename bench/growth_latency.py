#!/usr/bin/env python3
"""Worst single-command latency while the keyspace grows to ~10M keys.

A writer (redis-benchmark, pipelined SETs of random keys) grows the keyspace
while a probe connection sends one PING at a time and records each round
trip. A table that stops the world to grow shows up as a probe latency spike
at each doubling. Each server runs alone so the two do not share cores.
Usage: bench/growth_latency.py [requests]  (default 12M SETs: ~10M keys)
"""
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


def measure(name, binary, requests):
    server = Server(name, binary)
    try:
        stop, samples = threading.Event(), []
        t = threading.Thread(target=probe, args=(server.port, stop, samples))
        t.start()
        subprocess.run(["redis-benchmark", "-p", str(server.port), "-t", "set", "-n", str(requests),
                        "-r", "1000000000", "-P", "32", "-c", "4", "-q"], check=True, capture_output=True)
        stop.set()
        t.join()
        keys = command(server.port, "DBSIZE")
        samples.sort()
        p999 = samples[int(len(samples) * 0.999)]
        return keys, len(samples), p999 * 1000, samples[-1] * 1000
    finally:
        server.stop()


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 12_000_000
    print(f"{'server':<10} {'keys':>12} {'probes':>8} {'p99.9 ms':>9} {'max ms':>8}")
    for name, binary in (("cinnabar", cinnabar_binary()), ("redis", "redis-server")):
        keys, n, p999, worst = measure(name, binary, requests)
        print(f"{name:<10} {keys:>12,} {n:>8,} {p999:>9.2f} {worst:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
