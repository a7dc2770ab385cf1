#!/usr/bin/env bash
# The project's entry point. On a fresh Debian 12 machine (Python >= 3.11, Node >= 20):
#   ./dev.sh build   installs what is needed, builds pycore and the extension packages (dist/)
#   ./dev.sh test    installs what is needed, builds, and runs every test
#   ./dev.sh test-real-forum   the e2e suite on the real-forum stand-in profile
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
  test-real-forum)
    # The e2e suite against a stand-in configured like a large real forum (subfolder,
    # DiscourseConnect, rich editor, cloaking, paged PM lists). Not yet part of `test`: it has not
    # had a full green run.
    tools/bootstrap.sh
    .venv/bin/python build.py
    E2E_STANDIN_SETTINGS=tests/e2e/profiles/real-forum.json exec .venv/bin/python -m pytest tests/e2e -m "e2e and not forum_independent" "$@"
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
    echo "usage: ./dev.sh build|test|test-real-forum|demo|bench [args]" >&2
    exit 2
    ;;
esac
