#!/usr/bin/env python3
"""Memory per key of many small values, Cinnabar vs redis-server in one run.

For each kind of value in bench/persistence.py's mixed dataset (a 30-byte
string, a 3-field hash, a 5-element list, a 4-integer set, a 3-member sorted
set), 200,000 keys of that kind are written to a fresh server and the
growth of used_memory is divided by the key count. Real datasets are mostly many small values, so
this is where "smaller per key" is decided.
Usage: bench/small_values.py [keys]
"""
import shutil
import socket
import sys

from persistence import commands_for
from servers import Server, cinnabar_binary, encode, info_field

KINDS = [(0, "string"), (6, "hash"), (7, "list"), (8, "set"), (9, "zset")]
BATCH = 10_000


def write_kind(port, kind, keys):
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        for start in range(0, keys, BATCH):
            cmds = [c for i in range(start, min(keys, start + BATCH)) for c in commands_for(i * 10 + kind)]
            s.sendall(b"".join(encode(c) for c in cmds))
            for _ in cmds:
                f.readline()


def per_key(binary, keys):
    """used_memory growth per key, each kind on a fresh server (so the key
    table's growth steps fall alike for every kind)."""
    sizes = {}
    for kind, name in KINDS:
        server = Server("server", binary)
        try:
            before = int(info_field(server.port, "memory", "used_memory"))
            write_kind(server.port, kind, keys)
            sizes[name] = (int(info_field(server.port, "memory", "used_memory")) - before) / keys
        finally:
            server.stop()
    return sizes


def main():
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    ours = per_key(cinnabar_binary(), keys)
    theirs = per_key(shutil.which("redis-server") or "redis-server", keys)
    print(f"used_memory per key, {keys:,} keys of each kind")
    print(f"{'value':<8} {'cinnabar':>9} {'redis':>9} {'ratio':>6}")
    for _, name in KINDS:
        print(f"{name:<8} {ours[name]:9.1f} {theirs[name]:9.1f} {ours[name] / theirs[name]:6.2f}")


if __name__ == "__main__":
    main()
