"""Devices stay in step: alice's first device (Chromium) verified bob's key and left an unsent
draft; her second device (a new Chromium profile) restores her key from the forum backup and,
with the inbox open, takes both over from the encrypted device-state PM. bob is pycore's Engine on
CPython with his key in his profile (stand-in, hostile page scripts + E2E_EXTRA_INJECT, leak
oracle on).

Ordered story: device 1 verifies bob's key, writes a draft, syncs and backs up → device 2
restores from the forum backup → device 2's inbox syncs by itself: bob's key is verified there
(as device 1 pinned it: device 2 never saw his profile before) and the draft is in the composer →
the forum holds the state only as ciphertext, and nothing secret reached the server or the page
scripts.
"""
from __future__ import annotations

import pytest

from pycore import inband

from .browser import ChromiumExt, wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, close_all, enable_and_publish, import_vector, story_fixtures
from .test_setup_restore_first import EnginePeer

pytestmark = pytest.mark.e2e

BACKUP = "alice's sync backup passphrase 7"
DEVICE2 = "alice's synced second device pass"
DRAFT = "An unsent draft that follows me: amber-okapi"
SECRETS = [PASSPHRASE, BACKUP, DEVICE2, DRAFT, "amber-okapi"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], bob_fp=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    out = {}
    for name in ("alice-1", "alice-2"):
        out[name] = ForumUser(ChromiumExt.launch(ext_dir, tmp_path_factory.mktemp(f"sync-{name}")), srv, "alice")
        out[name].login()
    yield out
    close_all(request, list(out.values()))


def devsync_done(u: ForumUser) -> str:
    wait_until(lambda: u.page_state("#devsync-state") in ("done", "error"), timeout=120,
               what=f"{u.username}: the inbox synced with the other devices")
    assert u.page_state("#devsync-state") == "done", u.b.q("#devsync-state").text
    return u.b.q("#devsync-state").text


def open_new_message_composer(u: ForumUser):
    u.to_forum("/u/alice/messages")
    u.click_page(".efd-new-message")
    u.composer()


def test_1_device1_verifies_bob_writes_a_draft_syncs_and_backs_up(users, srv, story):
    alice1 = users["alice-1"]
    bob = EnginePeer(srv)
    srv.set_bio("bob", bob.ok("keys.publish", {"bio_raw": "I am bob."})["bio_raw"])
    import_vector(alice1, 0, PASSPHRASE)
    enable_and_publish(alice1)
    checked = alice1.call("keys.check", {"origin": srv.origin, "username": "bob", "bio_raw": srv.user("bob")["bio_raw"]})
    story.bob_fp = checked["fingerprint"]
    alice1.call("keys.mark_verified", {"origin": srv.origin, "username": "bob", "fingerprint": story.bob_fp})
    open_new_message_composer(alice1)
    alice1.type("#body", DRAFT)
    wait_until(lambda: alice1.d.find_element("css selector", "#body").get_attribute("data-saved") == "1", timeout=30,
               what="alice-1: the draft saved (encrypted, in the engine)")
    alice1.d.find_element("css selector", "#cancel-btn").click()
    alice1.inbox()
    # without a backup there is nowhere to keep the records yet: the inbox says so, posts nothing
    wait_until(lambda: alice1.page_state("#devsync-state") == "no_backup", timeout=120,
               what="alice-1: sync waits for a backup")
    topics_before = len(srv.topics())
    alice1.type("#backup-local", PASSPHRASE)
    alice1.type("#backup-pass", BACKUP)
    alice1.b.click("#backup-btn")
    wait_until(lambda: alice1.page_state("#backup-btn") == "done", timeout=180, what="alice-1: backed up")
    alice1.b.click("#devsync-btn")
    devsync_done(alice1)
    # one new topic (the backup); the state is a reply in it, ciphertext to herself
    assert len(srv.topics()) == topics_before + 1
    backup = [t for t in srv.topics() if t["title"] == inband.BACKUP_TITLE][-1]
    raws = [p["raw"] for p in srv.posts(backup["id"])][1:]
    assert raws and all("BEGIN EFD DEVICE STATE" in r and "amber-okapi" not in r for r in raws)


def test_2_device2_restores_and_takes_over_the_verification_and_the_draft(users, srv, story):
    alice2 = users["alice-2"]
    alice2.ext_page("ui/options.html")
    alice2.b.engine_ready(timeout=180)
    alice2.call("site.enable", {"origin": srv.origin})
    alice2.to_forum("/")
    assert alice2.inbox() == "no-identity"
    wait_until(lambda: alice2.b.q("#status").get_attribute("data-found") == "backup", timeout=60,
               what="alice-2: the backup found on the forum")
    alice2.type("#restore-secret", BACKUP)
    alice2.type("#restore-new", DEVICE2)
    alice2.b.click("#restore-btn")
    wait_until(lambda: alice2.page_state() == "ready", timeout=300, what="alice-2: restored from the forum backup")
    said = devsync_done(alice2)
    assert "1 key marks" in said and "1 drafts" in said, said
    # bob's key, which this device never saw in his profile, is verified as device 1 verified it
    seen = alice2.call("keys.check", {"origin": srv.origin, "username": "bob", "bio_raw": srv.user("bob")["bio_raw"]})
    assert (seen["status"], seen["fingerprint"], seen["verified"]) == ("verified", story.bob_fp, True)
    # the draft is in this device's composer
    open_new_message_composer(alice2)
    wait_until(lambda: alice2.d.find_element("css selector", "#body").get_attribute("value") == DRAFT, timeout=30,
               what="alice-2: the draft from device 1 in the composer")


def test_3_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    for u in users.values():
        assert "amber-okapi" not in u.hostile_loot()
