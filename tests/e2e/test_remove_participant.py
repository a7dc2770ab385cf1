"""Removing a participant for real: alice, bob and carol in Chromium on the Discourse stand-in
(hostile page scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice writes to bob and carol, carol answers → alice (trust level 2: Discourse lets
a PM's creator remove others from that level) first removes carol with Discourse's own button,
which changes no key: her viewer warns that carol still holds it → alice removes carol with the
extension: a key change (rekey post) for alice and bob (Discourse has nothing left to remove) →
bob's viewer says who removed whom; bob and alice go on with the new key → the server, hostile,
gives carol the topic again: her extension reads the history she had, says that alice removed
her, and shows the new posts as not readable by her; alice is told that carol is in the topic
without the key → carol cannot write into the conversation any more, and her text is kept → bob
(trust level 1, not the creator) removes alice: the key changes, Discourse refuses the removal,
and bob's composer says so → no secret reached the server or the page scripts.
"""
from __future__ import annotations

import pytest

from pycore import inband

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import (assert_no_secret_leaked, browsers, enable_and_publish, import_vector, launch_chromium,
                    send_new_message, story_fixtures)

pytestmark = pytest.mark.e2e

CAROL_PASSPHRASE = "carol's passphrase for the removal story"
TITLE = "Removal story: the hidden title"
BODY = "For bob and carol. Secret marker: saffron-pelican."
CAROL_REPLY = "carol was here: cobalt-lynx."
AFTER = "Now that carol is gone: ultramarine-okapi."
ALICE_AFTER = "Agreed, only us two now: vermilion-tapir."
CAROL_TRY = "let me read again: ochre-marmot."
SECRETS = [PASSPHRASE, CAROL_PASSPHRASE, TITLE, BODY, "saffron-pelican", "cobalt-lynx", "ultramarine-okapi",
           "vermilion-tapir", "ochre-marmot", "hidden title"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob", "carol"], topic_id=None,
                                              first_post_id=None, carol_post_id=None, rekey_post_id=None,
                                              after_post_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    with browsers(request) as started:
        out = {}
        for i, name in enumerate(("alice", "bob", "carol")):
            u = launch_chromium(started, ext_dir, tmp_path_factory, srv, f"remove-{name}", name)
            if i < 2:
                import_vector(u, i, PASSPHRASE)
            else:
                u.ext_page("ui/options.html")
                u.b.engine_ready()
                u.call("identity.create", {"passphrase": CAROL_PASSPHRASE}, timeout=240)
            enable_and_publish(u)
            out[name] = u
        srv.set_trust_level("alice", 2)
        yield out


def _open_removal(u, removable):
    """Opens the composer's removal from the topic page; waits for the members it offers."""
    u.click_page(".efd-remove")
    u.composer()
    wait_until(lambda: [o.get_attribute("value") for o in u.d.find_elements("css selector", "#removee option")]
               == removable, timeout=60, what=f"{u.username}: the participants offered for removal: {removable}")


def _reply(u, text):
    u.click_page(".efd-reply")
    u.composer()
    u.type("#body", text)
    u.send_composer()
    return u.wait_topic_page()


def test_1_alice_writes_to_bob_and_carol_who_answers(users, srv, story):
    alice, carol = users["alice"], users["carol"]
    send_new_message(alice, ["bob", "carol"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
    story.first_post_id = srv.posts(story.topic_id)[0]["id"]
    carol.to_forum(f"/t/{story.topic_id}")
    assert "saffron-pelican" in carol.read_viewer(story.first_post_id)["body"]
    assert _reply(carol, CAROL_REPLY) == story.topic_id
    story.carol_post_id = srv.posts(story.topic_id)[-1]["id"]


def test_1b_discourse_s_own_removal_changes_no_key_and_alice_is_told(users, srv, story):
    alice = users["alice"]
    alice.to_forum(f"/t/{story.topic_id}")
    assert "cobalt-lynx" in alice.read_viewer(story.carol_post_id)["body"]
    assert "still hold its key" not in alice.read_viewer(story.first_post_id)["warnings"]
    alice.d.switch_to.default_content()
    remove = alice.d.find_element("xpath", "//*[contains(@class,'private-message-map')]//*[contains(@class,'user')]"
                                           "[.//*[@class='username' and text()='carol']]//button[contains(@class,'remove-invited')]")
    remove.click()
    wait_until(lambda: "carol" not in srv.topic(story.topic_id)["allowed_usernames"], timeout=30,
               what="Discourse to remove carol from the PM")
    alice.to_forum(f"/t/{story.topic_id}")
    warning = alice.read_viewer(story.first_post_id)["warnings"]
    assert "carol no longer take part in this conversation on the forum, but still hold its key" in warning


def test_2_alice_removes_carol_with_a_key_change(users, srv, story):
    alice = users["alice"]
    alice.to_forum(f"/t/{story.topic_id}")
    _open_removal(alice, ["bob", "carol"])
    alice.d.find_element("css selector", "#removee option[value='carol']").click()
    assert "carol" in alice.d.find_element("css selector", "#conversation-participants").text
    alice.send_composer()
    assert alice.wait_topic_page() == story.topic_id
    topic = srv.topic(story.topic_id)
    assert "carol" not in topic["allowed_usernames"] and "bob" in topic["allowed_usernames"]
    posts = [p for p in srv.posts(story.topic_id) if p["raw"]]
    rekey = posts[-1]
    assert "still hold its key" not in alice.read_viewer(story.first_post_id)["warnings"]
    assert rekey["raw"].startswith(inband.REKEY_HINT) and rekey["user_id"] == srv.user("alice")["id"]
    assert inband.envelope_epoch(rekey["raw"]) == 1
    story.rekey_post_id = rekey["id"]
    shown = alice.read_viewer(story.rekey_post_id)
    assert "removed carol" in shown["content"] and "alice, bob" in shown["content"]


def test_3_bob_sees_who_removed_whom_and_the_two_go_on_with_the_new_key(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    shown = bob.read_viewer(story.rekey_post_id)
    assert "alice changed the conversation's key and removed carol" in shown["content"]
    assert "cobalt-lynx" in bob.read_viewer(story.carol_post_id)["body"]   # the history stays
    assert _reply(bob, AFTER) == story.topic_id
    after = srv.posts(story.topic_id)[-1]
    assert inband.envelope_epoch(after["raw"]) == 1
    story.after_post_id = after["id"]
    alice.to_forum(f"/t/{story.topic_id}")
    assert "ultramarine-okapi" in alice.read_viewer(story.after_post_id)["body"]
    assert _reply(alice, ALICE_AFTER) == story.topic_id
    assert inband.envelope_epoch(srv.posts(story.topic_id)[-1]["raw"]) == 1


def test_4_given_the_topic_by_a_hostile_server_carol_reads_nothing_new(users, srv, story):
    alice, carol = users["alice"], users["carol"]
    srv.add_allowed_user(story.topic_id, "carol")
    carol.to_forum(f"/t/{story.topic_id}")
    assert "saffron-pelican" in carol.read_viewer(story.first_post_id)["body"]
    assert "cobalt-lynx" in carol.read_viewer(story.carol_post_id)["body"]
    notice = carol.read_viewer(story.rekey_post_id)
    assert "alice removed you from this conversation" in notice["content"]
    for post in srv.posts(story.topic_id):
        if post["raw"] and inband.envelope_epoch(post["raw"]) == 1 and post["id"] != story.rekey_post_id:
            # the post stream renders the posts near the viewport
            carol.d.execute_script(f"document.querySelector('#post_{post['post_number']}').scrollIntoView()")
            shown = carol.read_viewer(post["id"], want=("key_not_given",))
            assert shown["body"] is None and "not given to you" in shown["head"]
    # her encrypted inbox says who removed her
    carol.inbox()
    wait_until(lambda: [e.text for e in carol.d.find_elements("css selector", "#conversations .removed-mark")]
               == ["removed by alice"], timeout=60, what="carol's inbox to mark the conversation she was removed from")
    # alice is told that the forum gave carol the topic without the key
    alice.to_forum(f"/t/{story.topic_id}")
    assert "carol" in alice.read_viewer(story.first_post_id)["warnings"]


def test_5_carol_cannot_write_into_the_conversation_and_keeps_her_text(users, srv, story):
    carol = users["carol"]
    before = len(srv.posts(story.topic_id))
    carol.to_forum(f"/t/{story.topic_id}")
    carol.click_page(".efd-reply")
    carol.composer()
    carol.type("#body", CAROL_TRY)
    assert carol.click_send(states=("error", "blocked")) == "error"
    assert "alice removed you from this conversation" in carol.d.find_element("css selector", "#status").text
    assert carol.d.find_element("css selector", "#body").get_attribute("value") == CAROL_TRY
    assert len(srv.posts(story.topic_id)) == before
    carol.d.switch_to.default_content()


def test_6_where_discourse_refuses_the_removal_the_key_change_stands_and_the_composer_says_so(users, srv, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    _open_removal(bob, ["alice"])   # carol is gone
    bob.d.switch_to.default_content()
    bob.d.execute_script("window.__efdTestBeforeSend = true")
    bob.composer()
    bob.click_decision("#send-btn")
    state = bob.wait_composer(("sent", "error", "blocked"))
    text = bob.d.find_element("css selector", "#status").text
    assert state == "sent" and "alice cannot read what is written from now on" in text, text
    assert "did not remove them" in text
    bob.d.switch_to.default_content()
    assert "alice" in srv.topic(story.topic_id)["allowed_usernames"]
    last = [p for p in srv.posts(story.topic_id) if p["raw"]][-1]
    assert last["raw"].startswith(inband.REKEY_HINT) and inband.envelope_epoch(last["raw"]) == 2


def test_7_no_secret_reached_the_server_or_the_page_scripts(users, srv, oracle):
    assert_no_secret_leaked(oracle, srv, list(users.values()),
                            ("saffron-pelican", "cobalt-lynx", "ultramarine-okapi", "vermilion-tapir", "ochre-marmot",
                             TITLE))
