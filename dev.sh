#!/usr/bin/env bash
# The project's entry point. On a fresh Debian 12 machine (Python >= 3.11, Node >= 20):
#   ./dev.sh build   installs what is needed, builds pycore and the extension packages (dist/)
#   ./dev.sh test    installs what is needed, builds, and runs every test
#   ./dev.sh demo    builds, then starts the Discourse stand-in with demo users
#   ./dev.sh bench   builds, then prints the benchmark table
set -euo pipefail
cd "$(dirname "$0")"
cmd="${1:-}"; shift || true
case "$cmd" in
  build)
    tools/bootstrap.sh
    .venv/bin/python build.py "$@"
    ;;
  test)
    tools/bootstrap.sh
    .venv/bin/python build.py
    exec .venv/bin/python -m pytest "$@"
    ;;
  demo)
    tools/bootstrap.sh
    .venv/bin/python build.py
    exec .venv/bin/python -m tests.standin --demo "$@"
    ;;
  bench)
    tools/bootstrap.sh
    .venv/bin/python build.py
    exec .venv/bin/python build.py bench "$@"
    ;;
  *)
    echo "usage: ./dev.sh build|test|demo|bench [args]" >&2
    exit 2
    ;;
esac
