"""Fixtures for end-to-end tests of the built extension (Selenium + headless Chromium / Firefox ESR).

For the e2e test modules:
- `ext_dir` / `ext_dir_firefox`: the unpacked *test* builds (dist/chromium-test, dist/firefox-test),
  built by `python build.py` (built here once if missing). Test builds = store build + manifest
  `host_permissions` for http://127.0.0.1/* and http://localhost/* (so no permission prompt is
  needed for local servers) + `testHooks` (the `test.*` messages). The store build never has either.
- `ext_id`: the fixed Chromium extension id (from the manifest key).
- `chromium(name="alice")` factory: a new Chromium with the extension in its own profile; one per
  user. Closed at teardown; browser console logs are printed when the test failed.
- `alice` / `bob`: Chromium with a vector identity (identities.json index 0 / 1) imported and
  unlocked (fast path, no RSA-4096 generation); `PASSPHRASE` is their passphrase.
- `enable_site(browser, origin)`: enables the extension on a local origin (registers the content scripts).
- `local_site`: a tiny local HTTP server (127.0.0.1, random port) serving a Discourse-like page.
- `firefox(name)` factory: Firefox ESR with the test build installed as a temporary add-on.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import known_answer_dir, missing_tool

from .browser import ChromiumExt, FirefoxExt, extension_id

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "e2e test passphrase, long enough"

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request) -> bool:
    return any(getattr(getattr(request.node, "rep_" + w, None), "failed", False) for w in ("setup", "call"))


def _ensure_built(name: str) -> Path:
    d = REPO / "dist" / name
    if not (d / "manifest.json").is_file():
        subprocess.run([sys.executable, str(REPO / "build.py"), "--no-zip"], check=True, cwd=REPO)
    return d


@pytest.fixture(scope="session")
def ext_dir() -> Path:
    return _ensure_built("chromium-test")


@pytest.fixture(scope="session")
def ext_dir_firefox() -> Path:
    return _ensure_built("firefox-test")


@pytest.fixture(scope="session")
def ext_id(ext_dir) -> str:
    return extension_id(ext_dir)


def vectors(name: str) -> dict:
    return json.loads((known_answer_dir() / f"{name}.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def identity_vectors() -> dict:
    return vectors("identities")


def _browser_factory(request, tmp_path, start, prefix: str, log_title: str):
    """Body of a browser factory fixture (`yield from`): yields launch(name, **kw), which starts a
    browser with start(profile_dir, **kw) in tmp_path/"{prefix}-{name}-{n}". At teardown every
    browser is closed; when the test failed, log_title (formatted with b=the browser) and the
    browser's log are printed first."""
    started = []

    def launch(name: str = "user", **kw):
        b = start(tmp_path / f"{prefix}-{name}-{len(started)}", **kw)
        b.user = name
        started.append(b)
        return b

    yield launch
    for b in started:
        if _failed(request):
            print(f"\n===== {log_title.format(b=b)} =====")
            for line in b.logs():
                print(line[:2000])
        b.close()


@pytest.fixture
def chromium(request, ext_dir, tmp_path):
    """Factory: chromium("alice") -> ChromiumExt in its own profile dir."""
    yield from _browser_factory(request, tmp_path, partial(ChromiumExt.launch, ext_dir), "profile",
                                "browser console of {b.user} ({b.name})")


@pytest.fixture
def firefox(request, ext_dir_firefox, tmp_path):
    """Factory: firefox("alice") -> FirefoxExt with the test build installed, in its own profile dir."""
    if not Path("/usr/lib/firefox-esr/firefox-esr").exists() and not os.environ.get("EFD_FIREFOX"):
        missing_tool("Firefox ESR is not installed")
    yield from _browser_factory(request, tmp_path, partial(FirefoxExt.launch, ext_dir_firefox), "ff",
                                "geckodriver/Firefox log of {b.user}")


def setup_vector_identity(browser, index: int, passphrase: str = PASSPHRASE) -> dict:
    """Fast path: import identities.json case `index` (unprotected export) and unlock it."""
    case = vectors("identities")["cases"][index]
    clear = next(e for e in case["exports"] if e["passphrase"] is None)
    browser.open_page("ui/options.html")
    browser.engine_ready()
    res = browser.import_identity(clear["private"], passphrase)
    browser.vector_case = case
    return res


@pytest.fixture
def alice(chromium):
    b = chromium("alice")
    setup_vector_identity(b, 0)
    return b


@pytest.fixture
def bob(chromium):
    b = chromium("bob")
    setup_vector_identity(b, 1)
    return b


def enable_site(browser, origin: str) -> dict:
    """Registers the content scripts for `origin` (test builds already hold the host permission
    for 127.0.0.1/localhost, so no prompt). Pages loaded afterwards get the content scripts."""
    return browser.call("site.enable", {"origin": origin})


DISCOURSE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="generator" content="Discourse 3.4.0 - https://github.com/discourse/discourse version test">
<title>Local forum</title></head>
<body><div id="main-outlet"><h1>Local forum</h1></div></body></html>
"""


@pytest.fixture
def local_site(tmp_path):
    """A local page that looks like Discourse to the detector: yields its origin (http://127.0.0.1:PORT).
    Put extra files in `local_site_dir` (the same tmp dir) before loading them."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(DISCOURSE_PAGE)
    (root / "plain.html").write_text("<!doctype html><title>plain</title><p>not a forum</p>")
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    local_site_dirs[origin] = root
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
        local_site_dirs.pop(origin, None)


local_site_dirs: dict[str, Path] = {}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
