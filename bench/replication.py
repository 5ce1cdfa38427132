#!/usr/bin/env python3
"""Replication: full-sync time and partial resync after a cut link, for a
Cinnabar master with a Cinnabar replica and a redis-server master with a
redis-server replica, in one run.

Full sync: the master holds 1M keys (DEBUG POPULATE, 100-byte values); a
fresh replica is pointed at it and timed until its link is up and the
dataset loaded, on disk (repl-diskless-sync no) and diskless (yes, no
delay). Partial resync: the replica follows the master through a TCP proxy;
the proxy is cut for 5 s while 50,000 writes go to the master; once it is
back, the time until the replica's offset equals the master's, and how many
full syncs that took (the goal: none, as Redis).
Printed: seconds per case and the ratio Cinnabar/Redis (lower is better).
Usage: bench/replication.py [keys]
"""
import shutil
import socket
import subprocess
import sys
import threading
import time

from servers import Server, cinnabar_binary, command, info_field

DEBUG = ["--enable-debug-command", "yes"]


def wait_for(what, check, timeout=600):
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def synced(replica):
    return (info_field(replica.port, "replication", "master_link_status") == "up"
            and info_field(replica.port, "replication", "master_sync_in_progress") == "0")


def full_sync_seconds(binary, keys, diskless):
    master = Server("master", binary, DEBUG + ["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"])
    replica = Server("replica", binary)
    try:
        command(master.port, "DEBUG", "POPULATE", keys, "key", 100, timeout=600)
        started = time.perf_counter()
        command(replica.port, "REPLICAOF", "127.0.0.1", master.port)
        wait_for("the full sync", lambda: synced(replica))
        elapsed = time.perf_counter() - started
        assert int(info_field(replica.port, "keyspace", "db0").split(",")[0].split("=")[1]) == keys
        return elapsed
    finally:
        replica.stop()
        master.stop()


class Proxy:
    """Relays loopback connections to `target` until cut; refuses while down."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.live = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            if self.down:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            self.live += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.down = True
        for s in self.live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.live = []


def partial_resync(binary):
    master = Server("master", binary, ["--repl-backlog-size", str(64 << 20), "--repl-diskless-sync-delay", "0"])
    replica = Server("replica", binary)
    proxy = Proxy(master.port)
    try:
        command(replica.port, "REPLICAOF", "127.0.0.1", proxy.port)
        wait_for("the first sync", lambda: synced(replica))
        full_before = int(info_field(master.port, "stats", "sync_full"))
        proxy.cut()
        cut_at = time.time()
        subprocess.run(["redis-benchmark", "-p", str(master.port), "-t", "set", "-r", "100000", "-n", "50000",
                        "-c", "10", "-P", "16", "-q"], check=True, capture_output=True)
        time.sleep(max(0.0, 5 - (time.time() - cut_at)))
        proxy.down = False
        started = time.perf_counter()
        target = int(info_field(master.port, "replication", "master_repl_offset"))
        wait_for("the replica to catch up", lambda: synced(replica) and int(
            info_field(replica.port, "replication", "slave_repl_offset") or 0) >= target)
        elapsed = time.perf_counter() - started
        full = int(info_field(master.port, "stats", "sync_full")) - full_before
        partial = int(info_field(master.port, "stats", "sync_partial_ok"))
        return elapsed, full, partial
    finally:
        replica.stop()
        master.stop()


def main():
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    binaries = {"cinnabar": cinnabar_binary(), "redis": shutil.which("redis-server") or "redis-server"}
    print(f"full sync of {keys:,} keys (seconds, REPLICAOF until loaded)")
    print(f"{'mode':<10} {'cinnabar':>9} {'redis':>9} {'ratio':>6}")
    for diskless, name in (("no", "disk"), ("yes", "diskless")):
        c = full_sync_seconds(binaries["cinnabar"], keys, diskless)
        r = full_sync_seconds(binaries["redis"], keys, diskless)
        print(f"{name:<10} {c:9.2f} {r:9.2f} {c / r:6.2f}", flush=True)
    print("\npartial resync after a 5 s cut with 50,000 writes meanwhile")
    print(f"{'server':<10} {'catch-up s':>10} {'full syncs':>10} {'partial ok':>10}")
    results = {name: partial_resync(binary) for name, binary in binaries.items()}
    for name, (elapsed, full, partial) in results.items():
        print(f"{name:<10} {elapsed:10.3f} {full:10d} {partial:10d}")
    print(f"ratio cinnabar/redis catch-up: {results['cinnabar'][0] / results['redis'][0]:.2f}")


if __name__ == "__main__":
    main()
