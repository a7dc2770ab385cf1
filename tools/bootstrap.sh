#!/usr/bin/env bash
# Installs everything the build, the demo and the tests need on a fresh Debian 12 machine:
# Debian packages (browsers and drivers), a Python virtual environment from requirements.lock,
# and npm packages from package-lock.json. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
[ -x /usr/lib/chromium/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
if [ "${SKIP_FIREFOX:-0}" != 1 ] && [ ! -x /usr/lib/firefox-esr/firefox-esr ]; then need_apt+=(firefox-esr); fi
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v zip >/dev/null || true   # build.py uses Python's zipfile; no zip binary needed
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # Wait for a dpkg lock held by another apt (e.g. at boot) instead of failing at once.
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need_apt[@]}" >/dev/null
fi
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
  echo "bootstrap: WARNING: Node $(node --version) is older than 20 (web-ext needs >= 20)" >&2

if [ ! -x .venv/bin/python ] || ! cmp -s requirements.lock .venv/.installed-lock; then
  echo "bootstrap: Python packages from requirements.lock"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  cp requirements.lock .venv/.installed-lock
fi

if [ ! -d node_modules ] || ! cmp -s package-lock.json node_modules/.installed-lock; then
  echo "bootstrap: npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-lock
fi
