"""Identity lifecycle in a real headless Chromium loading the built extension."""

import re

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE, setup_vector_identity, vectors

pytestmark = [pytest.mark.e2e, pytest.mark.forum_independent]


def _post_and_key(name="create_signed_one_upload", identity_index="0"):
    post = next(c for c in vectors("posts")["cases"] if c["name"] == name)
    wrapped = next(c for c in vectors("topic_keys")["cases"]
                   if str(c["topic_key_index"]) == str(post["topic_key_index"])
                   and str(c["identity_index"]) == identity_index)["wrapped"]
    return post, wrapped


def test_create_identity_in_the_ui_then_lock_and_unlock(chromium):
    b = chromium("creator")
    b.open_page("ui/options.html")
    b.wait_state("none", timeout=120)
    # Short passphrases cannot be submitted; strength feedback is shown.
    b.type_into("#create-pass", "short")
    assert b.q("#create-btn").get_attribute("disabled") is not None
    assert "too short" in b.q("#create-strength").text
    # Long but easy to guess: refused, with the estimator's advice.
    for weak in ("a" * 16, "password Password"):
        b.type_into("#create-pass", weak)
        b.type_into("#create-confirm", weak)
        assert b.q("#create-btn").get_attribute("disabled") is not None, weak
        advice = b.q("#create-strength").text
        assert b.q("#create-strength").get_attribute("data-ok") == "0" and "rated strong" in advice, (weak, advice)
    b.type_into("#create-pass", "a" * 16)
    assert "Repeated characters" in b.q("#create-strength").text
    b.type_into("#create-pass", PASSPHRASE)
    b.type_into("#create-confirm", PASSPHRASE + "x")
    assert b.q("#create-btn").get_attribute("disabled") is not None
    assert "do not match" in b.q("#create-msg").text
    b.type_into("#create-confirm", PASSPHRASE)
    assert "Strength:" in b.q("#create-strength").text
    b.click("#create-btn")
    # Visible progress while two RSA-4096 pairs are generated (may be very quick).
    b.wait_state("unlocked", timeout=180)
    st = b.status()
    assert st["has_identity"] and st["unlocked"] and st["version"] == 1 and st["kdf_iterations"] >= 1_000_000
    fp = st["fingerprint"]
    # The fingerprint's digits, as the engine formats them (six groups of five).
    assert re.fullmatch(r"\d{5}( \d{5}){5}", st["digits"]) and b.q("#fingerprint").text == st["digits"]
    # Lock now, then unlock with the passphrase through the UI.
    b.click("#lock-btn")
    b.wait_state("locked")
    b.type_into("#unlock-pass", PASSPHRASE)
    b.click("#unlock-btn")
    b.wait_state("unlocked")
    assert b.status()["fingerprint"] == fp
    pub = b.call("identity.public")
    assert pub["public"].startswith("1$") and pub["fingerprint"] == fp


def test_wrong_passphrase_is_refused_and_throttled(alice):
    b = alice
    b.open_page("ui/options.html")
    b.click("#lock-btn")
    b.wait_state("locked")
    wrong = "this is not the passphrase"
    for _ in range(2):  # after these: 1 s wait
        b.type_into("#unlock-pass", wrong)
        b.click("#unlock-btn")
        wait_until(lambda: "Wrong passphrase" in b.q("#unlock-msg").text, timeout=30, what="wrong-passphrase message")
        b.driver.execute_script("document.querySelector('#unlock-msg').textContent = ''")
    # Waits grow: 1, 2, 4, 8 s. The last one is long enough that a heavily loaded machine still
    # makes the next two requests inside it.
    for n in (3, 4, 5):
        wait_until(lambda: b.status()["throttled_for"] == 0, timeout=30, what="throttle to expire")
        r = b.send("identity.unlock", {"passphrase": wrong})
        assert r["error"]["code"] == "wrong_passphrase" and b.status()["failures"] == n
    # While throttled, even the right passphrase is refused with the remaining wait, without trying.
    r = b.send("identity.unlock", {"passphrase": PASSPHRASE})
    assert r["ok"] is False and r["error"]["code"] == "throttled" and 0 < r["error"]["retry_after"] <= 8
    assert r["error"]["failures"] == 5
    b.type_into("#unlock-pass", wrong)
    b.click("#unlock-btn")
    wait_until(lambda: "Too many wrong passphrases" in b.q("#unlock-msg").text, timeout=30, what="throttle message")
    assert b.status()["unlocked"] is False
    # the wait counts down where the user is looking, then says that trying again is possible
    seconds = lambda: int((re.search(r"Wait (\d+) seconds", b.q("#unlock-msg").text) or [0, 0])[1])
    first = seconds()
    assert first > 0
    wait_until(lambda: 0 < seconds() < first or "try your passphrase again now" in b.q("#unlock-msg").text,
               timeout=15, what="the throttle counting down")
    wait_until(lambda: "try your passphrase again now" in b.q("#unlock-msg").text, timeout=30, what="the end of the wait")
    # After the wait, the right passphrase works and the counter resets.
    wait_until(lambda: b.status()["throttled_for"] == 0, timeout=30, what="throttle to expire")
    assert b.call("identity.unlock", {"passphrase": PASSPHRASE})["unlocked"] is True
    assert b.status()["failures"] == 0


def test_auto_lock_fires_after_idle_time(alice):
    b = alice
    assert b.call("settings.set", {"auto_lock_seconds": 3})["auto_lock_seconds"] == 3
    st = b.status()
    assert st["unlocked"] is True and 0 < st["locks_in"] <= 3
    # Status polls are not activity: the identity locks by itself.
    wait_until(lambda: b.status()["unlocked"] is False, timeout=30, what="auto-lock")
    st = b.status()
    assert st["has_identity"] is True
    post, wrapped = _post_and_key()
    r = b.send("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]})
    assert r["ok"] is False and r["error"]["code"] == "locked"
    b.open_page("ui/options.html")
    b.wait_state("locked")


def test_identity_survives_engine_restart(alice):
    b = alice
    fp = b.status()["fingerprint"]
    assert b.offscreen_open()
    b.drop_engine()
    wait_until(lambda: not b.offscreen_open(), timeout=20, what="offscreen document to close")
    st = b.engine_ready()  # recreates the document, boots Pyodide again
    assert st["has_identity"] and st["unlocked"] and st["fingerprint"] == fp
    info = b.engine_info()
    assert info["boots"] == 1  # a fresh engine instance
    assert info["snapshot"] == "restored"  # booted from the Pyodide memory snapshot made on first start
    post, wrapped = _post_and_key()
    assert b.call("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]})["post"] == post["decrypted"]


def test_browser_restart_locks_but_keeps_identity(alice):
    b = alice
    fp = b.status()["fingerprint"]
    b.restart_browser()
    b.open_page("ui/options.html")
    st = b.engine_ready()
    assert st["has_identity"] is True and st["unlocked"] is False and st["fingerprint"] == fp
    b.wait_state("locked")
    b.type_into("#unlock-pass", PASSPHRASE)
    b.click("#unlock-btn")
    b.wait_state("unlocked")
    post, wrapped = _post_and_key("v0_unicode")
    assert b.call("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]})["post"] == post["decrypted"]


def test_import_protected_vector_in_the_ui_and_decrypt(chromium):
    case = vectors("identities")["cases"][1]
    protected = case["exports"][2]
    b = chromium("bob")
    b.open_page("ui/options.html")
    b.wait_state("none", timeout=120)
    b.set_value("#import-text", protected["private"])
    b.type_into("#import-pass", protected["passphrase"])
    b.type_into("#import-new", PASSPHRASE)
    b.type_into("#import-confirm", PASSPHRASE)
    b.click("#import-btn")
    b.wait_state("unlocked", timeout=60)
    assert b.call("identity.public")["public"] == case["exports"][0]["public"]
    for name in ("reply_20k", "title_2"):
        post = next(c for c in vectors("posts")["cases"] if c["name"] == name)
        wrapped = next(c for c in vectors("topic_keys")["cases"]
                       if str(c["topic_key_index"]) == str(post["topic_key_index"]) and str(c["identity_index"]) == "1")["wrapped"]
        assert b.call("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]})["post"] == post["decrypted"]


def test_paper_key_export_and_reset_in_the_ui(alice, chromium):
    b = alice
    b.open_page("ui/options.html")
    b.wait_state("unlocked")
    # Paper key: needs the passphrase again; shown once with its label.
    b.type_into("#paper-pass", PASSPHRASE)
    b.click("#paper-btn")
    b.wait_css("#paper-out")
    words = b.q("#paper-key").text.split()
    assert len(words) == 12 and b.q("#paper-label").text == "paper_" + words[0].lower()
    label_map = b.q("#paper-identity").get_attribute("value")
    # Export: wrong passphrase refused, right one gives the packed key pair.
    b.type_into("#export-pass", "wrong wrong wrong wrong")
    b.click("#export-btn")
    wait_until(lambda: "Wrong passphrase" in b.q("#export-msg").text, timeout=30, what="export refusal")
    wait_until(lambda: b.status()["throttled_for"] == 0, timeout=30, what="throttle to expire")
    b.type_into("#export-pass", PASSPHRASE)
    b.click("#export-btn")
    b.wait_css("#export-out")
    packed = b.q("#export-out").get_attribute("value")
    assert "BEGIN EXPORTED DISCOURSE ENCRYPT KEY PAIR" in packed
    fp = b.status()["fingerprint"]
    # Reset: typed confirmation.
    assert b.q("#reset-btn").get_attribute("disabled") is not None
    b.type_into("#reset-confirm", "RESET")
    b.click("#reset-btn")
    b.wait_state("none")
    assert b.status()["has_identity"] is False
    # The paper key restores the same identity (label map + paper key), then the export does too.
    assert b.import_identity(label_map, PASSPHRASE, passphrase=" ".join(words).lower())["fingerprint"] == fp
    b.call("identity.reset", {"confirm": "RESET"})
    assert b.import_identity(packed, PASSPHRASE)["fingerprint"] == fp


def test_popup_shows_the_state_for_the_current_tab(alice, local_site):
    b = alice
    d = b.driver

    def popup_for(url):
        d.switch_to.new_window("tab")
        d.get(url)
        tab_url = d.current_url
        ext = d.current_window_handle
        d.switch_to.new_window("tab")
        b.open_page("ui/options.html")
        tab_id = d.execute_async_script(
            "chrome.tabs.query({url: arguments[0]}).then(t => arguments[1](t.length ? t[0].id : null))",
            tab_url.split("#")[0])
        assert tab_id is not None
        b.open_page(f"ui/popup.html?tab={tab_id}")
        wait_until(lambda: b.q("#state").get_attribute("data-state") not in ("loading", None), timeout=60,
                   what="popup state")
        return b.q("#state").get_attribute("data-state"), ext

    state, _ = popup_for(local_site + "/plain.html")
    assert state == "not-discourse"
    state, _ = popup_for(local_site + "/index.html")
    assert state == "not-enabled"
    assert b.q("#enable-btn").is_displayed()
    b.click("#enable-btn")  # test build: the host permission is already granted, no prompt
    b.wait_state("unlocked", css="#state")
    assert local_site in b.call("site.list")["sites"]
    b.click("#lock-btn")
    b.wait_state("locked", css="#state")
    b.type_into("#unlock-pass", PASSPHRASE)
    b.click("#unlock-btn")
    b.wait_state("unlocked", css="#state")
    # Only the options page may reset: the popup is refused by the router's sender check.
    r = b.send("identity.reset", {"confirm": "RESET"})
    assert r["ok"] is False and r["error"]["code"] == "rejected" and "page:popup" in r["error"]["message"]
    popup_url = d.current_url
    b.open_page("ui/options.html")
    b.call("identity.reset", {"confirm": "RESET"})
    d.get(popup_url)
    b.wait_state("no-identity", css="#state")
    assert b.q("#setup-btn").is_displayed()
