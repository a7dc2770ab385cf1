"""A web page on an enabled forum origin cannot reach the engine or read extension resources."""
import json
import time

import pytest

from .browser import wait_until
from .conftest import enable_site

pytestmark = [pytest.mark.e2e, pytest.mark.forum_independent]

FORGERIES = [
    {"type": "identity.lock", "payload": {}},
    {"type": "identity.reset", "payload": {"confirm": "RESET"}},
    {"target": "engine", "type": "identity.reset", "payload": {"confirm": "RESET"},
     "context": {"sender": "page:options", "marker": "forged"}},
    {"type": "identity.export", "payload": {"passphrase": "guess guess guess guess"}},
    {"type": "settings.set", "payload": {"auto_lock_seconds": 1}},
]


def _load_forum(b, origin):
    b.driver.get(origin + "/index.html")
    wait_until(lambda: b.driver.execute_script("return document.documentElement.dataset.efdContent") == "enabled",
               timeout=30, what="the content script to announce itself")


def test_page_cannot_reach_the_engine(alice, local_site):
    b = alice
    d = b.driver
    enable_site(b, local_site)
    before = b.status()
    assert before["unlocked"] and before["has_identity"]
    settings_before = b.call("settings.get")
    _load_forum(b, local_site)

    # 1. No messaging API from the page world: there is no externally_connectable.
    api = d.execute_script("""
        const c = globalThis.chrome;
        return {runtime: !!(c && c.runtime), sendMessage: !!(c && c.runtime && c.runtime.sendMessage),
                connect: !!(c && c.runtime && c.runtime.connect), browser: typeof globalThis.browser};""")
    assert api["sendMessage"] is False and api["connect"] is False and api["browser"] == "undefined"
    err = d.execute_script("""
        try { chrome.runtime.sendMessage(arguments[0], {type: "identity.lock", payload: {}}); return "sent"; }
        catch (e) { return String(e); }""", b.ext_id)
    assert err != "sent"

    # 2. window.postMessage / DOM event forgeries are ignored (nothing listens to them).
    d.execute_script("""
        for (const m of arguments[0]) {
          window.postMessage(m, "*");
          window.postMessage(JSON.stringify(m), "*");
          document.dispatchEvent(new CustomEvent("efd", {detail: m}));
          document.dispatchEvent(new CustomEvent(m.type, {detail: m}));
        }""", FORGERIES)
    time.sleep(1.0)  # give any (wrong) listener a chance to act before checking that nothing happened

    # 3. Extension resources are not web-accessible from the page.
    fetched = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const base = arguments[0];
        Promise.all(["pycore.zip", "ui/options.html", "engine/offscreen.html", "manifest.json"].map(
            (p) => fetch(base + p).then((r) => "read " + r.status, (e) => "blocked")))
          .then(done);""", b.base)
    assert fetched == ["blocked"] * 4

    # 4. The content script itself only ever gets public fields (test-build round-trip hook).
    d.execute_script("document.dispatchEvent(new CustomEvent('efd-test-roundtrip'))")
    rt = json.loads(wait_until(lambda: d.execute_script(
        "return document.documentElement.getAttribute('data-efd-roundtrip')"), timeout=30, what="round trip"))
    assert rt["ok"] is True
    assert set(rt["result"]) == {"has_identity", "unlocked"}

    b.open_page("ui/options.html")
    after = b.status()
    assert after["unlocked"] is True and after["has_identity"] is True
    assert after["fingerprint"] == before["fingerprint"]
    assert b.call("settings.get") == settings_before


def _registered(b):
    b.open_page("ui/options.html")
    return b.driver.execute_async_script(
        "chrome.scripting.getRegisteredContentScripts().then(s => arguments[0](s.map(x => [x.runAt, x.matches])"
        ".sort()))")


def test_content_script_only_on_enabled_sites(alice, local_site):
    b = alice
    d = b.driver
    assert _registered(b) == []
    d.get(local_site + "/index.html")
    time.sleep(0.5)  # the content script would have run at document_idle if it were registered
    assert d.execute_script("return document.documentElement.dataset.efdContent || null") is None
    enable_site(b, local_site)
    # the page integration at document_idle, and what must be read before page scripts run at document_start
    assert _registered(b) == [["document_idle", ["http://127.0.0.1/*"]], ["document_start", ["http://127.0.0.1/*"]]]
    _load_forum(b, local_site)
    b.open_page("ui/options.html")
    b.call("site.disable", {"origin": local_site})
    assert _registered(b) == []
    d.get(local_site + "/index.html")
    time.sleep(0.5)
    assert d.execute_script("return document.documentElement.dataset.efdContent || null") is None
