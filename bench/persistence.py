#!/usr/bin/env python3
"""Persistence: SAVE time, BGSAVE fork time, dump size and load time for 1M
keys of mixed types, Cinnabar vs redis-server in the same run.

Each server gets the same dataset (60% strings, 10% each of small hashes,
lists, sets of integers and sorted sets), then:
  SAVE      wall time of a synchronous SAVE
  fork      latest_fork_usec of a BGSAVE (the main thread's pause),
            median of five
  BGSAVE    wall time until the child finished
  file      size of dump.rdb
  load      time from process start until PING stops answering -LOADING,
            each server restarted on its own dump
  RSS MB    the server's RSS just before that BGSAVE
  peak MB   the most memory the server and its BGSAVE child held together
            (parent RSS + the child's private pages) while a writer
            overwrote random existing keys as fast as it could during a
            BGSAVE: what a snapshot really costs in memory
Prints one row per server and the ratios Cinnabar/Redis.
Usage: bench/persistence.py [keys]
"""
import multiprocessing
import os
import random
import shutil
import socket
import sys
import time

from servers import Server, both, cinnabar_binary, encode, info_field

BATCH = 10_000


def commands_for(i):
    """The write(s) that create key number i."""
    kind = i % 10
    key = b"key:%010d" % i
    if kind < 6:
        return [[b"SET", key, b"value-%d-" % i + b"x" * 16]]
    if kind == 6:
        return [[b"HSET", key, b"name", b"n%d" % i, b"age", b"%d" % (i % 90), b"city", b"somewhere"]]
    if kind == 7:
        return [[b"RPUSH", key, b"a", b"b", b"%d" % i, b"c", b"d"]]
    if kind == 8:
        return [[b"SADD", key, b"1", b"2", b"3", b"%d" % i]]
    return [[b"ZADD", key, b"1", b"one", b"2.5", b"two", b"%d" % i, b"three"]]


def load_dataset(port, keys):
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        for start in range(0, keys, BATCH):
            cmds = [c for i in range(start, min(keys, start + BATCH)) for c in commands_for(i)]
            s.sendall(b"".join(encode(c) for c in cmds))
            for _ in cmds:
                f.readline()


def call(port, *args, timeout=600):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(encode(args))
        return s.makefile("rb").readline().strip()


def wait_bgsave(port):
    while info_field(port, "persistence", "rdb_bgsave_in_progress") == "1":
        time.sleep(0.005)


def overwrite_forever(port, keys, stop):
    """Overwrites random existing keys (pipelined) until `stop` is set."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        while not stop.is_set():
            cmds = [[b"SET", b"key:%010d" % random.randrange(keys), b"y" * 40] for _ in range(1000)]
            s.sendall(b"".join(encode(c) for c in cmds))
            for _ in cmds:
                f.readline()


def kb_field(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def child_private_bytes(pid):
    """The private memory of `pid`'s children (a BGSAVE child's copies)."""
    total = 0
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
    except OSError:
        return 0
    for child in children:
        rollup = f"/proc/{child}/smaps_rollup"
        total += kb_field(rollup, "Private_Clean") + kb_field(rollup, "Private_Dirty")
    return total


def peak_during_bgsave(server, keys):
    """Peak of parent RSS + child private memory during a BGSAVE under writes."""
    stop = multiprocessing.Event()
    writer = multiprocessing.Process(target=overwrite_forever, args=(server.port, keys, stop))
    writer.start()
    time.sleep(0.5)
    before = kb_field(f"/proc/{server.pid}/status", "VmRSS")
    peak = 0
    assert call(server.port, "BGSAVE") == b"+Background saving started"
    while info_field(server.port, "persistence", "rdb_bgsave_in_progress") == "1":
        peak = max(peak, kb_field(f"/proc/{server.pid}/status", "VmRSS") + child_private_bytes(server.pid))
        time.sleep(0.01)
    stop.set()
    writer.join()
    return before, peak


def measure_load(name, binary, dump):
    """Seconds from start until the server answers PING with PONG."""
    data_dir = os.path.dirname(dump)
    started = time.time()
    server = Server(name, binary, ["--dir", data_dir])
    try:
        while True:
            try:
                if call(server.port, "PING", timeout=5) == b"+PONG":
                    return time.time() - started, int(info_field(server.port, "keyspace", "db0").split(",")[0][5:])
            except OSError:
                pass
            time.sleep(0.002)
    finally:
        server.stop()


def main():
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rows = []
    saved = {}
    with both() as (cin, red):
        for server in (cin, red):
            load_dataset(server.port, keys)
            t = time.time()
            assert call(server.port, "SAVE") == b"+OK"
            save_s = time.time() - t
            t = time.time()
            assert call(server.port, "BGSAVE") == b"+Background saving started"
            wait_bgsave(server.port)
            bgsave_s = time.time() - t
            forks = [int(info_field(server.port, "stats", "latest_fork_usec"))]
            # A single fork's time is noisy (±20%): the median of five.
            for _ in range(4):
                assert call(server.port, "BGSAVE") == b"+Background saving started"
                wait_bgsave(server.port)
                forks.append(int(info_field(server.port, "stats", "latest_fork_usec")))
            fork_us = sorted(forks)[len(forks) // 2]
            dump = os.path.join(server.dir, "dump.rdb")
            keep = os.path.join(os.path.dirname(server.dir), f"bench-persistence-{server.name}-{os.getpid()}")
            os.makedirs(keep, exist_ok=True)
            shutil.copy(dump, os.path.join(keep, "dump.rdb"))
            saved[server.name] = os.path.join(keep, "dump.rdb")
            size = os.path.getsize(dump)
            rss, peak = peak_during_bgsave(server, keys)
            rows.append([server.name, save_s, fork_us, bgsave_s, size, rss, peak])
    binaries = {"cinnabar": cinnabar_binary(), "redis": shutil.which("redis-server") or "redis-server"}
    for row in rows:
        load_s, loaded = measure_load(row[0], binaries[row[0]], saved[row[0]])
        assert loaded == keys, f"{row[0]} loaded {loaded} keys"
        row.append(load_s)
        shutil.rmtree(os.path.dirname(saved[row[0]]), ignore_errors=True)

    print(f"{keys:,} keys (60% strings, 10% each small hash/list/set/zset)")
    print(f"{'server':<10} {'SAVE s':>8} {'fork us':>9} {'BGSAVE s':>9} {'file bytes':>13} {'RSS MB':>7} "
          f"{'peak MB':>8} {'load s':>8}")
    for name, save_s, fork_us, bgsave_s, size, rss, peak, load_s in rows:
        print(f"{name:<10} {save_s:>8.2f} {fork_us:>9} {bgsave_s:>9.2f} {size:>13,} {rss / 2**20:>7.1f} "
              f"{peak / 2**20:>8.1f} {load_s:>8.2f}")
    c, r = rows
    print(
        "ratio cinnabar/redis: "
        f"SAVE {c[1] / r[1]:.2f}, fork {c[2] / max(r[2], 1):.2f}, BGSAVE {c[3] / r[3]:.2f}, "
        f"file {c[4] / r[4]:.2f}, peak memory during BGSAVE {c[6] / r[6]:.2f} (growth over RSS "
        f"{(c[6] - c[5]) / max(r[6] - r[5], 1):.2f}), load {c[7] / r[7]:.2f}"
    )


if __name__ == "__main__":
    main()
