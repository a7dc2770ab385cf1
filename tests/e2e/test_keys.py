"""Keys in real browsers: safety codes and QR codes agree on both sides, "mark verified" shows in
the viewer, a recipient without a published key is refused by name, and a key change blocks an
encrypted reply until acknowledged. Stand-in with hostile scripts, leak oracle on."""
from __future__ import annotations

import re

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, published_users, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Keys test: hidden title"
BODY = "Keys test body with secret marker cobalt-pelican."
REPLY_BLOCKED = "Blocked reply with secret marker saffron-otter."
SECRETS = [PASSPHRASE, TITLE, BODY, REPLY_BLOCKED, "cobalt-pelican", "saffron-otter", "hidden title",
           "carol has no key"]


story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob", "carol"])


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "keys", PASSPHRASE)


def _safety(u: ForumUser, other: str) -> dict:
    u.inbox()
    u.type("#lookup-user", other)
    u.b.click("#lookup-btn")
    wait_until(lambda: u.d.find_element("css selector", "#safety").is_displayed(), timeout=30,
               what=f"{u.username}: safety code with {other}")
    return {"code": u.d.find_element("css selector", "#safety-code").text,
            "qr": u.d.find_element("css selector", "#safety-qr").get_attribute("src"),
            "verified": u.d.find_element("css selector", "#safety").get_attribute("data-verified")}


def test_safety_codes_and_qr_agree_and_mark_verified(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    a, b = _safety(alice, "bob"), _safety(bob, "alice")
    assert re.fullmatch(r"(\d{5} \d{5} \d{5} \d{5}\n){2}\d{5} \d{5} \d{5} \d{5}", a["code"]), a["code"]
    assert a["code"] == b["code"]
    assert a["qr"].startswith("data:image/") and a["qr"] == b["qr"]
    assert a["verified"] == "0"
    # Alice marks bob verified; bob's posts then show "verified" in alice's viewer.
    alice.b.click("#verify-btn")
    wait_until(lambda: alice.d.find_element("css selector", "#safety").get_attribute("data-verified") == "1",
               timeout=30, what="alice: bob marked verified")
    # Bob writes from alice's profile page: the composer opens with alice as the recipient.
    bob.to_forum("/u/alice")
    bob.click_page(".efd-message-user")
    bob.composer()
    assert [e.get_attribute("data-user") for e in bob.d.find_elements("css selector", "#chips [data-user]")] == ["alice"]
    bob.type("#title", TITLE)
    bob.type("#body", BODY)
    bob.send_composer()
    story.topic_id = bob.wait_topic_page()
    story.first_post_id = srv.posts(story.topic_id)[0]["id"]
    alice.to_forum(f"/t/{story.topic_id}")
    shown = alice.read_viewer(story.first_post_id)
    assert shown["key"] == "verified" and shown["title"] == TITLE
    # Bob sees his own post signed with his own key.
    assert bob.read_viewer(story.first_post_id)["key"] == "own"


def test_recipient_without_a_key_is_refused_by_name(users, srv):
    alice = users["alice"]
    n = len(srv.topics())
    send_new_message(alice, ["carol"], "To carol", "carol has no key", send=False)
    assert alice.click_send() == "blocked"
    warn = alice.d.find_element("css selector", '.nokey[data-user="carol"]').text
    assert "carol" in warn and "no" in warn.lower()
    assert len(srv.topics()) == n


def test_key_change_blocks_an_encrypted_reply_until_acknowledged(users, srv, story):
    alice = users["alice"]
    # The server serves alice a different key for bob (alice's own key stands in for "mallory").
    srv.serve_bio_to("alice", "bob", srv.user("alice")["bio_raw"])
    try:
        alice.to_forum(f"/t/{story.topic_id}")
        assert alice.read_viewer(story.first_post_id)["key"] == "key_changed"
        alice.click_page(".efd-reply")
        alice.composer()
        alice.type("#body", REPLY_BLOCKED)
        n_posts = len(srv.posts(story.topic_id))
        assert alice.click_send(("blocked", "error", "sent")) == "blocked"
        box = alice.d.find_element("css selector", '.keychanged[data-user="bob"]')
        assert "KEY CHANGED" in box.text and "NOT signed" in box.text
        assert len(srv.posts(story.topic_id)) == n_posts
        alice.click_decision('.keychanged[data-user="bob"] button.ack')
        wait_until(lambda: not alice.d.find_elements("css selector", ".keychanged"), timeout=30, what="warning gone")
        alice.send_composer()
        alice.wait_topic_page()
        assert len(srv.posts(story.topic_id)) == n_posts + 1
        # After acknowledging an unsigned change, bob is no longer "verified".
        assert alice.read_viewer(story.first_post_id)["key"] == "first_seen"
    finally:
        srv.serve_bio_to("alice", "bob", None)


def test_no_secret_reached_the_server(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
