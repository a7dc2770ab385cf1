"""Replacing one's key: the new key is published with a change signed by the old one, contacts
see that it is signed, and nothing this device could read before is lost. alice and bob in
Chromium on the stand-in (hostile page scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice writes to bob → alice replaces her key in the options page ("Replace my
key") and publishes it from the inbox (the bio block announces the change) → alice still reads
the conversation from before → bob's encrypted reply is held until he accepts alice's new key,
and the warning says the change is signed by her previous key → alice reads the reply, and a new
conversation bob starts, encrypted to her new key → no secret reached the server or the page.
"""
from __future__ import annotations

import pytest

from pycore import inband

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import published_users, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Rotation test: hidden title"
BODY = "Before the new key. Secret marker: smaragdine-heron."
REPLY = "After the new key. Secret marker: vermilion-stoat."
LATER = "A new conversation. Secret marker: cerulean-ibex."
SECRETS = [PASSPHRASE, TITLE, BODY, REPLY, LATER, "smaragdine-heron", "vermilion-stoat", "cerulean-ibex"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], topic_id=None, first_post_id=None,
                                              old_digits=None, new_digits=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "rotation", PASSPHRASE)


def test_1_alice_writes_to_bob(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    send_new_message(alice, ["bob"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
    story.first_post_id = srv.posts(story.topic_id)[0]["id"]
    bob.to_forum(f"/t/{story.topic_id}")
    assert "smaragdine-heron" in bob.read_viewer(story.first_post_id)["body"]


def test_2_alice_replaces_her_key_and_publishes_it(users, srv, story):
    alice = users["alice"]
    alice.ext_page("ui/options.html")
    b = alice.b
    b.wait_css("#sec-replace", what="alice: the replace section (unlocked)")
    story.old_digits = b.q("#fingerprint").text
    b.type_into("#replace-pass", PASSPHRASE)
    assert b.q("#replace-btn").get_attribute("disabled") is not None   # armed only by typing REPLACE
    b.type_into("#replace-confirm", "REPLACE")
    b.click("#replace-btn")
    wait_until(lambda: b.q("#replace-msg").get_attribute("data-state") == "replaced", timeout=120,
               what="alice: key replaced")
    story.new_digits = alice.call("engine.status")["digits"]
    assert story.new_digits != story.old_digits and story.new_digits in b.q("#replace-msg").text
    wait_until(lambda: b.q("#fingerprint").text == story.new_digits, timeout=10, what="the new fingerprint shown")
    # publish from the inbox: the block carries the change, signed by the old key
    alice.to_forum("/")
    assert alice.inbox() == "ready"
    # until then the inbox says that the profile publishes the old key, which this device replaced
    wait_until(lambda: alice.page_state("#key-state") == "other", timeout=60, what="alice: the key mismatch named")
    assert story.old_digits in b.q("#key-state").text and story.new_digits in b.q("#key-state").text
    assert b.q("#key-repair").is_displayed()
    b.click("#repair-publish-btn")
    wait_until(lambda: alice.page_state("#publish-state") == "published", timeout=90, what="alice: published")
    wait_until(lambda: alice.page_state("#key-state") == "same", timeout=60, what="alice: the published key is hers")
    assert not b.q("#key-repair").is_displayed()
    assert story.new_digits in b.q("#publish-state").text and "replaces your previous key" in b.q("#publish-state").text
    bio = srv.user("alice")["bio_raw"]
    assert bio.count(inband.KEY_BEGIN) == 1 and "Fingerprint: " + story.new_digits in bio


def test_3_alice_still_reads_what_she_could_read_before(users, story):
    alice = users["alice"]
    alice.to_forum(f"/t/{story.topic_id}")
    shown = alice.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "smaragdine-heron" in shown["body"]


def test_4_bob_accepts_the_signed_change_and_replies(users, srv, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    assert bob.click_send() == "blocked"
    warning = bob.d.find_element("css selector", '.keywarn.keychanged[data-user="alice"]').text
    assert "KEY CHANGED" in warning and "signed by their previous key" in warning and "NOT signed" not in warning
    bob.click_decision('.keywarn.keychanged[data-user="alice"] button.ack')
    wait_until(lambda: not bob.d.find_elements("css selector", ".keywarn.keychanged"), timeout=30,
               what="bob: the warning goes once accepted")
    bob.send_composer()
    assert bob.wait_topic_page() == story.topic_id
    assert len(srv.posts(story.topic_id)) == 2


def test_5_alice_reads_the_reply_and_a_conversation_to_her_new_key(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    reply_id = srv.posts(story.topic_id)[1]["id"]
    alice.to_forum(f"/t/{story.topic_id}")
    assert "vermilion-stoat" in alice.read_viewer(reply_id)["body"]
    send_new_message(bob, ["alice"], "Rotation test: second", LATER)
    second = bob.wait_topic_page()
    alice.to_forum(f"/t/{second}")
    shown = alice.read_viewer(srv.posts(second)[0]["id"])
    assert "cerulean-ibex" in shown["body"] and shown["key"] in ("first_seen", "verified")


def test_6_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    for name in ("alice", "bob"):
        loot = users[name].hostile_loot()
        for s in ("smaragdine", "vermilion", "cerulean", TITLE, PASSPHRASE):
            assert s not in loot, f"{name}'s page scripts saw {s!r}"
