#!/usr/bin/env bash
# The project's entry point. On a fresh Debian 12 machine (Python >= 3.11, Node >= 20):
#   ./dev.sh build   installs what is needed, builds pycore and the extension packages (dist/)
#   ./dev.sh test    installs what is needed, builds, and runs every test (then the stories whose
#                    paths the real-forum stand-in profile changes, again on that profile)
#   ./dev.sh test-real-forum   the whole e2e suite on that profile
#   ./dev.sh demo    builds, then starts the Discourse stand-in with demo users
#   ./dev.sh bench   builds, then prints the benchmark table
set -euo pipefail
cd "$(dirname "$0")"
cmd="${1:-}"; shift || true
# On the real-forum profile. CI runs the modules marked real_forum_pass (subfolder, cloaking, the
# rich editor and drafts, paged PM lists, rate limits: what the profile changes), which keeps CI
# under 45 minutes; test-real-forum runs every module that talks to the stand-in.
real_forum_pass() {
  E2E_STANDIN_SETTINGS=tests/e2e/profiles/real-forum.json \
    .venv/bin/python -m pytest tests/e2e -m "$1" "${@:2}"
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
    real_forum_pass "e2e and real_forum_pass" "$@" || status=$?
    exit "$status"
    ;;
  test-real-forum)
    tools/bootstrap.sh
    .venv/bin/python build.py
    real_forum_pass "e2e and not forum_independent" "$@"
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
