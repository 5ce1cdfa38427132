#!/usr/bin/env python3
"""TLS throughput: redis-benchmark --tls SET and GET against Cinnabar's
tls-port and redis-server's, same certificates (made here with openssl),
alternating servers, medians of several rounds, with Cinnabar/Redis ratios.
Usage: bench/tls.py [rounds]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from servers import Server, benchmark_rps, cinnabar_binary, free_port

CERTS = """set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=BenchCA
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext
printf 'extendedKeyUsage=clientAuth\\n' > client.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext
"""
REQUESTS = 100_000
VARIANTS = [("50 clients", []), ("50 clients -P 16", ["-P", "16"])]


def start(name, binary, certs):
    tls_port = free_port()
    extra = ["--tls-port", str(tls_port)] + [arg for f, d in (("server.crt", "--tls-cert-file"),
                                                              ("server.key", "--tls-key-file"),
                                                              ("ca.crt", "--tls-ca-cert-file"))
                                             for arg in (d, os.path.join(certs, f))]
    server = Server(name, binary, extra)
    server.tls_port = tls_port
    return server


def benchmark(server, certs, test, args):
    tls = ["--tls", "--cacert", os.path.join(certs, "ca.crt"), "--cert", os.path.join(certs, "client.crt"),
           "--key", os.path.join(certs, "client.key")]
    out = subprocess.run(["redis-benchmark", *tls, "-p", str(server.tls_port), "-n", str(REQUESTS), "-t", test,
                          "--csv", *args], check=True, capture_output=True, text=True).stdout
    return benchmark_rps(out)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    certs = tempfile.mkdtemp(prefix="bench-tls-")
    servers = []
    try:
        subprocess.run(["sh", "-c", CERTS], cwd=certs, check=True, capture_output=True)
        servers = [start("cinnabar", cinnabar_binary(), certs),
                   start("redis", shutil.which("redis-server") or "redis-server", certs)]
        print(f"{'test':<28}{'cinnabar':>12}{'redis':>12}{'ratio':>8}")
        for label, args in VARIANTS:
            for test in ("set", "get"):
                results = {s.name: [] for s in servers}
                for _ in range(rounds):
                    for s in servers:
                        results[s.name].append(benchmark(s, certs, test, args))
                c, r = statistics.median(results["cinnabar"]), statistics.median(results["redis"])
                print(f"{test.upper() + ' ' + label:<28}{c:>12.0f}{r:>12.0f}{c / r:>8.2f}")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(certs, ignore_errors=True)


if __name__ == "__main__":
    main()
