"""A forum whose profiles are managed by single sign-on ignores bio edits (DiscourseConnect with
discourse_connect_overrides_bio): publishing says so, and two users exchange keys by PM, then talk
encrypted. alice and bob in Chromium (hostile page scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: both try to publish → "not published", the bio unchanged → alice's composer names
bob as without a key and offers the exchange → alice sends it → bob opens the PM: his extension
pins alice's key and answers with his → alice opens the PM: her extension pins bob's key → alice
sends bob an encrypted message, bob reads it and replies → no secret reached the server.
"""
from __future__ import annotations

import pytest

from pycore import inband

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, browsers, import_vector, launch_chromium, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Key exchange test: hidden title"
BODY = "Keys came by PM. Secret marker: indigo-marmot."
REPLY = "And back. Secret marker: saffron-ibis."
SECRETS = [PASSPHRASE, TITLE, BODY, REPLY, "indigo-marmot", "saffron-ibis"]
SSO = {"enable_discourse_connect": True, "discourse_connect_overrides_bio": True}

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], settings=SSO, exchange_topic=None,
                                              topic_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    with browsers(request) as started:
        out = {}
        for i, name in enumerate(("alice", "bob")):
            u = launch_chromium(started, ext_dir, tmp_path_factory, srv, f"sso-{name}", name)
            import_vector(u, i, PASSPHRASE)
            out[name] = u
        yield out


def try_to_publish(u: ForumUser):
    u.call("site.enable", {"origin": u.srv.origin})
    u.to_forum("/")
    assert u.inbox() == "ready"
    before = u.srv.user(u.username)["bio_raw"]
    u.b.click("#publish-btn")
    wait_until(lambda: u.page_state("#publish-state") in ("published", "not_saved"), timeout=90,
               what=f"{u.username}: publishing answered")
    return before


def test_1_publishing_says_plainly_that_the_forum_kept_the_old_bio(users, srv):
    for u in users.values():
        before = try_to_publish(u)
        assert u.page_state("#publish-state") == "not_saved"
        text = u.d.find_element("css selector", "#publish-state").text
        assert "did not save your key" in text and "private message" in text
        assert srv.user(u.username)["bio_raw"] == before and inband.KEY_BEGIN not in (before or "")


def test_2_alice_offers_bob_a_key_exchange(users, srv, story):
    alice = users["alice"]
    send_new_message(alice, ["bob"], TITLE, BODY, send=False)
    assert alice.click_send() == "blocked"
    box = alice.d.find_element("css selector", '.keywarn.nokey[data-user="bob"]')
    assert "has not published" in box.text
    n = len(srv.topics())
    box.find_element("css selector", "button.ask-key").click()
    wait_until(lambda: len(srv.topics()) == n + 1, timeout=60, what="the key-exchange PM")
    topic = srv.topics()[-1]
    assert topic["title"] == inband.KEY_EXCHANGE_TITLE
    first = srv.posts(topic["id"])[0]["raw"]
    assert inband.KEY_BEGIN in first and inband.MSG_BEGIN not in first
    story.exchange_topic = topic["id"]


def test_3_bob_s_extension_takes_alice_s_key_and_answers(users, srv, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.exchange_topic}")
    shown = bob.read_viewer(srv.posts(story.exchange_topic)[0]["id"], want=("key_exchange",))
    assert "alice's encryption key" in shown["content"] and "sent back" in shown["content"]
    wait_until(lambda: len(srv.posts(story.exchange_topic)) == 2, timeout=60, what="bob's answer")
    answer = srv.posts(story.exchange_topic)[1]
    assert answer["user_id"] == srv.user("bob")["id"] and inband.KEY_BEGIN in answer["raw"]
    assert bob.call("keys.check", {"origin": srv.origin, "username": "alice",
                                   "bio_raw": srv.user("alice")["bio_raw"]})["status"] == "first_seen"


def test_4_alice_takes_bob_s_answer_and_writes_encrypted(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    alice.to_forum(f"/t/{story.exchange_topic}")
    shown = alice.read_viewer(srv.posts(story.exchange_topic)[1]["id"], want=("key_exchange",))
    assert "bob's encryption key" in shown["content"]
    assert len(srv.posts(story.exchange_topic)) == 2           # alice had sent hers: no second answer
    send_new_message(alice, ["bob"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
    first = srv.posts(story.topic_id)[0]
    assert inband.MSG_BEGIN in first["raw"] and "indigo-marmot" not in first["raw"]
    bob.to_forum(f"/t/{story.topic_id}")
    read = bob.read_viewer(first["id"])
    assert read["title"] == TITLE and "indigo-marmot" in read["body"]
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    bob.send_composer()
    assert bob.wait_topic_page() == story.topic_id
    alice.to_forum(f"/t/{story.topic_id}")
    assert "saffron-ibis" in alice.read_viewer(srv.posts(story.topic_id)[1]["id"])["body"]


def test_5_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    for name in ("alice", "bob"):
        loot = users[name].hostile_loot()
        for s in ("indigo-marmot", "saffron-ibis", TITLE, PASSPHRASE):
            assert s not in loot, f"{name}'s page scripts saw {s!r}"
