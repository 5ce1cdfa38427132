#!/usr/bin/env python3
"""TLS cost: GET/SET throughput over TLS, redis-benchmark --tls against
Cinnabar (rustls) and redis-server (Debian's build, OpenSSL) in one run.

Certificates are made with the openssl command line in a temp directory
(clients are not asked for one: `tls-auth-clients no`). For each test and
load shape the servers are measured in alternation and the median
requests/second is printed with the ratio Cinnabar/Redis.
Usage: bench/tls.py [rounds]
"""
import shutil
import statistics
import subprocess
import sys
import tempfile

from servers import Server, benchmark_rps, cinnabar_binary, free_port

TESTS = ["set", "get"]
SHAPES = [("-c 50", ["-c", "50"], 200_000), ("-c 50 -P 16", ["-c", "50", "-P", "16"], 1_000_000)]
MAKE_CERTS = """set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=BenchCA 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
  -extfile server.ext 2>/dev/null
"""


def start(name, binary, certs):
    port = free_port()
    server = Server(name, binary, ["--tls-port", str(port), "--tls-cert-file", f"{certs}/server.crt",
                                   "--tls-key-file", f"{certs}/server.key", "--tls-ca-cert-file", f"{certs}/ca.crt",
                                   "--tls-auth-clients", "no"])
    server.tls_port = port
    return server


def run_benchmark(port, certs, test, shape, requests):
    out = subprocess.run(
        ["redis-benchmark", "--tls", "--cacert", f"{certs}/ca.crt", "-p", str(port), "-t", test,
         "-n", str(requests), "-r", "100000", "--csv", *shape],
        check=True, capture_output=True, text=True).stdout
    return benchmark_rps(out)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    certs = tempfile.mkdtemp(prefix="bench-tls-")
    servers = []
    try:
        subprocess.run(["sh", "-c", MAKE_CERTS], cwd=certs, check=True)
        servers = [start("cinnabar", cinnabar_binary(), certs),
                   start("redis", shutil.which("redis-server") or "redis-server", certs)]
        print(f"{'test':<5} {'load':<12} {'cinnabar rps':>13} {'redis rps':>13} {'ratio':>6}")
        for label, shape, requests in SHAPES:
            for test in TESTS:
                figures = {"cinnabar": [], "redis": []}
                for _ in range(rounds):
                    for server in servers:
                        figures[server.name].append(run_benchmark(server.tls_port, certs, test, shape, requests))
                c, r = statistics.median(figures["cinnabar"]), statistics.median(figures["redis"])
                print(f"{test.upper():<5} {label:<12} {c:>13,.0f} {r:>13,.0f} {c / r:>6.2f}", flush=True)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(certs, ignore_errors=True)


if __name__ == "__main__":
    main()
