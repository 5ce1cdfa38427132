"""Shared fixtures for the redis-py tests: a fresh cinnabar-server per test.

The binary is taken from $CINNABAR_BIN (scripts/test.sh sets it), else from
target/ci or target/debug of this checkout.
"""

import os
import pathlib
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def binary():
    if os.environ.get("CINNABAR_BIN"):
        return os.environ["CINNABAR_BIN"]
    for profile in ("ci", "debug", "release"):
        path = ROOT / "target" / profile / "cinnabar-server"
        if path.exists():
            return str(path)
    pytest.skip("cinnabar-server is not built")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    """A fresh server on a free port; yields its port."""
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        log_path = pathlib.Path(workdir) / "server.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [binary(), "--port", str(port), "--bind", "127.0.0.1"],
                cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 10
            while "Ready to accept connections" not in log_path.read_text():
                assert process.poll() is None, log_path.read_text()
                assert time.time() < deadline, "server did not start"
                time.sleep(0.02)
            yield port
        finally:
            process.kill()
            process.wait()
