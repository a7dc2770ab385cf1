"""Updates keep everything: alice uses the first release (0.1.0, built here from git history) in a
Chromium profile, then the extension is replaced by this build in the same profile (same id, the
unpacked folder Chromium loads is swapped, as an update does), and everything she had is there.

One ordered story (shared browsers and server; a step is skipped when an earlier one failed).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import ChromiumExt, extension_id, wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, browsers, enable_and_publish, import_vector, launch_chromium, story_fixtures

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# The commit of release 0.1.0 (its manifest says 0.1.0): a fixed point, whatever main becomes.
V0_1_0 = "8a43fc0f953020c4161850bbe4d402851f2fc073"
ALICE_PASSPHRASE = "alice passphrase from version 0.1.0"
BACKUP_PASSPHRASE = "alice backup passphrase, on paper"
TITLE = "Written with 0.1.0 (secret title)"
BODY = "Before the update. Secret word: cobalt-pelican."
DRAFT = "Unsent draft from 0.1.0: saffron-otter."
SECRETS = [PASSPHRASE, ALICE_PASSPHRASE, BACKUP_PASSPHRASE, TITLE, BODY, "cobalt-pelican", DRAFT, "saffron-otter"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], topic_id=None, post_id=None,
                                              bob_fp=None, alice_fp=None)


def build_release(commit: str) -> Path:
    """The test build (dist/chromium-test) of an earlier commit, made by that commit's own build.py
    from `git archive`, cached in dist/fixtures/ (built once per commit)."""
    out = REPO / "dist" / "fixtures" / f"release-{commit[:12]}"
    if (out / "chromium-test" / "manifest.json").is_file():
        return out / "chromium-test"
    src = out.with_name(out.name + "-src")
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    have = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", commit + "^{commit}"], capture_output=True)
    assert have.returncode == 0, f"commit {commit} (release 0.1.0) is not in this clone: fetch the full history"
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    # Its lockfile pins the same runtime packages (its build.py checks the Pyodide version).
    (src / "node_modules").symlink_to(REPO / "node_modules")
    r = subprocess.run([sys.executable, str(src / "build.py"), "--no-zip", "--out", str(out)], cwd=src,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    shutil.rmtree(src, ignore_errors=True)
    return out / "chromium-test"


@pytest.fixture(scope="module")
def old_build():
    d = build_release(V0_1_0)
    assert json.loads((d / "manifest.json").read_text())["version"] == "0.1.0"
    return d


@pytest.fixture(scope="module")
def users(request, ext_dir, old_build, tmp_path_factory, srv):
    assert extension_id(old_build) == extension_id(ext_dir), "an update keeps the extension id"
    installed = tmp_path_factory.mktemp("installed") / "ext"
    shutil.copytree(old_build, installed)
    with browsers(request) as started:
        bob = launch_chromium(started, ext_dir, tmp_path_factory, srv, "update-bob", "bob")
        alice = ForumUser(ChromiumExt.launch(installed, tmp_path_factory.mktemp("update-alice")), srv, "alice")
        started.append(alice)
        alice.login()
        yield {"alice": alice, "bob": bob, "installed": installed}


def test_01_alice_uses_0_1_0(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    import_vector(bob, 1, PASSPHRASE)
    enable_and_publish(bob)
    alice.ext_page("ui/options.html")
    st = alice.b.engine_ready()
    assert not st["has_identity"] and "storage" not in st, "0.1.0 has no schema versions"
    created = alice.call("identity.create", {"passphrase": ALICE_PASSPHRASE}, timeout=240)
    story.alice_fp = created["fingerprint"]
    enable_and_publish(alice, key_state=False)   # 0.1.0's inbox has no key-state line
    # a backup on the forum
    alice.d.switch_to.window(alice.ext_handle)
    alice.type("#backup-local", ALICE_PASSPHRASE)
    alice.type("#backup-pass", BACKUP_PASSPHRASE)
    alice.b.click("#backup-btn")
    wait_until(lambda: alice.d.find_element("css selector", "#backup-btn").get_attribute("data-state") == "done",
               timeout=120, what="alice: backup posted")
    # bob's key pinned and verified
    bio = srv.user("bob")["bio_raw"]
    check = alice.call("keys.check", {"origin": srv.origin, "username": "bob", "bio_raw": bio})
    story.bob_fp = check["fingerprint"]
    alice.call("keys.mark_verified", {"origin": srv.origin, "username": "bob", "fingerprint": story.bob_fp})
    assert alice.call("keys.check", {"origin": srv.origin, "username": "bob", "bio_raw": bio})["verified"] is True


def test_02_alice_writes_to_bob_and_leaves_a_draft(users, srv, story):
    alice = users["alice"]
    alice.to_forum("/u/alice/messages")
    alice.click_page(".efd-new-message")
    alice.composer()
    alice.type("#to", "bob\n")
    alice.type("#title", TITLE)
    alice.type("#body", BODY)
    alice.send_composer()
    story.topic_id = alice.wait_topic_page()
    story.post_id = srv.posts(story.topic_id)[0]["id"]
    assert alice.read_viewer(story.post_id)["body"].startswith("Before the update")
    alice.click_page(".efd-reply")
    alice.composer()
    alice.type("#body", DRAFT)
    wait_until(lambda: alice.d.find_element("css selector", "#body").get_attribute("data-saved") == "1",
               timeout=20, what="alice: draft saved")
    alice.d.switch_to.default_content()


def test_03_the_update_keeps_everything(users, srv, story, ext_dir):
    alice = users["alice"]
    installed = users["installed"]
    # Replace the unpacked folder Chromium loads, then start the browser again on the same
    # profile: Chromium sees a new version of the same extension id (an update).
    alice.b.driver.quit()
    shutil.rmtree(installed)
    shutil.copytree(ext_dir, installed)
    # An update from a store installs the new version and registers its service worker anew.
    # An unpacked folder swapped under --load-extension keeps running the old worker script from
    # the profile's service-worker cache (seen: the old router's message table answered), so the
    # cache goes, as an update would replace it. It holds no data of ours (that lives in
    # IndexedDB and extension storage, which stay).
    shutil.rmtree(alice.b.profile_dir / "Default" / "Service Worker", ignore_errors=True)
    alice.b.driver = alice.b._start()
    alice.b.main_handle = alice.b.driver.current_window_handle
    alice.d = alice.b.driver          # ForumUser keeps the driver it was given
    alice.forum_handle = None
    alice.ext_handle = None
    alice.login()
    alice.ext_page("ui/options.html")
    st = alice.b.engine_ready()
    assert st["has_identity"] and st["fingerprint"] == story.alice_fp
    assert st["storage"]["previous"] == 0 and st["storage"]["migrated"] > 0, st["storage"]
    assert st["storage"]["unknown"] == [] and st["storage"]["newer"] == []
    assert alice.d.execute_script("return chrome.runtime.getManifest().version") == \
        json.loads((ext_dir / "manifest.json").read_text())["version"]
    # the identity unlocks with the passphrase of 0.1.0
    assert alice.call("identity.unlock", {"passphrase": ALICE_PASSPHRASE}, timeout=120)["unlocked"]
    # pins and verified states
    bio = srv.user("bob")["bio_raw"]
    check = alice.call("keys.check", {"origin": srv.origin, "username": "bob", "bio_raw": bio})
    assert check["fingerprint"] == story.bob_fp and check["verified"] is True and check["can_send"], check
    # enabled site (router storage) and its schema
    local = alice.d.execute_async_script("chrome.storage.local.get(null).then(arguments[0])")
    assert local["sites"] == [srv.origin] and local["schema"] == 1
    # old conversations read, and the draft is still there
    alice.to_forum(f"/t/{story.topic_id}")
    shown = alice.read_viewer(story.post_id)
    assert shown["body"].startswith("Before the update") and shown["title"] == TITLE
    alice.click_page(".efd-reply")
    alice.composer()
    assert alice.d.find_element("css selector", "#body").get_attribute("value") == DRAFT
    alice.d.switch_to.default_content()


def test_04_a_record_of_a_newer_version_is_refused_and_left_untouched(users, srv, story):
    alice = users["alice"]
    alice.ext_page("ui/options.html")
    key = f"inband.pin.{srv.origin}.bob"
    # What a later version could have written: the same record name with a schema this build
    # does not know, and the store's meta record saying so.
    put = """
const [key, done] = arguments;
const req = indexedDB.open("efd-engine", 1);
req.onsuccess = () => {
  const t = req.result.transaction("kv", "readwrite");
  const s = t.objectStore("kv");
  const g = s.get(key);
  g.onsuccess = () => { s.put({...g.result, schema: 99}, key); };
  const m = s.get("meta");
  m.onsuccess = () => { s.put({...m.result, schema: 99}, "meta"); };
  t.oncomplete = () => { req.result.close(); done(JSON.stringify(g.result)); };
};"""
    read = """
const [key, done] = arguments;
const req = indexedDB.open("efd-engine", 1);
req.onsuccess = () => {
  const g = req.result.transaction("kv").objectStore("kv").get(key);
  g.onsuccess = () => { req.result.close(); done(JSON.stringify(g.result)); };
};"""
    before = json.loads(alice.d.execute_async_script(put, key))
    alice.b.drop_engine()   # the next request starts the engine again: it checks its store
    r = alice.b.send("keys.mark_verified", {"origin": srv.origin, "username": "bob", "fingerprint": story.bob_fp},
                     timeout=120)
    assert not r["ok"] and r["error"]["code"] == "newer_data", r
    assert "newer version of Encrypt for Discourse" in r["error"]["message"]
    after = json.loads(alice.d.execute_async_script(read, key))
    assert after == {**before, "schema": 99}, "left untouched"
    assert key in alice.b.status()["storage"]["newer"]
