"""Setting up a device that has no key looks on the forum first. alice has a key on device 1;
device 2 is a new Chromium profile logged in as alice. bob is pycore's Engine on CPython, who
pinned alice's first key from her profile.

Ordered story: device 1 publishes its key (no backup yet) → device 2's options page and encrypted
inbox say that alice's profile publishes a key (with its fingerprint), that this forum holds no
backup of it, and what a new key would mean → device 1 backs up to the forum → device 2's inbox
offers the restore first, before a new key → device 2 restores the old key and replaces it with a
new one in one step: the new key is published with a change signed by the old key, which bob's
engine reports as signed → nothing secret reached the server or the page scripts.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from pycore import engine as E
from pycore import inband

from .browser import ChromiumExt, wait_until
from .conftest import PASSPHRASE, vectors
from .convo import ForumUser, close_all, enable_and_publish, import_vector, story_fixtures

pytestmark = pytest.mark.e2e

BACKUP = "alice's forum backup passphrase 9"
DEVICE2 = "alice's second device passphrase 4"
BOB_PASSPHRASE = "bob engine passphrase on cpython"
SECRETS = [PASSPHRASE, BACKUP, DEVICE2, BOB_PASSPHRASE]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], first_digits=None, bob=None)


class EnginePeer:
    """bob: pycore's Engine on CPython (identities.json case 1), reading alice's profile."""

    def __init__(self, srv):
        from pycore.primitives import default_primitives
        self.srv = srv
        self.engine = E.Engine(default_primitives(), E.MemoryStore(), time.time, kdf_iterations=1000)
        case = vectors("identities")["cases"][1]
        clear = next(e for e in case["exports"] if e["passphrase"] is None)
        self.ok("identity.import", {"text": clear["private"], "new_passphrase": BOB_PASSPHRASE})

    def ok(self, type_, payload):
        r = asyncio.run(self.engine.handle(type_, payload, {"sender": "page:inbox", "marker": "e2e-marker"}))
        assert r["ok"], r
        return r["result"]

    def check(self, username):
        return self.ok("keys.check", {"origin": self.srv.origin, "username": username,
                                      "bio_raw": self.srv.user(username)["bio_raw"]})


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    out = {}
    for name in ("alice-1", "alice-2"):
        out[name] = ForumUser(ChromiumExt.launch(ext_dir, tmp_path_factory.mktemp(f"setup-{name}")), srv, "alice")
        out[name].login()
    yield out
    close_all(request, list(out.values()))


def _setup_found(u: ForumUser) -> str:
    """The inbox of a device without a key, once it has looked on the forum: what it found."""
    assert u.inbox() == "no-identity"
    return u.d.find_element("css selector", "#status").get_attribute("data-found")


def test_1_device1_publishes_and_bob_pins_the_key(users, srv, story):
    alice1 = users["alice-1"]
    import_vector(alice1, 0, PASSPHRASE)
    enable_and_publish(alice1)
    story.first_digits = alice1.call("engine.status")["digits"]
    story.bob = EnginePeer(srv)
    assert story.bob.check("alice")["status"] == "first_seen"


def test_2_a_new_device_is_told_that_a_key_is_published_but_not_backed_up(users, srv, story):
    alice2 = users["alice-2"]
    alice2.ext_page("ui/options.html")
    alice2.b.engine_ready(timeout=180)
    alice2.call("site.enable", {"origin": srv.origin})
    alice2.to_forum("/")
    # the options page, before "Create identity", names what each forum holds of the user's key
    alice2.ext_page("ui/options.html")
    b = alice2.b
    wait_until(lambda: b.q("#have-key-forums").get_attribute("data-state") == "done", timeout=60,
               what="alice-2: the options page looked on the forum")
    row = b.q(f'#have-key-forums li[data-origin="{srv.origin}"]')
    assert row.get_attribute("data-found") == "published" and story.first_digits in row.text
    assert b.q("#create-consequences").is_displayed() and "key changed" in b.q("#create-consequences").text
    above = b.q("#sec-have-key").location["y"]
    assert above < b.q("#sec-create").location["y"]
    # the inbox: no backup to restore, the published key named, and what a new key would mean
    assert _setup_found(alice2) == "published"
    status = b.q("#status").text
    assert story.first_digits in status and "no backup" in status
    assert not b.q("#sec-restore").is_displayed()
    assert b.q("#new-key-consequences").is_displayed() and not b.q("#new-key-signed").is_displayed()


def test_3_once_backed_up_the_new_device_is_offered_the_restore_first(users, srv, story):
    alice1, alice2 = users["alice-1"], users["alice-2"]
    alice1.inbox()
    alice1.type("#backup-local", PASSPHRASE)
    alice1.type("#backup-pass", BACKUP)
    alice1.b.click("#backup-btn")
    wait_until(lambda: alice1.page_state("#backup-btn") == "done", timeout=180, what="alice-1: backed up")
    assert _setup_found(alice2) == "backup"
    b = alice2.b
    assert story.first_digits in b.q("#status").text
    assert b.q("#sec-restore").is_displayed() and b.q("#restore-btn").is_displayed()
    # restore comes first; a new key is the second choice, with its consequences
    assert b.q("#sec-restore").location["y"] < b.q("#sec-new-key").location["y"]
    assert b.q("#new-key-consequences").is_displayed() and b.q("#new-key-signed").is_displayed()
    assert b.q("#restore-replace-btn").get_attribute("disabled") is not None   # armed by the checkbox only


def test_4_restore_then_replace_publishes_a_change_signed_by_the_old_key(users, srv, story):
    alice1, alice2 = users["alice-1"], users["alice-2"]
    b = alice2.b
    alice2.type("#restore-secret", BACKUP)
    alice2.type("#restore-new", DEVICE2)
    b.click("#new-key-understood")
    b.click("#restore-replace-btn")
    wait_until(lambda: alice2.page_state("#restore-replace-btn") == "done"
               or "error" in (b.q("#msg").get_attribute("class") or ""), timeout=300,
               what="alice-2: restored, replaced and published")
    assert alice2.page_state("#restore-replace-btn") == "done", b.q("#msg").text
    new_digits = alice2.call("engine.status")["digits"]
    assert new_digits != story.first_digits
    assert new_digits in b.q("#msg").text and story.first_digits in b.q("#msg").text
    assert alice2.page_state("#key-state") == "same"
    bio = srv.user("alice")["bio_raw"]
    assert bio.count(inband.KEY_BEGIN) == 1 and "Fingerprint: " + new_digits in bio
    # bob sees a key change that alice's previous key signed, not an unexplained new key
    seen = story.bob.check("alice")
    assert seen["status"] == "key_changed" and seen["change_signed"] is True
    # device 1 still has the old key and is told that the profile now publishes another one
    assert alice1.inbox() == "ready", alice1.b.q("#status").text
    try:
        wait_until(lambda: alice1.page_state("#key-state") == "other", timeout=60, what="alice-1: the change seen")
    except TimeoutError:
        raise AssertionError(f"key state {alice1.page_state('#key-state')!r}: {alice1.b.q('#key-state').text!r}")
    assert new_digits in alice1.b.q("#key-state").text


def test_5_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
