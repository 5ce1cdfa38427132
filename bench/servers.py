"""Start Cinnabar and the real redis-server side by side for benchmarks.

Both run on free loopback ports in temporary directories with persistence
off, and are stopped (by the PIDs started here) when the context exits.
"""
import contextlib
import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cinnabar_binary():
    for profile in ("release", "ci"):
        path = os.path.join(ROOT, "target", profile, "cinnabar-server")
        if os.path.exists(path):
            return path
    raise SystemExit("build first: cargo build --release")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, binary, extra=()):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += list(extra)
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not start")

    @property
    def pid(self):
        return self.proc.pid

    def rss_bytes(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def both(extra=()):
    """Yields (cinnabar, redis) servers, stopping both afterwards."""
    started = []
    try:
        started.append(Server("cinnabar", cinnabar_binary(), extra))
        started.append(Server("redis", shutil.which("redis-server") or "redis-server", extra))
        yield started[0], started[1]
    finally:
        for s in started:
            s.stop()


def command(port, *args, timeout=30):
    """Runs one command with a raw socket and returns the raw reply text."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(encode(args))
        return read_reply(s.makefile("rb"))


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in b"$=":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind in b"*~>":
        return [read_reply(f) for _ in range(max(int(rest), 0))]
    if kind == b"%":
        return [read_reply(f) for _ in range(2 * int(rest))]
    if kind == b":":
        return int(rest)
    return rest


def info_field(port, section, field):
    text = command(port, "INFO", section)
    if isinstance(text, bytes):
        for line in text.decode(errors="replace").splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1]
    return None


def benchmark_rps(csv_output):
    """Requests per second from `redis-benchmark --csv` output (one test)."""
    rows = list(csv.reader(io.StringIO(csv_output)))
    return float(rows[1][1])
