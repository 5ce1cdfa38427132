#!/usr/bin/env python3
"""Memory: 1M keys of 16 bytes with 32-byte values in Cinnabar and redis-server.

Loads the same dataset into both (pipelined SETs over a raw socket) and prints
used_memory (INFO memory) and RSS (/proc) for each, with the ratio
Cinnabar/Redis. Usage: bench/memory.py [keys]
"""
import socket
import sys

from servers import both, encode, info_field

VALUE = b"v" * 32


def load(port, keys, batch=10_000):
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        for start in range(0, keys, batch):
            end = min(keys, start + batch)
            s.sendall(b"".join(encode([b"SET", b"key:%012d" % i, VALUE]) for i in range(start, end)))
            for _ in range(end - start):
                f.readline()


def main():
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with both() as (cin, red):
        rows = []
        for server in (cin, red):
            baseline_used = int(info_field(server.port, "memory", "used_memory") or 0)
            baseline_rss = server.rss_bytes()
            load(server.port, keys)
            used = int(info_field(server.port, "memory", "used_memory") or 0)
            rows.append((server.name, used, server.rss_bytes(), used - baseline_used, server.rss_bytes() - baseline_rss))
    print(f"{keys:,} keys, 16-byte keys, 32-byte values")
    print(f"{'server':<10} {'used_memory':>14} {'rss':>14} {'bytes/key (used)':>18} {'bytes/key (rss)':>17}")
    for name, used, rss, dused, drss in rows:
        print(f"{name:<10} {used:>14,} {rss:>14,} {dused / keys:>18.1f} {drss / keys:>17.1f}")
    (_, cu, cr, _, _), (_, ru, rr, _, _) = rows
    print(f"ratio cinnabar/redis: used_memory {cu / ru:.2f}, rss {cr / rr:.2f}")


if __name__ == "__main__":
    main()
