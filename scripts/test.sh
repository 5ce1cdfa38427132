#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian machine: installs the peers
# the tests talk to (the real redis-server 7.0 and redis-tools as the oracle,
# Python's redis client), builds once in the `ci` profile, then runs the Rust
# tests (unit, integration, differential corpus) and the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v redis-benchmark >/dev/null || need_apt+=(redis-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian starts a redis-server service on install in some images; tests use
# their own ports, so it is left alone.
python3 -c 'import redis' 2>/dev/null || python3 -m pip install -q 'redis>=5,<6'

cargo build --profile ci --workspace --all-targets
cargo test --profile ci --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-4}"

if compgen -G "tests/python/test_*.py" >/dev/null; then
  python3 -m pip install -q pytest >/dev/null 2>&1 || true
  CINNABAR_BIN="$PWD/target/ci/cinnabar-server" python3 -m pytest -q tests/python
fi
