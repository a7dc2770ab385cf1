"""A headless Chromium (Selenium) for the stand-in's own browser tests. Callers hold
/tmp/browser.lock (flock) around the run: the machine has few cores."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

CHROMIUM = os.environ.get("EFD_CHROMIUM", "/usr/lib/chromium/chromium")
CHROMEDRIVER = os.environ.get("EFD_CHROMEDRIVER", "/usr/bin/chromedriver")


def available() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


@contextlib.contextmanager
def chromium(timeout: float = 20, size=(1200, 900)):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="standin-chromium-")
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--no-first-run",
              "--no-default-browser-check", f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}",
              # only 127.0.0.1/localhost: no DNS look-ups of outside hosts (update, sign-in, search)
              "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"):
        o.add_argument(a)
    d = webdriver.Chrome(options=o, service=Service(CHROMEDRIVER))
    d.set_page_load_timeout(timeout)
    d.set_script_timeout(timeout)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
