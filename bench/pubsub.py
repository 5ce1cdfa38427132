#!/usr/bin/env python3
"""Pub/Sub fan-out: PUBLISH to one channel with 100 subscribers, Cinnabar and
redis-server measured in alternation in one run.

redis-benchmark publishes (10 connections, pipelined) while 100 subscriber
connections, spread over a few reader processes that only count bytes, take
every message. A round ends when every subscriber has received every message.
Printed per server: PUBLISH requests/second (as redis-benchmark reports) and
deliveries/second (messages times subscribers over the round's wall time),
the medians over the rounds, and the ratio Cinnabar/Redis.
Usage: bench/pubsub.py [rounds] [messages]
"""
import multiprocessing
import selectors
import socket
import statistics
import subprocess
import sys
import time

from servers import benchmark_rps, both, encode

SUBSCRIBERS = 100
READER_PROCESSES = 4
CHANNEL = b"bench"
PAYLOAD = b"x" * 32
MESSAGE = encode([b"message", CHANNEL, PAYLOAD])


def subscribe(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.sendall(encode([b"SUBSCRIBE", CHANNEL]))
    confirmation = encode([b"subscribe", CHANNEL]).replace(b"*2", b"*3", 1) + b":1\r\n"
    got = b""
    while len(got) < len(confirmation):
        got += s.recv(len(confirmation) - len(got))
    return s


def read_all(port, count, expected_bytes, ready, go, done):
    """Subscribes `count` connections, then reads until each got `expected_bytes`."""
    socks = [subscribe(port) for _ in range(count)]
    ready.put(True)
    go.wait()
    sel = selectors.DefaultSelector()
    remaining = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        remaining[s] = expected_bytes
    while remaining:
        for key, _ in sel.select():
            s = key.fileobj
            data = s.recv(1 << 20)
            if not data:
                raise SystemExit("a subscriber was disconnected")
            remaining[s] -= len(data)
            if remaining[s] <= 0:
                sel.unregister(s)
                del remaining[s]
    done.put(time.time())
    for s in socks:
        s.close()


def publish(port, messages):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", "10", "-P", "16", "-n", str(messages), "--csv",
         "PUBLISH", CHANNEL.decode(), PAYLOAD.decode()],
        check=True, capture_output=True, text=True).stdout
    return benchmark_rps(out)


def one_round(port, messages):
    """Returns (publish rps, deliveries per second)."""
    ready, done = multiprocessing.Queue(), multiprocessing.Queue()
    go = multiprocessing.Event()
    per_process = SUBSCRIBERS // READER_PROCESSES
    readers = [multiprocessing.Process(target=read_all, args=(port, per_process, messages * len(MESSAGE), ready, go, done))
               for _ in range(READER_PROCESSES)]
    for r in readers:
        r.start()
    for _ in readers:
        ready.get(timeout=60)
    go.set()
    started = time.time()
    rps = publish(port, messages)
    finished = max(done.get(timeout=300) for _ in readers)
    for r in readers:
        r.join()
    return rps, SUBSCRIBERS * messages / (finished - started)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    messages = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    print(f"PUBLISH fan-out: {SUBSCRIBERS} subscribers, {messages} messages of {len(PAYLOAD)} bytes, {rounds} rounds")
    figures = {"cinnabar": [], "redis": []}
    with both() as (cin, red):
        for _ in range(rounds):
            for server in (cin, red):
                figures[server.name].append(one_round(server.port, messages))
    print(f"{'':<22} {'cinnabar':>14} {'redis':>14} {'ratio':>7}")
    for i, label in enumerate(["PUBLISH requests/s", "deliveries/s"]):
        c = statistics.median(f[i] for f in figures["cinnabar"])
        r = statistics.median(f[i] for f in figures["redis"])
        print(f"{label:<22} {c:>14,.0f} {r:>14,.0f} {c / r:>7.2f}")


if __name__ == "__main__":
    main()
