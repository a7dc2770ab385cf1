#!/usr/bin/env bash
# The project's entry point. On a fresh Debian 12 machine (Python >= 3.11, Node >= 20):
#   ./dev.sh build   installs what is needed, builds pycore and the extension packages (dist/)
#   ./dev.sh test    installs what is needed, builds, and runs every test (then the e2e suite
#                    again on the real-forum stand-in profile)
#   ./dev.sh test-real-forum   only that second e2e pass
#   ./dev.sh demo    builds, then starts the Discourse stand-in with demo users
#   ./dev.sh bench   builds, then prints the benchmark table
set -euo pipefail
cd "$(dirname "$0")"
cmd="${1:-}"; shift || true
# The modules marked forum_independent do not depend on the forum's settings and are left out.
real_forum_pass() {
  E2E_STANDIN_SETTINGS=tests/e2e/profiles/real-forum.json \
    .venv/bin/python -m pytest tests/e2e -m "e2e and not forum_independent" "$@"
}
case "$cmd" in
  build)
    tools/bootstrap.sh
    .venv/bin/python build.py "$@"
    ;;
  test)
    tools/bootstrap.sh
    .venv/bin/python build.py
    # Every test, then the e2e suite again on a stand-in configured like a large real forum
    # (subfolder, DiscourseConnect, rich editor, cloaking, paged PM lists, Discourse's limits).
    # Both passes run; the command fails if either failed.
    status=0
    .venv/bin/python -m pytest "$@" || status=$?
    real_forum_pass "$@" || status=$?
    exit "$status"
    ;;
  test-real-forum)
    tools/bootstrap.sh
    .venv/bin/python build.py
    real_forum_pass "$@"
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
